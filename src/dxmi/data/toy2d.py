"""2D toy distributions, drawn reproducibly from a numpy Generator.

Each generator takes ``(n, rng)`` and returns an ``(n, 2)`` float32 array, roughly in [-4, 4]^2.
Sources: 8gaussians, 2spirals, checkerboard and rings follow FFJORD's generators (Grathwohl et
al. 2019); pinwheel the one of Johnson et al. 2016 (SVAE); moons, swissroll and circles are
scikit-learn's `make_moons`, `make_swiss_roll` (its x and z) and `make_circles`, rescaled. All
but 8gaussians need a model that learns thin structure. `eight_gaussians_log_density` is the
exact density of the 8gaussians set, used to score an EBM against the truth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.datasets import make_circles, make_moons, make_swiss_roll

# 8gaussians: centres at radius 4 in 8 directions, unit-0.5 noise, everything divided by this.
_EIGHT_SCALE = 1.414
_EIGHT_NOISE = 0.5


def _sk_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def eight_gaussians_centers() -> np.ndarray:
    """The 8 mode centres of the 8gaussians set, shape (8, 2)."""
    angles = np.arange(8) * (np.pi / 4)
    return (4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1) / _EIGHT_SCALE).astype(
        np.float32
    )


EIGHT_GAUSSIANS_STD = _EIGHT_NOISE / _EIGHT_SCALE  # per-axis std of each mode


def eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    centers = eight_gaussians_centers()
    idx = rng.integers(0, 8, size=n)
    return (centers[idx] + EIGHT_GAUSSIANS_STD * rng.standard_normal((n, 2))).astype(np.float32)


def eight_gaussians_log_density(x: np.ndarray) -> np.ndarray:
    """Exact log density of the 8gaussians set at points x of shape (N, 2)."""
    centers = eight_gaussians_centers().astype(np.float64)
    var = EIGHT_GAUSSIANS_STD**2
    sq = ((x[:, None, :] - centers[None]) ** 2).sum(-1)  # (N, 8)
    log_comp = -sq / (2 * var) - np.log(2 * np.pi * var) - np.log(8.0)
    m = log_comp.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(log_comp - m).sum(axis=1, keepdims=True)))[:, 0]


def two_spirals(n: int, rng: np.random.Generator) -> np.ndarray:
    half = n // 2
    r = np.sqrt(rng.random((n - half, 1))) * 3 * np.pi  # 540 degrees of arc
    x = -np.cos(r) * r + rng.random((n - half, 1)) * 0.5
    y = np.sin(r) * r + rng.random((n - half, 1)) * 0.5
    arm = np.hstack([x, y])
    pts = np.vstack([arm, -arm[:half]]) / 3
    pts += 0.1 * rng.standard_normal(pts.shape)
    return rng.permutation(pts).astype(np.float32)


def checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    x1 = rng.random(n) * 4 - 2
    x2 = rng.random(n) - rng.integers(0, 2, n) * 2
    x2 = x2 + np.floor(x1) % 2
    return (np.stack([x1, x2], axis=1) * 2).astype(np.float32)


def moons(n: int, rng: np.random.Generator) -> np.ndarray:
    pts, _ = make_moons(n_samples=n, noise=0.1, random_state=_sk_seed(rng))
    pts = pts * 2 + np.array([-1.0, -0.2])
    return rng.permutation(pts).astype(np.float32)


def swissroll(n: int, rng: np.random.Generator) -> np.ndarray:
    pts, _ = make_swiss_roll(n_samples=n, noise=1.0, random_state=_sk_seed(rng))
    return (pts[:, [0, 2]] / 5).astype(np.float32)


def circles(n: int, rng: np.random.Generator) -> np.ndarray:
    pts, _ = make_circles(n_samples=n, factor=0.5, noise=0.08, random_state=_sk_seed(rng))
    return rng.permutation(pts * 3).astype(np.float32)


def rings(n: int, rng: np.random.Generator) -> np.ndarray:
    radii = np.array([1.0, 2.0, 3.0, 4.0]) * 0.9  # four concentric rings
    which = rng.integers(0, 4, n)
    theta = rng.random(n) * 2 * np.pi
    pts = radii[which, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return (pts + 0.08 * rng.standard_normal((n, 2))).astype(np.float32)


def pinwheel(n: int, rng: np.random.Generator) -> np.ndarray:
    arms, radial_std, tangential_std, rate = 5, 0.3, 0.1, 0.25
    feats = rng.standard_normal((n, 2)) * np.array([radial_std, tangential_std])
    feats[:, 0] += 1.0
    labels = rng.integers(0, arms, n)
    angles = labels * (2 * np.pi / arms) + rate * np.exp(feats[:, 0])
    cos, sin = np.cos(angles), np.sin(angles)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], axis=-2)  # (n, 2, 2)
    return (2 * np.einsum("ni,nji->nj", feats, rot)).astype(np.float32)


TOY_DATASETS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "8gaussians": eight_gaussians,
    "2spirals": two_spirals,
    "checkerboard": checkerboard,
    "moons": moons,
    "swissroll": swissroll,
    "circles": circles,
    "rings": rings,
    "pinwheel": pinwheel,
}


def sample_toy(name: str, n: int, seed: int | np.random.Generator) -> np.ndarray:
    """Draw n points of the toy set `name`; the same seed always gives the same points."""
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy dataset '{name}' (choose from {', '.join(TOY_DATASETS)})")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return TOY_DATASETS[name](n, rng)
