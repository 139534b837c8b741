"""Scoring a trained sampler and energy against held-out data, next to the data floor.

Sample metrics compare `n_samples` points with the held-out split; the *floor* is the same metric
between a random training subset of the same size and the held-out split (two independent data
samples). Density metrics (2D toy sets only) compare exp(-E / temperature) on a grid with the
analytic 8gaussians density, or with a 1M-point histogram of the other toy sets.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from dxmi.config import Config, EvalConfig
from dxmi.data import (
    TOY_DATASETS,
    PointData,
    Standardizer,
    eight_gaussians_centers,
    eight_gaussians_log_density,
    sample_toy,
)
from dxmi.data.toy2d import EIGHT_GAUSSIANS_STD
from dxmi.diffusion import solver_sample
from dxmi.metrics import (
    energy_density_metrics,
    energy_distance,
    histogram_divergences,
    histogram_log_density,
    make_grid,
    mmd,
    mode_coverage,
    precision_recall,
    sliced_wasserstein,
)

_REFERENCE_SEED = 987654  # histogram reference sample, independent of every training seed


def sample_metrics(samples: np.ndarray, data: PointData, cfg: EvalConfig) -> dict[str, float]:
    """`samples` against the held-out points: k-NN precision and recall, multi-bandwidth MMD,
    sliced W2 and energy distance (any width); 2D histogram KL / TV on the evaluation grid;
    mode coverage on 8gaussians. Non-finite samples score NaN everywhere, with their count."""
    samples = np.asarray(samples)
    bad = int((~np.isfinite(samples)).any(axis=1).sum()) if samples.size else 0
    if bad:
        keys = ("precision", "recall", "mmd", "sliced_w2", "energy_distance")
        return {**dict.fromkeys(keys, float("nan")), "nonfinite_samples": bad}
    held = data.holdout[: cfg.n_samples]
    precision, recall = precision_recall(held, samples, cfg.knn_k)
    out = {
        "precision": precision,
        "recall": recall,
        "mmd": mmd(samples, held),
        "sliced_w2": sliced_wasserstein(samples, held, cfg.n_projections, cfg.seed),
        "energy_distance": energy_distance(samples, held),
    }
    if data.dim == 2:
        out.update(histogram_divergences(samples, held, cfg.grid_extent, cfg.hist_bins))
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


# The rows of a point run's table, in print order: DxMI, the T-step sampler it started from,
# two training-free solvers of the teacher at the same T, the teacher at eval.teacher_steps
# (key "teacher-<steps>"), real data.
SAMPLER_ROWS = ("dxmi", "init", "dpmsolver++", "unipc", "teacher")
TABLE_ROWS = (*SAMPLER_ROWS, "floor")


def row_kind(key: str) -> str:
    """The `TABLE_ROWS` entry of a metrics key ("teacher-1000" -> "teacher")."""
    return "teacher" if key.startswith("teacher-") else key


# A teacher whose 1000-step precision or recall trails the data floor's by more than this
# limits every sampler distilled from it; the run says so.
TEACHER_GAP = 0.1


class TeacherWarning(UserWarning):
    """The teacher's own samples trail the data: a distilled sampler cannot do better."""


@torch.no_grad()
def teacher_samples(
    eps_model: nn.Module, config: Config, standardizer: Standardizer, n: int, seed: int
) -> dict[str, np.ndarray]:
    """Samples of the teacher `eps_model` (trained on standardised data), in data units:
    DPM-Solver++ and UniPC at T = dxmi.steps on the policy's timestep spacing, and ancestral
    sampling at eval.teacher_steps (none at all when it is 0). All start from the same noise."""
    if config.eval.teacher_steps == 0:
        return {}
    t = config.teacher
    device = next(eps_model.parameters()).device
    gen = torch.Generator(device).manual_seed(seed)
    noise = torch.randn((n, len(standardizer.mean)), generator=gen, device=device)
    kw = dict(
        num_train_timesteps=t.num_train_timesteps, beta_start=t.beta_start, beta_end=t.beta_end
    )
    steps, spacing = config.dxmi.steps, config.dxmi.timestep_spacing
    runs = {
        "dpmsolver++": ("dpmsolver++", steps, spacing),
        "unipc": ("unipc", steps, spacing),
        f"teacher-{config.eval.teacher_steps}": ("ancestral", config.eval.teacher_steps, "linear"),
    }
    was_training = eps_model.training
    eps_model.eval()
    out = {}
    for name, (solver, n_steps, sp) in runs.items():
        gen.manual_seed(seed + 1)  # the ancestral sampler's own noise, the same for every row
        z = solver_sample(eps_model, noise, solver, n_steps, spacing=sp, generator=gen, **kw)
        out[name] = standardizer.inverse(z.cpu().numpy())
    eps_model.train(was_training)
    return out


def teacher_warnings(metrics: dict) -> list[str]:
    """One line per way the teacher's own samples trail the data floor by more than
    `TEACHER_GAP`: then the teacher, not DxMI, limits the result."""
    name = next((k for k in metrics if row_kind(k) == "teacher"), None)
    teacher, floor = metrics.get(name), metrics.get("floor")
    if not teacher or not floor:
        return []
    steps = name.split("-")[1]
    return [
        f"the teacher's {steps}-step {key} {teacher[key]:.3f} is far below the data floor's "
        f"{floor[key]:.3f}: the teacher, not DxMI, limits this result (train it longer with "
        "teacher.iterations, or give it sampler.fourier_features)"
        for key in ("precision", "recall")
        if key in teacher and key in floor and teacher[key] < floor[key] - TEACHER_GAP
    ]


def score_rows(samples: dict[str, np.ndarray], data: PointData, cfg: EvalConfig) -> dict:
    """`sample_metrics` of every named sample set, the data floor, and the teacher warnings."""
    out: dict = {name: sample_metrics(x, data, cfg) for name, x in samples.items()}
    out["floor"] = floor_metrics(data, cfg)
    out["warnings"] = teacher_warnings(out)
    for line in out["warnings"]:
        warnings.warn(line, TeacherWarning, stacklevel=3)
    return out
