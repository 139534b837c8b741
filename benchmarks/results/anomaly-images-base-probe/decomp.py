"""Split a based ImageDxMIDetector's one-class Fashion-MNIST score into its Gaussian base and
its learned conv part (AUROC of each, and of base + k x conv).

    python benchmarks/results/anomaly-images-base-probe/decomp.py CLASS SEED [PARAM=VALUE ...]

Appends a record to decomp.jsonl beside this file; the test scores go to scores-CLASS-SEED.npz.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from dxmi.data.idx import load_fashion_mnist
from dxmi.detect.images import ImageDxMIDetector

HERE = Path(__file__).parent


def pooled(x: np.ndarray) -> np.ndarray:
    """uint8 28x28 images -> 14x14 in [0, 1], as the benchmark's fashion part."""
    return F.avg_pool2d(torch.from_numpy(x).float() / 255, 2).numpy()


def main() -> None:
    c, seed = int(sys.argv[1]), int(sys.argv[2])
    extra = dict(a.split("=") for a in sys.argv[3:])
    extra = {k: float(v) if "." in v else int(v) for k, v in extra.items()}
    (xtr, ytr), (xte, yte) = (load_fashion_mnist(None, s) for s in ("train", "test"))
    train, test, labels = pooled(xtr[ytr == c]), pooled(xte), (yte != c).astype(int)
    det = ImageDxMIDetector(gaussian_base=1.0, random_state=seed, device="cpu", **extra)
    total = det.fit(train).decision_function(test)
    with torch.no_grad():  # the nets see pixels in [-1, 1]
        base = det.energy_.base(torch.from_numpy(test * 2 - 1)).numpy()
    learned = total - base
    out = {
        "class": c,
        "seed": seed,
        "extra": extra,
        "total": roc_auc_score(labels, total),
        "base": roc_auc_score(labels, base),
        "learned": roc_auc_score(labels, learned),
        "base_std": float(base.std()),
        "learned_std": float(learned.std()),
    }
    for k in (0.3, 1, 3, 10, 30, 100):
        out[f"base+{k}R"] = roc_auc_score(labels, base + k * learned)
    print(json.dumps(out))
    with open(HERE / "decomp.jsonl", "a") as f:
        f.write(json.dumps(out) + "\n")
    np.savez(HERE / f"scores-{c}-{seed}.npz", base=base, r=learned, lab=labels)


if __name__ == "__main__":
    main()
