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


class EnergyMLP(nn.Module):
    """A scalar function of x, or of (x, t) when `time_embedding` > 0: (N, D) -> (N,).

    Time-independent, it is the energy E(x) (and, in the shared variant, the value too);
    time-conditioned, it is the value V(x, t) of the separate variant, t the chain index.
    `fourier_features` > 0 feeds x through `FourierFeatures` of that many frequencies first.
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
    ):
        super().__init__()
        self.embed = SinusoidalEmbedding(time_embedding) if time_embedding else None
        self.fourier = (
            FourierFeatures(dim, fourier_features, fourier_scale) if fourier_features else None
        )
        self.net = _mlp(dim + 2 * fourier_features + time_embedding, 1, hidden, layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        if self.fourier is not None:
            x = self.fourier(x)
        if self.embed is not None:
            if t is None:
                raise ValueError("this network is time-conditioned: pass t")
            x = torch.cat([x, self.embed(t)], dim=1)
        return self.net(x)[:, 0]
