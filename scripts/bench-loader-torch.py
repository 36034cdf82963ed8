#!/usr/bin/python3
"""The course notes' training input pipeline in torchvision, timed: ImageFolder + RandomResizedCrop(224)
+ RandomHorizontalFlip + ToTensor + Normalize(0.5, 0.5), DataLoader(batch_size=32, shuffle=True,
num_workers=0). Prints one JSON line: {"imagesPerSec": ..., "cpuMsPerImage": ..., "images": ..., "seconds": ...}
(CPU time of the whole process, every thread, per timed image).

Usage: /usr/bin/python3 scripts/bench-loader-torch.py FOLDER [--batch-size 32] [--image-size 224]
FOLDER is an ImageFolder (<class>/*.jpg), or a split root whose train/ is used, as benchLoader does.
Run with /usr/bin/python3: Debian's python3-torchvision is installed there.
"""
import argparse
import json
import os
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--warmup", type=int, default=32, help="untimed images first (file cache, imports)")
    a = p.parse_args()
    root = os.path.join(a.folder, "train") if os.path.isdir(os.path.join(a.folder, "train")) else a.folder
    torch.manual_seed(0)
    tf = transforms.Compose([
        transforms.RandomResizedCrop(a.image_size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ])
    ds = datasets.ImageFolder(root=root, transform=tf)
    loader = DataLoader(ds, batch_size=a.batch_size, shuffle=True, num_workers=0)
    seen = 0
    for x, y in loader:
        seen += x.shape[0]
        if seen >= a.warmup:
            break
    images = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for x, y in loader:
        images += x.shape[0]
    cpu = time.process_time() - c0
    seconds = time.perf_counter() - t0
    print(json.dumps({"imagesPerSec": images / seconds, "cpuMsPerImage": cpu * 1000 / images, "images": images, "seconds": seconds}))


if __name__ == "__main__":
    main()
