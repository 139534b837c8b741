"""Data: toy 2D sets, user point files, splits and standardisation."""

from dxmi.data.points import (
    DataError,
    PointData,
    Standardizer,
    check_points,
    load_data,
    load_points,
    split_points,
)
from dxmi.data.toy2d import (
    TOY_DATASETS,
    eight_gaussians_centers,
    eight_gaussians_log_density,
    sample_toy,
)

__all__ = [
    "TOY_DATASETS",
    "DataError",
    "PointData",
    "Standardizer",
    "check_points",
    "eight_gaussians_centers",
    "eight_gaussians_log_density",
    "load_data",
    "load_points",
    "sample_toy",
    "split_points",
]
