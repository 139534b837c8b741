"""Would averaging several DxMI detectors help? One-class MNIST 14x14, one seed (a question).

Run from the repository root:

    python benchmarks/results/anomaly-mnist14-ensemble-probe/probe.py SEED DIGIT ...

For each digit: the benchmark's split for SEED, three `ImageDxMIDetector` fits at the defaults
that differ only in `random_state` (SEED, SEED + 1000, SEED + 2000; the first is the benchmark's
own fit), each member's AUROC, and the AUROC of the ensemble score: the mean over members of
the energy standardised by that member's energies on the training digits (no test information).
Appends one JSON record per digit to probe.jsonl in this folder.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

sys.path.insert(0, "src")
sys.path.insert(0, "benchmarks")
from anomaly import mnist_task  # noqa: E402

from dxmi.image_detector import ImageDxMIDetector  # noqa: E402

HERE = Path(__file__).parent
MEMBERS = 3


def main() -> None:
    torch.set_num_threads(1)
    seed, *digits = (int(a) for a in sys.argv[1:])
    for digit in digits:
        train, test, labels = mnist_task(digit, seed, pool=2)
        train, test = train.reshape(-1, 14, 14), test.reshape(-1, 14, 14)
        aurocs, standardised, seconds = [], [], []
        for k in range(MEMBERS):
            t0 = time.perf_counter()
            det = ImageDxMIDetector(
                random_state=seed + 1000 * k, device="cpu", energy_channels=(32, 64), iterations=400
            ).fit(train)
            e_train, e_test = det.decision_function(train), det.decision_function(test)
            seconds.append(round(time.perf_counter() - t0, 1))
            aurocs.append(roc_auc_score(labels, e_test))
            standardised.append((e_test - e_train.mean()) / e_train.std())
        record = {
            "seed": seed,
            "normal": digit,
            "member_auroc": aurocs,
            "ensemble_auroc_2": roc_auc_score(labels, np.mean(standardised[:2], axis=0)),
            "ensemble_auroc_3": roc_auc_score(labels, np.mean(standardised, axis=0)),
            "seconds": seconds,
        }
        print(json.dumps(record), flush=True)
        with open(HERE / "probe.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
