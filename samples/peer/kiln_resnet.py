"""The PyTorch twin of samples' FashionResNet (dev.kiln.samples.FashionResNet), for the peers:
a conv3x3-BN-ReLU stem with 32 channels pooled to 14x14, a basic block with the identity
shortcut, a basic block to 64 channels on 7x7 with a 1x1 stride-2 projection shortcut and BN,
max pooling to 3x3, Dropout(0.4), Linear(576, 10). Same layers and order as the Java class."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.stemBn = nn.Conv2d(1, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32)
        self.conv1, self.bn1 = nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32)
        self.conv2, self.bn2 = nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32)
        self.conv3, self.bn3 = nn.Conv2d(32, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64)
        self.conv4, self.bn4 = nn.Conv2d(64, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64)
        self.shortcut, self.shortcutBn = nn.Conv2d(32, 64, 1, 2, bias=False), nn.BatchNorm2d(64)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(576, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stemBn(self.stem(x))), 2)
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        x = F.relu(h + x)
        h = F.relu(self.bn3(self.conv3(x)))
        h = self.bn4(self.conv4(h))
        x = F.relu(h + self.shortcutBn(self.shortcut(x)))
        x = torch.flatten(F.max_pool2d(x, 2), 1)
        return self.fc(self.dropout(x))
