"""DxMIDetector on a built-in 2D set (anomaly.py's toy2d split, seed 0): the training points, the
energy on a grid with the test AUROC, and the sampler's draws. A probe of issue 31.

    python benchmarks/results/anomaly-toy2d-probes/energy_picture.py rings OUT.png KEY=VALUE ...

KEY=VALUE are DxMIDetector parameters (run from the repository root).
"""

import sys

import matplotlib
import numpy as np
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

sys.path.insert(0, "benchmarks")
from anomaly import toy2d_task  # noqa: E402

from dxmi.detect.points import DxMIDetector  # noqa: E402

name, out = sys.argv[1], sys.argv[2]
params = {k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in sys.argv[3:])}
train, test, y = toy2d_task(name, 0)
det = DxMIDetector(random_state=0, device="cpu", **params).fit(train)
auc = roc_auc_score(y, det.decision_function(test))
g = np.linspace(-4.5, 4.5, 200)
xx, yy = np.meshgrid(g, g)
grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
energy = det.decision_function(grid).reshape(200, 200)
drawn = det.sample(2000)
fig, ax = plt.subplots(1, 3, figsize=(13, 4.2))
ax[0].scatter(train[:, 0], train[:, 1], s=1)
ax[0].set_title(f"{name}: training points")
im = ax[1].imshow(energy, origin="lower", extent=[-4.5, 4.5, -4.5, 4.5])
plt.colorbar(im, ax=ax[1])
ax[1].set_title(f"energy (test AUROC {auc:.3f})")
ax[2].scatter(drawn[:, 0], drawn[:, 1], s=1, c="C1")
ax[2].set_xlim(-4.5, 4.5)
ax[2].set_ylim(-4.5, 4.5)
ax[2].set_title("the sampler's draws")
fig.suptitle(f"DxMIDetector({params})" if params else "DxMIDetector() at its defaults")
fig.tight_layout()
fig.savefig(out, dpi=80)
print(name, params, auc)
