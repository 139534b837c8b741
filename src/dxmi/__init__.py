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

__version__ = "0.1.0"

from dxmi.config import Config, load_config  # noqa: E402
from dxmi.detector import DxMIDetector  # noqa: E402
from dxmi.model import DxMIModel  # noqa: E402
from dxmi.training import evaluate_run, train  # noqa: E402

__all__ = [
    "Config",
    "DxMIDetector",
    "DxMIModel",
    "__version__",
    "evaluate_run",
    "load_config",
    "train",
]
