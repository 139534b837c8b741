"""Fit-seed spread of DxMIDetector on one 2D draw (anomaly.py's toy2d task, seed 0), 5 fit seeds.

    python benchmarks/results/anomaly-toy2d-probes/energy-ema/spread2d.py OUT.jsonl SETS KEY=VALUE

from the repository root: SETS comma-separated, KEY=VALUE DxMIDetector parameters (numbers).
"""

import json
import sys
import time
from pathlib import Path

from sklearn.metrics import roc_auc_score

from dxmi.detect.points import DxMIDetector

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/, for anomaly.py
from anomaly import toy2d_task  # noqa: E402

out, sets, *pairs = sys.argv[1:]
params = {k: float(v) for k, v in (p.split("=") for p in pairs)}
for name in sets.split(","):
    train, test, y = toy2d_task(name, 0)
    for seed in range(5):
        start = time.time()
        det = DxMIDetector(**params, random_state=seed, device="cpu").fit(train)
        auroc = roc_auc_score(y, det.decision_function(test))
        seconds = round(time.time() - start, 1)
        rec = dict(set=name, seed=seed, params=params, auroc=round(100 * auroc, 2), seconds=seconds)
        print(rec, flush=True)
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
