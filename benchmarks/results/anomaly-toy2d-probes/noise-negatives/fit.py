"""One 2D detector fit on anomaly.py's toy2d task: AUROC appended to OUT.jsonl, and for seed 0
a picture of the energy and the sampler's draws (OUT-SET-TAG.png). A probe of issue 31.

    python fit.py SET SEED OUT [KEY=VALUE ...]     (from the repository root)

KEY=VALUE are DxMIDetector parameters. Environment: TAG names the run; SPLIT draws the data
with that seed instead of SEED (fit seeds on one draw); LANGEVIN=1 fits the Langevin EBM with
the same energy net instead.
"""

import json
import os
import sys
import time

import matplotlib
import numpy as np
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

sys.path.insert(0, "benchmarks")
from anomaly import toy2d_task  # noqa: E402

from dxmi.detect.langevin import LangevinEBMDetector  # noqa: E402
from dxmi.detect.points import DxMIDetector  # noqa: E402

name, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
params = {k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in sys.argv[4:])}
tag = os.environ.get("TAG", "base")
langevin = os.environ.get("LANGEVIN") == "1"
train, test, y = toy2d_task(name, int(os.environ.get("SPLIT", seed)))
start = time.time()
if langevin:
    det = LangevinEBMDetector(random_state=seed, energy_fourier_features=64, **params)
else:
    det = DxMIDetector(random_state=seed, device="cpu", **params)
det.fit(train)
seconds = time.time() - start
auc = roc_auc_score(y, det.decision_function(test))
record = {"set": name, "seed": seed, "tag": tag, "split": os.environ.get("SPLIT")}
record.update(auroc=auc, s=seconds, params=params)
with open(out + ".jsonl", "a") as f:
    f.write(json.dumps(record) + "\n")
if seed == 0:
    g = np.linspace(-4.5, 4.5, 150)
    xx, yy = np.meshgrid(g, g)
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    energy = det.decision_function(grid).reshape(150, 150)
    fig, ax = plt.subplots(1, 2, figsize=(9, 4))
    im = ax[0].imshow(energy, origin="lower", extent=[-4.5, 4.5, -4.5, 4.5])
    plt.colorbar(im, ax=ax[0])
    ax[0].set_title(f"{name} {tag}: energy, AUROC {auc:.3f}")
    if not langevin:
        drawn = det.sample(2000)
        ax[1].scatter(drawn[:, 0], drawn[:, 1], s=1, c="C1")
    ax[1].set_xlim(-4.5, 4.5)
    ax[1].set_ylim(-4.5, 4.5)
    ax[1].set_title("sampler draws")
    fig.tight_layout()
    fig.savefig(f"{out}-{name}-{tag}.png", dpi=70)
print(name, seed, tag, round(auc, 4), round(seconds, 1))
