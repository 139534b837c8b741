import numpy as np
import pytest

from dxmi.data import eight_gaussians_log_density
from dxmi.metrics.density import make_grid
from dxmi.plots import logged_series, plot_curves, plot_grid_densities


def test_grid_densities_picture_is_written_and_a_non_square_grid_is_refused(tmp_path):
    _, _, grid = make_grid(4.0, 30)
    log_p = eight_gaussians_log_density(grid.astype(np.float64))
    path = tmp_path / "densities.png"
    plot_grid_densities({"truth": log_p, "flat": np.zeros(len(grid))}, 4.0, path)
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="bad: 899 values are not a square grid"):
        plot_grid_densities({"bad": log_p[:-1]}, 4.0, tmp_path / "bad.png")


def test_training_curves_keep_a_scalar_logged_only_every_few_rows(tmp_path):
    """FID is logged every few hundred iterations, the losses every row: the curve of the
    sparse one is its logged points, not NaN-padded gaps that matplotlib leaves blank."""
    history = [{"iteration": i, "loss": 1.0 / i} for i in range(20, 420, 20)]
    for row in history:
        if row["iteration"] % 100 == 0:
            row["fid"] = 500.0 / row["iteration"]
    assert logged_series(history, "fid") == ([100, 200, 300, 400], [5.0, 2.5, 500 / 300, 1.25])
    assert logged_series(history, "loss")[0] == list(range(20, 420, 20))
    plot_curves(history, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
