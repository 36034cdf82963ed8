"""PyTorch side of the benchmark: the course notes' GoogLeNet (test/reference/course_googlenet.py), or
with --variant torchvision torchvision's own googlenet (Debian's python3-torchvision 0.14),
aux heads on, loss main + 0.3 aux1 + 0.3 aux2, Adam 3e-4, random input; training and inference images
per second and peak RSS, as one JSON line. Debian's python3-torch, 2 threads by default.

usage: bench-torch.py [--variant course|torchvision] [--image-size 224] [--batch-size 16] [--steps 5] [--threads 2]"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'reference'))
import course_googlenet  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--variant', choices=['course', 'torchvision'], default='course')
p.add_argument('--image-size', type=int, default=224)
p.add_argument('--batch-size', type=int, default=16)
p.add_argument('--steps', type=int, default=5)
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
if a.variant == 'course':
    net = course_googlenet.GoogLeNet(num_classes=5, aux_logits=True, image_size=a.image_size)
else:
    from torchvision.models import googlenet
    net = googlenet(weights=None, aux_logits=True, init_weights=True, num_classes=5)
opt = torch.optim.Adam(net.parameters(), lr=3e-4)
ce = nn.CrossEntropyLoss()
x = torch.rand(a.batch_size, 3, a.image_size, a.image_size) * 2 - 1
y = torch.arange(a.batch_size) % 5


def step():
    opt.zero_grad()
    main, aux2, aux1 = net(x)
    loss = ce(main, y) + 0.3 * ce(aux1, y) + 0.3 * ce(aux2, y)
    loss.backward()
    opt.step()


net.train()
step()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
train_s = time.perf_counter() - t0
net.eval()
with torch.no_grad():
    net(x)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        net(x)
    eval_s = time.perf_counter() - t0
print(json.dumps({'backend': f'pytorch {torch.__version__} ({a.threads} threads)', 'variant': a.variant, 'imageSize': a.image_size, 'batchSize': a.batch_size,
                  'trainImagesPerSec': a.batch_size * a.steps / train_s, 'evalImagesPerSec': a.batch_size * a.steps / eval_s,
                  'peakRssMB': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
