"""The course notes' GoogLeNet in PyTorch (GgN_01_Model.py), used as the oracle in tests and as the
PyTorch side of benchmarks. Kept as the notes wrote it: BasicConv2d = conv + ReLU, branch3 5x5,
ceil-mode max-pools, aux heads AvgPool2d(5, 3) -> 1x1 conv -> fc 2048 -> 1024 -> classes.
One addition, documented in the TypeScript library too: at input sizes where AvgPool2d(5, 3) does not
give 4x4, `adaptive_aux=True` pools the aux input adaptively to 4x4 (torchvision's way)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicConv2d(nn.Module):
    def __init__(self, input_channels, output_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(input_channels, output_channels, **kwargs)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv(x))


class Inception(nn.Module):
    def __init__(self, input_channels, conv1x1, conv3x3reduce, conv3x3, conv5x5reduce, conv5x5, pool_conv1x1):
        super().__init__()
        self.branch1 = BasicConv2d(input_channels, conv1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(input_channels, conv3x3reduce, kernel_size=1),
            BasicConv2d(conv3x3reduce, conv3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(
            BasicConv2d(input_channels, conv5x5reduce, kernel_size=1),
            BasicConv2d(conv5x5reduce, conv5x5, kernel_size=5, padding=2))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
            BasicConv2d(input_channels, pool_conv1x1, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, in_channels, num_classes, adaptive=False):
        super().__init__()
        self.adaptive = adaptive
        self.averagePool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        if self.adaptive:
            x = F.adaptive_avg_pool2d(x, (4, 4))
        else:
            x = self.averagePool(x)
        x = self.conv(x)
        x = torch.flatten(x, 1)
        x = F.dropout(x, 0.5, training=self.training)
        x = F.relu(self.fc1(x), inplace=True)
        x = F.dropout(x, 0.5, training=self.training)
        return self.fc2(x)


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=1000, aux_logits=True, image_size=224):
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if self.aux_logits:
            adaptive = not fixed_aux_pool_fits(image_size)
            self.aux1 = InceptionAux(512, num_classes, adaptive)
            self.aux2 = InceptionAux(528, num_classes, adaptive)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        if self.training and self.aux_logits:
            aux1 = self.aux1(x)
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        if self.training and self.aux_logits:
            aux2 = self.aux2(x)
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = torch.flatten(self.avgpool(x), 1)
        x = self.fc(self.dropout(x))
        if self.training and self.aux_logits:
            return x, aux2, aux1
        return x


def fixed_aux_pool_fits(image_size):
    """True where AvgPool2d(5, 3) on inception4a's map gives 4x4 (e.g. 224 px -> 14x14 -> 4x4)."""
    s = image_size
    s = (s + 2 * 3 - 7) // 2 + 1  # conv1
    for _ in range(3):  # maxpool1-3, ceil mode
        s = -(-(s - 3) // 2) + 1
    return (s - 5) // 3 + 1 == 4
