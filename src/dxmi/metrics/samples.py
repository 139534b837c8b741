"""Distances between a set of samples and held-out data, for points of any width.

Sliced W2 and the energy distance compare one-dimensional projections or mean distances, and
can call a blob close to a spiral with the same radial profile; k-NN precision / recall and an
MMD with small kernel bandwidths see whether samples lie *on* the data's structure.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch


def sliced_wasserstein(
    x: np.ndarray, y: np.ndarray, n_projections: int = 500, seed: int = 0
) -> float:
    """Sliced Wasserstein-2 distance with POT's projections, fixed by `seed`.

    For two sets of equal size the 1D optimal plan pairs sorted projections, which is what POT
    computes through quantile functions; doing it directly gives the same value (to rounding)
    an order of magnitude faster. Other sizes go through POT itself.
    """
    import ot  # imported here: image runs never need POT (and it is slow to import)

    a, b = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(a) != len(b):
        return float(
            ot.sliced_wasserstein_distance(a, b, n_projections=n_projections, p=2, seed=seed)
        )
    proj = ot.sliced.get_random_projections(a.shape[1], n_projections, seed)
    return float(np.sqrt(np.mean((np.sort(a @ proj, axis=0) - np.sort(b @ proj, axis=0)) ** 2)))


def energy_distance(x: np.ndarray, y: np.ndarray, max_points: int = 5000) -> float:
    """Energy distance 2 E|X-Y| - E|X-X'| - E|Y-Y'| (Szekely), a proper metric on distributions.

    Uses the first `max_points` of each set to bound memory; the diagonal terms are excluded.
    """
    a = torch.as_tensor(np.asarray(x[:max_points]), dtype=torch.float64)
    b = torch.as_tensor(np.asarray(y[:max_points]), dtype=torch.float64)
    n, m = len(a), len(b)
    xy = torch.cdist(a, b).mean()
    xx = torch.cdist(a, a).sum() / (n * (n - 1))
    yy = torch.cdist(b, b).sum() / (m * (m - 1))
    return float(2 * xy - xx - yy)


def mode_coverage(
    x: np.ndarray, centers: np.ndarray, std: float, radius: float = 3.0
) -> dict[str, float]:
    """How a sample covers known modes: the fraction of points within `radius` stds of a centre,
    the number of modes holding at least a fifth of their fair share, and the KL from the
    uniform mode distribution to the empirical one over in-mode points (0 = perfectly balanced).
    """
    d = np.linalg.norm(np.asarray(x)[:, None, :] - centers[None], axis=-1)  # (N, K)
    nearest, dist = d.argmin(axis=1), d.min(axis=1)
    inside = dist <= radius * std
    k = len(centers)
    counts = np.bincount(nearest[inside], minlength=k).astype(np.float64)
    share = counts / max(counts.sum(), 1.0)
    covered = int((share >= 0.2 / k).sum())
    balance_kl = float(
        np.sum(np.where(share > 0, (1 / k) * np.log((1 / k) / np.maximum(share, 1e-12)), np.inf))
    )
    return {"mode_fraction": float(inside.mean()), "modes_covered": covered, "mode_kl": balance_kl}


def knn_radii(x: np.ndarray | torch.Tensor, k: int = 3) -> torch.Tensor:
    """Distance of each point of `x` (N, d) to its k-th nearest other point of `x`."""
    x = torch.as_tensor(np.asarray(x, np.float32) if isinstance(x, np.ndarray) else x)
    out = torch.empty(len(x), dtype=x.dtype, device=x.device)  # on x's device (a GPU's cdist)
    for i in range(0, len(x), 1000):
        d = torch.cdist(x[i : i + 1000], x)
        out[i : i + 1000] = d.kthvalue(k + 1, dim=1).values  # +1: the point itself is at 0
    return out


def precision_recall(
    real: np.ndarray | torch.Tensor,
    fake: np.ndarray | torch.Tensor,
    k: int = 3,
    real_radii: torch.Tensor | None = None,
) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN manifolds.

    Precision: the fraction of fake points inside the real manifold (the union of balls around
    each real point reaching its k-th nearest real neighbour); recall the other way round. The
    same code scores image features and raw points. `real_radii` (`knn_radii(real, k)`) saves
    recomputing them when many sample sets are scored against one reference (quadratic in its
    size: 45,000 CIFAR-10 images).
    """
    real = torch.as_tensor(np.asarray(real, np.float32) if isinstance(real, np.ndarray) else real)
    fake = torch.as_tensor(np.asarray(fake, np.float32) if isinstance(fake, np.ndarray) else fake)
    radii = partial(knn_radii, k=k)

    def coverage(manifold: torch.Tensor, r: torch.Tensor, probe: torch.Tensor) -> float:
        inside = torch.zeros(len(probe), dtype=torch.bool, device=probe.device)
        for i in range(0, len(probe), 1000):
            d = torch.cdist(probe[i : i + 1000], manifold)
            inside[i : i + 1000] = (d <= r[None]).any(dim=1)
        return inside.float().mean().item()

    r_real = radii(real) if real_radii is None else real_radii
    return coverage(real, r_real, fake), coverage(fake, radii(fake), real)


