"""PyTorch oracle for forward passes at any input size: writes a course-model state dict, a random
input batch (raw float32, NCHW) and the eval-mode outputs of the main head and both aux heads.

usage: forward_fixture.py IMAGE_SIZE NUM_CLASSES OUT_DIR"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from course_googlenet import GoogLeNet  # noqa: E402

size, classes, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
torch.manual_seed(size)
model = GoogLeNet(num_classes=classes, aux_logits=True, image_size=size)
with torch.no_grad():
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, mode='fan_in', nonlinearity='relu')
            m.bias.uniform_(-0.01, 0.01)
        elif isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, 0, (1.0 / m.in_features) ** 0.5)
model.eval()
x = torch.rand(2, 3, size, size) * 2 - 1
feats = {}
model.inception4a.register_forward_hook(lambda m, i, o: feats.__setitem__('4a', o))
model.inception4d.register_forward_hook(lambda m, i, o: feats.__setitem__('4d', o))
with torch.no_grad():
    logits = model(x)
    aux1 = model.aux1(feats['4a'])
    aux2 = model.aux2(feats['4d'])
torch.save(model.state_dict(), os.path.join(out, 'model.pth'))
x.permute(0, 2, 3, 1).contiguous().numpy().tofile(os.path.join(out, 'input.f32'))  # NHWC for tfjs
json.dump({'logits': logits.tolist(), 'aux1': aux1.tolist(), 'aux2': aux2.tolist(),
           'adaptive': model.aux1.adaptive}, open(os.path.join(out, 'expected.json'), 'w'))
