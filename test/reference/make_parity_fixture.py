"""Writes a PyTorch state dict for one GoogLeNet variant in both torch file formats, two 224x224 PNGs,
and PyTorch's softmax probabilities for them, as the oracle for the import-torch/predict parity test.

Weights are chosen so that the output moves with the input (a default-initialised GoogLeNet gives
nearly the same probabilities to every image, which would hide a wrong first layer or an RGB/BGR
swap): fan-in Kaiming convs, tiny biases, BatchNorm gamma/beta randomised and running statistics
measured on the images themselves.

usage: make_parity_fixture.py VARIANT NUM_CLASSES OUT_DIR
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from course_googlenet import GoogLeNet  # noqa: E402

variant, num_classes, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(2)


def synthetic_photo(seed):
    """A smooth, colourful 224x224 picture: gradients, blobs and stripes, different per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:224, 0:224] / 224.0
    img = np.zeros((224, 224, 3))
    for c in range(3):
        a, b, f = rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(2, 9)
        img[..., c] = 0.5 + 0.25 * np.sin(f * (a * xx + b * yy) + rng.uniform(0, 6))
    for _ in range(6):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25)
        mask = ((xx - cx) ** 2 + (yy - cy) ** 2) < r * r
        img[mask] = rng.uniform(0, 1, 3)
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8), 'RGB')


if variant == 'course':
    model = GoogLeNet(num_classes=num_classes, aux_logits=True)
    mean, std = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
else:
    from torchvision.models import googlenet
    model = googlenet(weights=None, aux_logits=True, init_weights=True, num_classes=num_classes, transform_input=True)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

with torch.no_grad():
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, mode='fan_in', nonlinearity='relu')
            if m.bias is not None:
                m.bias.uniform_(-0.01, 0.01)
        elif isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, 0, (1.0 / m.in_features) ** 0.5)
            m.bias.uniform_(-0.01, 0.01)
        elif isinstance(m, torch.nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
            m.momentum = None  # cumulative average: running stats = the measured ones

images = [synthetic_photo(s) for s in (1, 2)]
paths = []
for i, im in enumerate(images):
    p = os.path.join(out, f'image{i}.png')
    im.save(p)
    paths.append(p)


def to_input(im):
    x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return ((x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]).unsqueeze(0)


batch = torch.cat([to_input(im) for im in images])
if variant == 'torchvision':
    model.train()
    with torch.no_grad():
        # Measure BN statistics on the images (and flipped copies), then freeze them.
        model(torch.cat([batch, batch.flip(3)]))
model.eval()
with torch.no_grad():
    probs = torch.softmax(model(batch), 1)
spread = (probs[0] - probs[1]).abs().max().item()
assert spread > 1e-2, f'outputs do not move with the input (max difference {spread})'

sd = model.state_dict()
torch.save(sd, os.path.join(out, 'zip.pth'))
torch.save(sd, os.path.join(out, 'legacy.pth'), _use_new_zipfile_serialization=False)
json.dump({'images': paths, 'probabilities': probs.tolist(), 'spread': spread}, open(os.path.join(out, 'expected.json'), 'w'))
print(json.dumps({'spread': spread}))
