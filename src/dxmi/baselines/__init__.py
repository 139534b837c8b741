"""Methods dxmi is compared with that dxmi implements itself (the others come from libraries)."""

from dxmi.baselines.langevin_ebm import (
    ImageLangevinEBMDetector,
    LangevinConfig,
    LangevinEBMDetector,
    langevin,
    train_langevin_ebm,
)

__all__ = [
    "ImageLangevinEBMDetector",
    "LangevinConfig",
    "LangevinEBMDetector",
    "langevin",
    "train_langevin_ebm",
]
