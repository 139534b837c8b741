"""A probe: DxMIDetector on an 8D ring (a noisy circle in two coordinates, small noise in six)
against anomalies in its hole, the case a Gaussian fit scores backwards.

    python hole8d.py                              # the defaults
    python hole8d.py gaussian_base=0 gamma=0 tau1=0.1   # the reference's separate variant
"""

import json
import sys

import numpy as np
import yaml
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

from dxmi.detect.points import DxMIDetector


def ring(n: int, seed: int, radius: float = 1.0, noise: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * np.pi, n)
    r = radius + noise * rng.standard_normal(n)
    rest = 0.1 * rng.standard_normal((n, 6))
    return np.c_[r * np.cos(a), r * np.sin(a), rest].astype("float32")


train = ring(2000, 0)
test = np.r_[ring(500, 1), ring(500, 2, radius=0.0, noise=0.2)]  # the ring, then its hole
labels = np.r_[np.zeros(500), np.ones(500)]
params = {k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in sys.argv[1:])}
gaussian = roc_auc_score(labels, LedoitWolf().fit(train).mahalanobis(test))
det = DxMIDetector(device="cpu", **params).fit(train)
dxmi = roc_auc_score(labels, det.decision_function(test))
print(json.dumps({"params": params, "gaussian": gaussian, "auroc": dxmi}))
