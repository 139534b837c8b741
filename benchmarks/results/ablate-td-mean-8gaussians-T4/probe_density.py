"""Density probe: the grid KL of DxMI's EBM on 8gaussians for one seed and a set of overrides.

Run from the repository root: python PATH/probe_density.py TAG SEED KEY=VALUE ...
Appends one JSON record to probes.jsonl (in the current directory).
"""

import json
import sys
import time

import torch

sys.path.insert(0, "src")
from dxmi.config import load_config  # noqa: E402
from dxmi.data import sample_toy  # noqa: E402
from dxmi.evaluation import density_metrics, energy_temperature  # noqa: E402
from dxmi.training import fit_points  # noqa: E402

torch.set_num_threads(1)
tag, seed, *sets = sys.argv[1:]
seed = int(seed)
fixed = [f"run.seed={seed}", "run.progress=false", "run.cpu=true", "run.log_every=25"]
config = load_config("configs/8gaussians.yaml", [*fixed, *sets])
points = sample_toy("8gaussians", config.data.n_train, seed)
t0 = time.perf_counter()
model, history = fit_points(config, points)
secs = time.perf_counter() - t0
temp = energy_temperature(config.dxmi.tau1, 2)
m = density_metrics(model.energy, "8gaussians", config.eval, temp)
rec = {"tag": tag, "seed": seed, "sets": sets, "seconds": round(secs, 1), **m}
print(json.dumps(rec))
with open("probes.jsonl", "a") as f:
    f.write(json.dumps(rec) + "\n")