# Kernel bandwidths of `mmd`, as fractions of the reference's median pairwise distance: the
# small ones resolve thin structure (a spiral arm, a checkerboard square), the large ones mass.
MMD_BANDWIDTHS = (0.05, 0.1, 0.2, 0.5, 1.0)


def mmd(
    x: np.ndarray,
    y: np.ndarray,
    bandwidths: tuple[float, ...] = MMD_BANDWIDTHS,
    max_points: int = 2000,
) -> float:
    """Squared MMD (unbiased) with a sum of Gaussian kernels, between samples `x` and data `y`.

    Bandwidths are fractions of the median pairwise distance of `y` (of its first 1,000 points:
    fixed by the data, not by the samples, so every method is scored with the same kernel).
    The first `max_points` of each set are used (the quadratic cost bounds it); kernels in
    float32, sums in float64.
    """
    a = torch.as_tensor(np.asarray(x[:max_points], np.float32))
    b = torch.as_tensor(np.asarray(y[:max_points], np.float32))
    median = float(torch.pdist(b[:1000].double()).median())
    n, m = len(a), len(b)
    sq = {"aa": torch.cdist(a, a) ** 2, "bb": torch.cdist(b, b) ** 2, "ab": torch.cdist(a, b) ** 2}
    total = 0.0
    for frac in bandwidths:
        inv = -1.0 / (2 * (frac * median) ** 2)
        k = {key: torch.exp(d * inv).sum(dtype=torch.float64).item() for key, d in sq.items()}
        total += (
            (k["aa"] - n) / (n * (n - 1)) + (k["bb"] - m) / (m * (m - 1)) - 2 * k["ab"] / (n * m)
        )
    return float(total)


def histogram_divergences(
    samples: np.ndarray, reference: np.ndarray, extent: float, bins: int = 32
) -> dict[str, float]:
    """KL(reference || samples) and total variation between 2D histograms on a bins x bins grid
    over [-extent, extent]^2 (points outside count in no cell, which TV still sees as lost mass).

    KL adds half a count to every cell of both histograms (a Jeffreys prior), so a cell that the
    samples miss costs a finite, large amount instead of infinity. Both depend on the sample
    count: compare them with the data floor's at the same count.
    """
    edges = np.linspace(-extent, extent, bins + 1)

    def hist(points: np.ndarray) -> tuple[np.ndarray, int]:
        h, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=[edges, edges])
        return h.ravel(), len(points)

    (hs, ns), (hr, nr) = hist(np.asarray(samples)), hist(np.asarray(reference))
    tv = 0.5 * (np.abs(hs / ns - hr / nr).sum() + abs((ns - hs.sum()) / ns - (nr - hr.sum()) / nr))
    p = (hr + 0.5) / (hr.sum() + 0.5 * hr.size)
    q = (hs + 0.5) / (hs.sum() + 0.5 * hs.size)
    return {"hist_kl": float(np.sum(p * np.log(p / q))), "hist_tv": float(tv)}
