"""The issue's stability bar at CI size: `DxMIDetector`'s test AUROC over several fit seeds on
one dataset, on rows and on a 2D case (docs/results/anomaly.md). A file of its own, so that
pytest-xdist runs these slow fits beside the other detector tests."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score
from test_detector import FAST

from dxmi.detect.points import DxMIDetector


def contaminated_rows(n: int, seed: int, fraction: float = 0.07) -> tuple[np.ndarray, np.ndarray]:
    """8D correlated Gaussian rows and a `fraction` of outliers from a broad cluster off to
    one side, mixed in (ADBench's contaminated setting); labels 1 = outlier."""
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(99).standard_normal((8, 8)) * 0.3 + np.eye(8)
    k = int(fraction * n)
    rows = np.r_[rng.standard_normal((n, 8)) @ mix, rng.standard_normal((k, 8)) + [3, -2, *[0] * 6]]
    return rows.astype(np.float32), np.r_[np.zeros(n), np.ones(k)]


def seed_aurocs(train, test, labels, n_seeds: int, **params) -> list[float]:
    """Test AUROC of `DxMIDetector(**params)` fitted on `train` with seeds 0..n_seeds-1."""
    return [
        roc_auc_score(
            labels, DxMIDetector(**params, random_state=s).fit(train).decision_function(test)
        )
        for s in range(n_seeds)
    ]


def test_row_fits_are_steady_across_seeds():
    """The issue's stability bar at CI size: fitted on contaminated rows, the default
    detector's test AUROC moves by at most 2.5 points over three fit seeds (measured 1.1 over
    four, at about 0.87). The reference's separate variant (no Gaussian base, gamma 0) swung
    by 25 points here (0.68 / 0.44 / 0.45 / 0.53), as on ODDS (docs/results/anomaly.md)."""
    train, _ = contaminated_rows(1500, 0)
    test, labels = contaminated_rows(500, 1)
    aurocs = seed_aurocs(train, test, labels, 3, **FAST)
    assert min(aurocs) > 0.8, aurocs
    assert max(aurocs) - min(aurocs) <= 0.025, aurocs


def test_2d_fits_are_steady_across_seeds():
    """The stability bar on a 2D case at CI size: thin curved data (moons), held-out points
    against uniform noise in their box; five fit seeds on one draw move the AUROC by at most 4
    points (measured 1.8, 2.2 and 2.4 on three draws at about 0.82 on an AMD EPYC, 3.5 on the
    first draw on an Intel Xeon: the fits are deterministic per CPU model only, and floating-
    point order moves this chaotic a fit by more than a point). Without the energy EMA of
    the 2D "auto" settings the same fits spread 5.4 and 2.1 on two of those draws, 1.5 points
    lower on the mean. The sampler's Fourier features, the noise negatives and the Gaussian
    base are off here: a 200-iteration teacher is too short for the features (with them:
    spread 3.7, mean 0.80), and this crude a sampler gains nothing from the extra negatives
    (mean 0.5-1.0 lower) or the base (mean 1.6-2.2 lower, spread 2.8 / 2.9 / 8.6 on the three
    draws); the full-size fits use all three (benchmarks/results/anomaly-toy2d-probes/,
    energy-ema, noise-negatives and gaussian-base)."""
    from dxmi.data import sample_toy
    from dxmi.metrics.density import uniform_in_box

    train = sample_toy("moons", 1000, 0)
    held = sample_toy("moons", 500, 1)
    test = np.concatenate([held, uniform_in_box(held, 2)]).astype(np.float32)
    labels = np.r_[np.zeros(500), np.ones(500)]
    off = {"sampler_fourier_features": 0, "noise_negatives": 0, "gaussian_base": 0}
    quick = {**FAST, "iterations": 600, **off}
    aurocs = seed_aurocs(train, test, labels, 5, **quick)
    assert min(aurocs) > 0.78, aurocs
    assert max(aurocs) - min(aurocs) <= 0.04, aurocs
