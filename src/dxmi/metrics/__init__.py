"""Metrics: distances between samples and data, and an EBM's density against the truth."""

from dxmi.metrics.density import (
    energy_auroc_uniform,
    energy_density_metrics,
    grid_divergences,
    histogram_log_density,
    make_grid,
)
from dxmi.metrics.samples import (
    energy_distance,
    histogram_divergences,
    mmd,
    mode_coverage,
    precision_recall,
    sliced_wasserstein,
)

__all__ = [
    "energy_auroc_uniform",
    "energy_density_metrics",
    "energy_distance",
    "grid_divergences",
    "histogram_divergences",
    "histogram_log_density",
    "make_grid",
    "mmd",
    "mode_coverage",
    "precision_recall",
    "sliced_wasserstein",
]
