import numpy as np
import pytest

from dxmi.data import eight_gaussians_log_density
from dxmi.metrics.density import make_grid
from dxmi.plots import plot_grid_densities


def test_grid_densities_picture_is_written_and_a_non_square_grid_is_refused(tmp_path):
    _, _, grid = make_grid(4.0, 30)
    log_p = eight_gaussians_log_density(grid.astype(np.float64))
    path = tmp_path / "densities.png"
    plot_grid_densities({"truth": log_p, "flat": np.zeros(len(grid))}, 4.0, path)
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="bad: 899 values are not a square grid"):
        plot_grid_densities({"bad": log_p[:-1]}, 4.0, tmp_path / "bad.png")
