"""Multilayer perceptrons for point data: the epsilon network and the energy / value network."""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    """Transformer-style features of a scalar time, shape (N,) -> (N, dim)."""

    def __init__(self, dim: int, max_period: float = 10000.0) -> None:
        super().__init__()
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t.float()[:, None] * self.freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
        if self.dim % 2:
            emb = torch.nn.functional.pad(emb, (0, 1))
        return emb


def _mlp(in_dim: int, out_dim: int, hidden: int, layers: int) -> nn.Sequential:
    dims = [in_dim] + [hidden] * layers
    blocks: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        blocks += [nn.Linear(a, b), nn.SiLU()]
    blocks.append(nn.Linear(dims[-1], out_dim))
    return nn.Sequential(*blocks)


class FourierFeatures(nn.Module):
    """x -> [x, sin(xB), cos(xB)] with a fixed Gaussian B of std `scale`: (N, D) -> (N, D + 2F).

    A plain MLP on low-dimensional coordinates learns high-frequency functions slowly (spectral
    bias; Tancik et al. 2020, "Fourier Features Let Networks Learn High Frequency Functions").
    An energy on 2D points that must tell eight modes on a ring from the ring itself is such a
    function. B is a buffer, saved with the weights; its draw uses its own fixed seed so two
    networks built alike share it.
    """

    def __init__(self, dim: int, features: int, scale: float, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("B", torch.randn(dim, features, generator=gen) * scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.B
        return torch.cat([x, torch.sin(z), torch.cos(z)], dim=1)


class EpsilonMLP(nn.Module):
    """Predicts the noise in x_t at diffusion timestep t: (N, D), (N,) -> (N, D).

    `fourier_features` > 0 feeds x_t through `FourierFeatures` first: without them a coordinate
    MLP denoises thin 2D structure (spiral arms, checkerboard squares) into a blob
    (docs/results/point-teacher.md).
    """

    def __init__(
        self,
        dim: int,
        *,
        hidden: int = 256,
        layers: int = 3,
        time_embedding: int = 64,
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
    ):
        super().__init__()
        self.embed = SinusoidalEmbedding(time_embedding)
        self.fourier = (
            FourierFeatures(dim, fourier_features, fourier_scale) if fourier_features else None
        )
        self.net = _mlp(dim + 2 * fourier_features + time_embedding, dim, hidden, layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.fourier(x) if self.fourier is not None else x
        return self.net(torch.cat([h, self.embed(t)], dim=1))


class GaussianBase(nn.Module):
    """A fixed quadratic energy E0(x) = weight / 2 (x - m)^T P (x - m): a Gaussian fitted to the
    training rows (`fit`: their mean and Ledoit-Wolf shrunk precision), zero until fitted.
    Images (N, C, H, W) are read as rows of their C * H * W pixels.

    Added to a learned energy it anchors the energy's global shape from the start: far from the
    data the energy rises, whatever the MLP's random initialisation extrapolates. A contrastive
    energy learns only where the sampler's samples differ from the data, so without an anchor
    its slope along a direction neither covers is left to chance (docs/results/anomaly.md).
    `m` and `P` are buffers, saved with the weights.
    """

    def __init__(self, dim: int, weight: float) -> None:
        super().__init__()
        self.weight = float(weight)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("precision", torch.zeros(dim, dim))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        from sklearn.covariance import LedoitWolf  # shrinkage: rows can be fewer than features

        fit = LedoitWolf().fit(x.detach().flatten(1).double().cpu().numpy())
        self.mean.copy_(torch.as_tensor(fit.location_))
        self.precision.copy_(torch.as_tensor(fit.precision_))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.flatten(1) - self.mean
        return 0.5 * self.weight * ((d @ self.precision) * d).sum(dim=1)


def fit_bases(x: torch.Tensor, *nets: nn.Module | None) -> None:
    """Fit the Gaussian bases of `nets` (None and base-less nets skipped) to the training data
    x: one Ledoit-Wolf fit, its mean and precision copied to every base."""
    bases = [n.base for n in nets if getattr(n, "base", None) is not None]
    if bases:
        bases[0].fit(x)
        for other in bases[1:]:
            other.load_state_dict(bases[0].state_dict())


def base_energy(net: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """The fixed part of an energy network at x (its `GaussianBase`), None if it has none."""
    base = getattr(net, "base", None)
    return None if base is None else base(x)


class EnergyMLP(nn.Module):
    """A scalar function of x, or of (x, t) when `time_embedding` > 0: (N, D) -> (N,).

    Time-independent, it is the energy E(x) (and, in the shared variant, the value too);
    time-conditioned, it is the value V(x, t) of the separate variant, t the chain index.
    `fourier_features` > 0 feeds x through `FourierFeatures` of that many frequencies first;
    `base_weight` > 0 adds a `GaussianBase` of that weight (fitted by `fit_base`).
    """

    def __init__(
        self,
        dim: int,
        *,
        hidden: int = 128,
        layers: int = 3,
        time_embedding: int = 0,
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
        base_weight: float = 0.0,
    ):
        super().__init__()
        self.embed = SinusoidalEmbedding(time_embedding) if time_embedding else None
        self.fourier = (
            FourierFeatures(dim, fourier_features, fourier_scale) if fourier_features else None
        )
        self.net = _mlp(dim + 2 * fourier_features + time_embedding, 1, hidden, layers)
        self.base = GaussianBase(dim, base_weight) if base_weight > 0 else None

    def fit_base(self, x: torch.Tensor) -> None:
        """Fit the Gaussian base (if any) to the training rows x."""
        if self.base is not None:
            self.base.fit(x)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fourier(x) if self.fourier is not None else x
        if self.embed is not None:
            if t is None:
                raise ValueError("this network is time-conditioned: pass t")
            h = torch.cat([h, self.embed(t)], dim=1)
        out = self.net(h)[:, 0]
        return out if self.base is None else out + self.base(x)
