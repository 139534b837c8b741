"""How well an EBM's density exp(-E/T) matches a known density, on a 2D grid; how well its
energy tells data from uniform noise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax


def make_grid(extent: float, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A size x size grid over [-extent, extent]^2: returns (xs, ys, points (size^2, 2))."""
    xs = np.linspace(-extent, extent, size)
    gx, gy = np.meshgrid(xs, xs, indexing="xy")
    return xs, xs, np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def histogram_log_density(samples: np.ndarray, extent: float, size: int) -> np.ndarray:
    """Log probability per grid cell of a large sample's histogram (cells without points: -inf)."""
    step = 2 * extent / (size - 1)  # cells centred on the grid points of `make_grid`
    edges = np.linspace(-extent - step / 2, extent + step / 2, size + 1)
    h, _, _ = np.histogram2d(samples[:, 1], samples[:, 0], bins=[edges, edges])  # rows = y
    p = h.ravel() / max(h.sum(), 1.0)
    with np.errstate(divide="ignore"):
        return np.log(p)


def grid_divergences(log_p: np.ndarray, log_q_unnorm: np.ndarray) -> dict[str, float]:
    """KL(p || q) and total variation between two densities given as log-values on a grid.

    `log_p` may hold -inf (cells of zero probability); both are normalised over the grid.
    """
    lp = log_softmax(log_p)
    lq = log_softmax(log_q_unnorm)
    p = np.exp(lp)
    mask = p > 0
    kl = float(np.sum(p[mask] * (lp[mask] - lq[mask])))
    tv = float(0.5 * np.abs(p - np.exp(lq)).sum())
    return {"kl": kl, "tv": tv}


def energy_density_metrics(
    energy_fn: Callable[[np.ndarray], np.ndarray],
    log_p: np.ndarray,
    grid_points: np.ndarray,
    temperature: float,
) -> dict[str, float]:
    """Grid KL and TV of q = exp(-E / temperature) to the reference, at the model's temperature
    and at the best single temperature (`*_calibrated`: compares shapes whatever the scale).
    """
    energy = np.asarray(energy_fn(grid_points), np.float64)
    out = grid_divergences(log_p, -energy / temperature)
    res = minimize_scalar(
        lambda log_beta: grid_divergences(log_p, -np.exp(log_beta) * energy)["kl"],
        bounds=(-10.0, 10.0),
        method="bounded",
    )
    cal = grid_divergences(log_p, -np.exp(res.x) * energy)
    return {
        "kl": out["kl"],
        "tv": out["tv"],
        "kl_calibrated": cal["kl"],
        "tv_calibrated": cal["tv"],
        "inverse_temperature_calibrated": float(np.exp(res.x)),
    }


def uniform_in_box(points: np.ndarray, seed) -> np.ndarray:
    """As many uniform points as `points`, in their bounding box: the noise of the DxMI
    paper's 2D EBM metric (`seed`: anything numpy's default_rng takes)."""
    points = np.asarray(points, np.float32)
    rng = np.random.default_rng(seed)
    return rng.uniform(points.min(0), points.max(0), points.shape).astype(np.float32)


def energy_auroc_uniform(
    energy_fn: Callable[[np.ndarray], np.ndarray], points: np.ndarray, seed: int = 0
) -> float:
    """AUROC of `points` against as many uniform points in their bounding box, scored by the
    energy (higher = noise): the DxMI paper's 2D EBM metric, defined in any dimension; 0.5 is an
    energy blind to the data, 1 one that puts every data point below every noise point."""
    from sklearn.metrics import roc_auc_score

    points = np.asarray(points, np.float32)
    noise = uniform_in_box(points, seed)
    energy = np.asarray(energy_fn(np.concatenate([points, noise])), np.float64)
    return float(roc_auc_score(np.r_[np.zeros(len(points)), np.ones(len(noise))], energy))
