import numpy as np
import pytest

from dxmi.data import eight_gaussians_centers, eight_gaussians_log_density, sample_toy
from dxmi.data.toy2d import EIGHT_GAUSSIANS_STD
from dxmi.metrics import (
    energy_auroc_uniform,
    energy_density_metrics,
    energy_distance,
    grid_divergences,
    histogram_divergences,
    histogram_log_density,
    make_grid,
    mmd,
    mode_coverage,
    precision_recall,
    sliced_wasserstein,
)


def _blob_like(points: np.ndarray, seed: int) -> np.ndarray:
    """A blob with the same radial profile as `points` (its radii at uniform angles)."""
    rng = np.random.default_rng(seed)
    r = np.linalg.norm(points, axis=1)
    theta = rng.uniform(0, 2 * np.pi, len(points))
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def test_structure_metrics_on_identical_sets_and_a_blob_against_a_spiral():
    spiral = sample_toy("2spirals", 3000, 0)
    other = sample_toy("2spirals", 3000, 1)
    blob = _blob_like(sample_toy("2spirals", 3000, 2), 3)
    # identical sets: perfect precision / recall, zero divergences
    assert precision_recall(spiral, spiral) == (1.0, 1.0)
    assert abs(mmd(spiral, spiral)) < 0.01  # unbiased: not exactly 0 for a set against itself
    same = histogram_divergences(spiral, spiral, 4.5)
    assert same["hist_kl"] == pytest.approx(0, abs=1e-12) and same["hist_tv"] == 0
    # two independent draws (the data floor) against the blob
    p_real, r_real = precision_recall(spiral, other)
    p_blob, r_blob = precision_recall(spiral, blob)
    assert p_real > 0.9 and r_real > 0.9
    assert p_blob < 0.7 and p_blob < p_real - 0.25
    assert mmd(blob, spiral) > 5 * mmd(other, spiral)
    h_real = histogram_divergences(other, spiral, 4.5)
    h_blob = histogram_divergences(blob, spiral, 4.5)
    assert h_blob["hist_kl"] > 3 * h_real["hist_kl"] and h_blob["hist_tv"] > h_real["hist_tv"]


def test_precision_and_recall_are_asymmetric():
    """Samples on one half of the data: all of them on the data (precision), half the data
    covered (recall)."""
    real = sample_toy("8gaussians", 4000, 0)
    fake = sample_toy("8gaussians", 4000, 1)
    fake = fake[fake[:, 0] > 0.5]
    p, r = precision_recall(real, fake)
    assert p > 0.95 and 0.3 < r < 0.6


def test_histogram_tv_counts_points_off_the_grid():
    inside = sample_toy("8gaussians", 2000, 0)
    far = inside + 100.0  # every point off the grid
    assert histogram_divergences(far, inside, 4.5)["hist_tv"] == pytest.approx(1.0)


def test_sliced_wasserstein_of_a_shift():
    """SW2 between X and X + v is |v| / sqrt(D) (the projection of v averaged over directions)."""
    x = np.random.default_rng(0).normal(size=(3000, 2))
    assert sliced_wasserstein(x, x, 200) == pytest.approx(0.0, abs=1e-9)
    v = np.array([3.0, 0.0])
    assert sliced_wasserstein(x, x + v, 2000, seed=1) == pytest.approx(3 / np.sqrt(2), rel=0.05)


def test_sliced_wasserstein_equals_pots_own():
    """The sorted-pairing shortcut for equal sizes is POT's value; other sizes use POT."""
    import ot

    a, b = sample_toy("2spirals", 2000, 0), sample_toy("2spirals", 2000, 1)
    pot = ot.sliced_wasserstein_distance(
        a.astype(np.float64), b.astype(np.float64), n_projections=300, p=2, seed=4
    )
    assert sliced_wasserstein(a, b, 300, seed=4) == pytest.approx(pot, rel=1e-9)
    assert sliced_wasserstein(a, b[:1500], 300, seed=4) > 0


def test_energy_distance_separates_distributions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1500, 2)), rng.normal(size=(1500, 2))
    c = rng.normal(0.5, 1.0, size=(1500, 2))
    assert abs(energy_distance(a, b)) < 0.02
    assert energy_distance(a, c) > 0.1


def test_mode_coverage():
    centres = eight_gaussians_centers()
    x = sample_toy("8gaussians", 8000, 0)
    m = mode_coverage(x, centres, EIGHT_GAUSSIANS_STD)
    assert m["mode_fraction"] > 0.98 and m["modes_covered"] == 8 and m["mode_kl"] < 0.01
    one_mode = np.repeat(centres[:1], 100, axis=0)
    m = mode_coverage(one_mode, centres, EIGHT_GAUSSIANS_STD)
    assert m["modes_covered"] == 1 and m["mode_kl"] == np.inf
    assert mode_coverage(np.zeros((10, 2)), centres, EIGHT_GAUSSIANS_STD)["mode_fraction"] == 0


def test_grid_divergences_and_calibration():
    _, _, grid = make_grid(4.5, 80)
    log_p = eight_gaussians_log_density(grid.astype(np.float64))
    same = grid_divergences(log_p, log_p + 7.0)  # normalisation is done on the grid
    assert same["kl"] == pytest.approx(0, abs=1e-9) and same["tv"] == pytest.approx(0, abs=1e-9)
    flat = grid_divergences(log_p, np.zeros_like(log_p))
    assert flat["kl"] > 1 and 0.5 < flat["tv"] <= 1
    # an energy that is the true density at the wrong scale: calibrated KL recovers it
    m = energy_density_metrics(lambda x: -0.2 * eight_gaussians_log_density(x), log_p, grid, 1.0)
    assert m["kl"] > 0.1
    assert m["kl_calibrated"] < 1e-4
    assert m["inverse_temperature_calibrated"] == pytest.approx(5.0, rel=1e-2)


def test_energy_auroc_uniform_sees_the_modes():
    x = sample_toy("8gaussians", 2000, 0)
    truth = energy_auroc_uniform(lambda p: -eight_gaussians_log_density(p), x)
    assert truth > 0.85  # the true energy: data below noise (some noise falls on a mode)
    assert energy_auroc_uniform(lambda p: np.zeros(len(p)), x) == 0.5  # blind: ties

    def ring_e(p):
        return (np.linalg.norm(p[:, :2], axis=1) - 2.83) ** 2

    ring = energy_auroc_uniform(ring_e, x)
    assert 0.6 < ring < truth  # a ring where the modes are: good, but not as good
    wide = np.c_[x, np.random.default_rng(0).normal(size=(2000, 5))]  # any dimension
    gauss = energy_auroc_uniform(lambda p: (p[:, 2:] ** 2).sum(1), wide)  # sees 5 of 7 dims
    assert 0.9 < gauss < energy_auroc_uniform(lambda p: (p[:, 2:] ** 2).sum(1) + ring_e(p), wide)


def test_histogram_density_matches_analytic():
    _, _, grid = make_grid(4.5, 40)
    log_p = eight_gaussians_log_density(grid.astype(np.float64))
    hist = histogram_log_density(sample_toy("8gaussians", 400_000, 1), 4.5, 40)
    assert grid_divergences(log_p, np.where(np.isfinite(hist), hist, -30))["tv"] < 0.1
