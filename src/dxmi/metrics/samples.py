"""Distances between a set of samples and held-out data."""

from __future__ import annotations

import numpy as np
import torch


def sliced_wasserstein(
    x: np.ndarray, y: np.ndarray, n_projections: int = 500, seed: int = 0
) -> float:
    """Sliced Wasserstein-2 distance (POT), with projections fixed by `seed`."""
    import ot  # imported here: image runs never need POT (and it is slow to import)

    return float(
        ot.sliced_wasserstein_distance(
            np.asarray(x, np.float64),
            np.asarray(y, np.float64),
            n_projections=n_projections,
            p=2,
            seed=seed,
        )
    )


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
