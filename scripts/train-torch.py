"""The course notes' train.py, as the PyTorch twin of `bin/googlenet train` for the results table:
ImageFolder + RandomResizedCrop + RandomHorizontalFlip + Normalize(0.5, 0.5), Adam 3e-4, loss
main + 0.3 aux1 + 0.3 aux2, validation accuracy per epoch, best accuracy kept. Prints one JSON line per
epoch and a final summary line. Uses Debian's python3-torch/torchvision (/usr/bin/python3).

usage: train-torch.py --data DIR [--epochs 10] [--image-size 112] [--batch-size 32] [--lr 3e-4] [--seed 0] [--threads 2]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'reference'))
from course_googlenet import GoogLeNet  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--data', required=True)
p.add_argument('--epochs', type=int, default=10)
p.add_argument('--image-size', type=int, default=112)
p.add_argument('--batch-size', type=int, default=32)
p.add_argument('--lr', type=float, default=3e-4)
p.add_argument('--seed', type=int, default=0)
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.manual_seed(a.seed)
torch.set_num_threads(a.threads)
s = a.image_size
tf = {
    'train': transforms.Compose([transforms.RandomResizedCrop(s), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                 transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]),
    'val': transforms.Compose([transforms.Resize((s, s)), transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]),
}
train_set = datasets.ImageFolder(os.path.join(a.data, 'train'), tf['train'])
val_set = datasets.ImageFolder(os.path.join(a.data, 'val'), tf['val'])
train_loader = DataLoader(train_set, batch_size=a.batch_size, shuffle=True, num_workers=0)
val_loader = DataLoader(val_set, batch_size=a.batch_size, shuffle=False, num_workers=0)
net = GoogLeNet(num_classes=len(train_set.classes), aux_logits=True, image_size=s)
loss_function = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=a.lr)
best = 0.0
for epoch in range(a.epochs):
    net.train()
    t0 = time.time()
    running, n = 0.0, 0
    for images, labels in train_loader:
        optimizer.zero_grad()
        logits, aux2, aux1 = net(images)
        loss = loss_function(logits, labels) + 0.3 * loss_function(aux1, labels) + 0.3 * loss_function(aux2, labels)
        loss.backward()
        optimizer.step()
        running += loss.item() * labels.size(0)
        n += labels.size(0)
    train_seconds = time.time() - t0
    net.eval()
    correct, val_loss = 0, 0.0
    with torch.no_grad():
        for images, labels in val_loader:
            out = net(images)
            val_loss += loss_function(out, labels).item() * labels.size(0)
            correct += (out.argmax(1) == labels).sum().item()
    acc = correct / len(val_set)
    best = max(best, acc)
    print(json.dumps({'epoch': epoch + 1, 'trainLoss': running / n, 'valLoss': val_loss / len(val_set), 'valAccuracy': acc,
                      'seconds': time.time() - t0, 'imagesPerSec': n / train_seconds}), flush=True)
print(json.dumps({'summary': True, 'bestValAccuracy': best, 'epochs': a.epochs, 'imageSize': s, 'batchSize': a.batch_size}), flush=True)
