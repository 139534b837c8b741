"""IGEBM-style convolutional energy / value network for images (method notes, section 5).

3x3 conv stem, residual blocks with LeakyReLU(0.2) and no normalisation, 2x average pooling
between stages, spatial sum pooling and a linear head with a learnable output scale. With
`time_embedding` > 0 it is the time-conditioned value V(x, t) of the separate variant: the
embedded chain index is added to every block as a per-channel bias. With `num_classes` > 0 it
is class-conditional through Bayes' rule, E(x, y) = E(x) - c log p(y | x), p(y | x) a softmax
classifier trained by cross-entropy on the data and c = `class_weight`: on a conv trunk of its
own (`class_head="separate_classifier"`, the default, so that learning the classes does not
reshape the energy's features), on the energy's pooled features h (`"classifier"`, JEM,
Grathwohl et al. 2020), or through a projection head (`"projection"`, Miyato & Koyama 2018):
E(x, y) = w . h(x) + embed(y) . h(x). With
`base_weight` > 0 a fixed Gaussian energy of the training images' pixels
(`networks.mlp.GaussianBase`, fitted by `mlp.fit_bases`) is added: the conv net then learns the
data's departure from it (docs/results/anomaly.md).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dxmi.networks.mlp import GaussianBase, SinusoidalEmbedding


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.emb = nn.Linear(emb_dim, c_out) if emb_dim else None

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(x, 0.2))
        if self.emb is not None and emb is not None:
            h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.leaky_relu(h, 0.2))
        return self.skip(x) + h


CLASS_HEADS = ("projection", "classifier", "separate_classifier")


class _Features(nn.Module):
    """A conv trunk like the energy's (stem, residual blocks, pooling), for a separate
    classifier: pooled features (N, channels[-1])."""

    def __init__(self, in_channels: int, channels: list[int], downsample_after) -> None:
        super().__init__()
        _add_trunk(self, in_channels, channels, downsample_after, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _pooled_features(self, x, None)


def _add_trunk(net: nn.Module, in_channels: int, channels: list[int], downsample_after, emb: int):
    """Give `net` the trunk `_pooled_features` runs: a 3x3 stem, one residual block per width
    (time-embedding size `emb`, 0 for none) and the blocks after which to pool."""
    net.stem = nn.Conv2d(in_channels, channels[0], 3, padding=1)
    widths = [channels[0], *channels]
    net.blocks = nn.ModuleList(_ResBlock(a, b, emb) for a, b in zip(widths[:-1], widths[1:]))
    net.downsample_after = set(downsample_after)


def _pooled_features(net: nn.Module, x: torch.Tensor, emb: torch.Tensor | None) -> torch.Tensor:
    """The trunk of `net` (its `stem`, `blocks` and `downsample_after`), spatially sum-pooled:
    shared by the energy and the separate classifier, which keep their own weights."""
    h = net.stem(x)
    for i, block in enumerate(net.blocks):
        h = block(h, emb)
        if i in net.downsample_after and min(h.shape[-2:]) >= 2:
            h = F.avg_pool2d(h, 2, ceil_mode=True)
    return F.leaky_relu(h, 0.2).sum(dim=(2, 3))


class ConvEnergy(nn.Module):
    """A scalar function of images (N, C, H, W) -> (N,), or of (x, t) with a time embedding.

    `channels` lists each residual block's width; a 2x average pool follows every block whose
    index is in `downsample_after` while the map is larger than 1x1. The reference IGEBM uses
    128-128-256-256-256-256 (about 5M parameters); small data wants much less.
    """

    def __init__(
        self,
        in_channels: int,
        channels: list[int],
        *,
        downsample_after: tuple[int, ...] = (0, 1, 2),
        time_embedding: int = 0,
        num_classes: int = 0,
        class_head: str = "separate_classifier",
        class_weight: float = 0.3,
        pixels: int = 0,
        base_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if class_head not in CLASS_HEADS:
            raise ValueError(f"class_head must be one of {CLASS_HEADS}, got {class_head!r}")
        self.num_classes = num_classes or None  # read by the trainer: pass labels or not
        self.class_head = class_head if num_classes else None
        # Bayes' rule heads: labels optional, the trainer adds the classifier's cross-entropy
        self.bayes_head = bool(num_classes) and class_head != "projection"
        self.class_weight = class_weight
        self.class_embed = None  # projection: embed(y) . h; classifier: the logits W h
        self.class_trunk = None  # separate_classifier: the classifier's own features
        if num_classes and class_head == "projection":
            self.class_embed = nn.Embedding(num_classes, channels[-1])
        elif num_classes:
            self.class_embed = nn.Linear(channels[-1], num_classes)
        if num_classes and class_head == "separate_classifier":
            self.class_trunk = _Features(in_channels, channels, downsample_after)
        self.embed = SinusoidalEmbedding(time_embedding) if time_embedding else None
        _add_trunk(self, in_channels, channels, downsample_after, time_embedding)
        self.head = nn.Linear(channels[-1], 1)
        self.scale = nn.Parameter(torch.ones(()))
        if base_weight > 0 and pixels <= 0:
            raise ValueError("a Gaussian base needs the images' size: pass pixels = C * H * W")
        self.base = GaussianBase(pixels, base_weight) if base_weight > 0 else None

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        logits: bool = False,
    ):
        """E(x) (N,), or E(x, y) with `labels`; with `logits` (classifier head) also the class
        logits (N, classes), from the same pass. The classifier head's E(x) without labels is
        the marginal energy, which the contrastive step trains."""
        if self.bayes_head:
            if logits and labels is not None:
                raise ValueError("logits=True returns the marginal energy: pass no labels")
        elif (labels is None) != (self.class_embed is None):
            raise ValueError("pass labels exactly when the network is class-conditional")
        if logits and not self.bayes_head:
            raise ValueError("logits=True needs the classifier class head")
        emb = None
        if self.embed is not None:
            if t is None:
                raise ValueError("this network is time-conditioned: pass t")
            emb = self.embed(t)
        h = _pooled_features(self, x, emb)
        out = self.head(h)[:, 0]
        if self.class_head == "projection":
            out = out + (self.class_embed(labels) * h).sum(dim=1)
        out = out * self.scale
        out = out if self.base is None else out + self.base(x)
        if not self.bayes_head or (labels is None and not logits):
            return out  # the marginal: no classifier pass (its own trunk costs a second one)
        class_logits = self.class_embed(h if self.class_trunk is None else self.class_trunk(x))
        if labels is not None:  # Bayes: E(x, y) = E(x) - c log p(y | x), up to log p(y)
            nll = F.cross_entropy(class_logits.float(), labels, reduction="none")
            out = out + self.class_weight * nll.to(out.dtype)
        return (out, class_logits) if logits else out
