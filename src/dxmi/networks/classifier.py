"""A small CNN classifier whose penultimate layer is the feature space of image metrics.

FID needs a fixed feature network. Inception weights cannot be downloaded on every machine, so
for MNIST dxmi trains this CNN once on the 5k digits with a fixed seed and ships its weights
(``dxmi/assets/mnist_features.*``, made by ``benchmarks/train_feature_net.py``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class FeatureCNN(nn.Module):
    """Three conv stages (width, 2 width, 4 width) with 2x pooling, global average pooling and a
    linear layer to `num_features` features; `classify` adds the class head."""

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 10,
        width: int = 32,
        num_features: int = 128,
        input_size: int = 28,
    ) -> None:
        super().__init__()
        w = [width, 2 * width, 4 * width]
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(in_channels, w[0], 3, padding=1),
                nn.Conv2d(w[0], w[1], 3, padding=1),
                nn.Conv2d(w[1], w[2], 3, padding=1),
            ]
        )
        self.proj = nn.Linear(w[2], num_features)
        self.head = nn.Linear(num_features, n_classes)
        self.num_features = num_features  # read by torchmetrics' FID / KID
        self.input_size = input_size  # the image size it was trained on
        self.hparams = dict(
            in_channels=in_channels,
            n_classes=n_classes,
            width=width,
            num_features=num_features,
            input_size=input_size,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (N, num_features) of images in [-1, 1]."""
        h = x
        for i, conv in enumerate(self.convs):
            h = F.relu(conv(h))
            if i < len(self.convs) - 1 and min(h.shape[-2:]) >= 2:
                h = F.max_pool2d(h, 2)
        return F.relu(self.proj(h.mean(dim=(2, 3))))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self(x))
