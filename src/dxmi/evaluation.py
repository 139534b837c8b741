"""Scoring a trained sampler and energy against held-out data, next to the data floor.

Sample metrics compare `n_samples` points with the held-out split; the *floor* is the same metric
between a random training subset of the same size and the held-out split (two independent data
samples). Density metrics (2D toy sets only) compare exp(-E / temperature) on a grid with the
analytic 8gaussians density, or with a 1M-point histogram of the other toy sets.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dxmi.config import EvalConfig
from dxmi.data import (
    TOY_DATASETS,
    PointData,
    eight_gaussians_centers,
    eight_gaussians_log_density,
    sample_toy,
)
from dxmi.data.toy2d import EIGHT_GAUSSIANS_STD
from dxmi.metrics import (
    energy_density_metrics,
    energy_distance,
    histogram_log_density,
    make_grid,
    mode_coverage,
    sliced_wasserstein,
)

_REFERENCE_SEED = 987654  # histogram reference sample, independent of every training seed


def sample_metrics(samples: np.ndarray, data: PointData, cfg: EvalConfig) -> dict[str, float]:
    """Sliced W2, energy distance and (8gaussians) mode coverage of `samples` vs held-out data."""
    held = data.holdout[: cfg.n_samples]
    out = {
        "sliced_w2": sliced_wasserstein(samples, held, cfg.n_projections, cfg.seed),
        "energy_distance": energy_distance(samples, held),
    }
    if data.name == "8gaussians":
        out.update(mode_coverage(samples, eight_gaussians_centers(), EIGHT_GAUSSIANS_STD))
    return out


def floor_metrics(data: PointData, cfg: EvalConfig) -> dict[str, float]:
    """The sample metrics of real data: a training subset against the held-out split."""
    n = min(cfg.n_samples, len(data.holdout), len(data.train))
    rng = np.random.default_rng(cfg.seed)
    subset = data.train[rng.choice(len(data.train), n, replace=False)]
    return sample_metrics(subset, data, cfg)


def reference_log_density(name: str, cfg: EvalConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """(grid points, log p on the grid) for a 2D toy set, or None where no truth is known."""
    if name not in TOY_DATASETS:
        return None
    _, _, grid = make_grid(cfg.grid_extent, cfg.grid_size)
    if name == "8gaussians":
        return grid, eight_gaussians_log_density(grid.astype(np.float64))
    big = sample_toy(name, 1_000_000, _REFERENCE_SEED)
    return grid, histogram_log_density(big, cfg.grid_extent, cfg.grid_size)


def density_metrics(
    energy_fn: Callable[[np.ndarray], np.ndarray], name: str, cfg: EvalConfig, temperature: float
) -> dict[str, float]:
    """Grid KL / TV of the EBM to the true density (empty where the truth is unknown)."""
    ref = reference_log_density(name, cfg)
    if ref is None:
        return {}
    grid, log_p = ref
    return {
        f"ebm_{k}": v
        for k, v in energy_density_metrics(energy_fn, log_p, grid, temperature).items()
    }


def energy_temperature(tau1: float, dim: int) -> float:
    """The temperature T in q ∝ exp(-E / T) that the max-entropy objective implies.

    Entropy enters the policy loss as tau1 times a per-dimension mean of log sigma, i.e. tau1 / D
    times the entropy, so the optimal sampler is ∝ exp(-E D / tau1). Without entropy (tau1 = 0)
    the temperature is undefined and 1 is used; compare the `_calibrated` metrics then.
    """
    return tau1 / dim if tau1 > 0 else 1.0
