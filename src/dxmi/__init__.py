"""dxmi: Diffusion by Maximum Entropy Inverse Reinforcement Learning (DxMI, NeurIPS 2024).

Few-step diffusion samplers trained as maximum-entropy policies against an energy-based model,
and that energy as a density model in its own right.

    model = dxmi.train("configs/8gaussians.yaml", "runs/demo")   # or points=array
    x = model.sample(1000)                                        # (1000, D), data units
    e = model.energy(x)                                           # lower = more likely
    model = dxmi.DxMIModel.load("runs/demo")

    det = dxmi.DxMIDetector().fit(normal_rows)                   # anomaly detection
    scores = det.decision_function(rows)                          # energy, higher = anomalous
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from dxmi._version import __version__

# The public names load on first use, so that `import dxmi` (and the CLI's start-up) does not
# pull in accelerate, TensorBoard, matplotlib and diffusers before anything needs them.
_EXPORTS = {
    "Config": "dxmi.config",
    "load_config": "dxmi.config",
    "DxMIDetector": "dxmi.detect.points",
    "DxMIModel": "dxmi.models.points",
    "ImageDxMIDetector": "dxmi.detect.images",
    "ImageSampler": "dxmi.models.images",
    # diffusers loads a saved pipeline's components by (library, class): ("dxmi", "DxMIScheduler")
    "DxMIPipeline": "dxmi.models.pipeline",
    "DxMIScheduler": "dxmi.models.pipeline",
    "evaluate_run": "dxmi.runs.points",
    "train": "dxmi.runs.points",
}

if TYPE_CHECKING:
    from dxmi.config import Config, load_config
    from dxmi.detect.images import ImageDxMIDetector
    from dxmi.detect.points import DxMIDetector
    from dxmi.models.images import ImageSampler
    from dxmi.models.pipeline import DxMIPipeline, DxMIScheduler
    from dxmi.models.points import DxMIModel
    from dxmi.runs.points import evaluate_run, train


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dxmi' has no attribute {name!r}")


__all__ = [
    "Config",
    "DxMIDetector",
    "DxMIModel",
    "DxMIPipeline",
    "DxMIScheduler",
    "ImageDxMIDetector",
    "ImageSampler",
    "__version__",
    "evaluate_run",
    "load_config",
    "train",
]
