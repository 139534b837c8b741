"""Why DxMI's EBM stops at a ring on 8gaussians: one seed, a set of overrides, with pictures.

Run from the repository root:

    python benchmarks/results/density-probes-8gaussians/probe.py TAG SEED [--no-td] [--refit] \
        KEY=VALUE ...

Every run starts from the density benchmark's DxMI setting (configs/8gaussians.yaml with
dxmi.td_update=mean, dxmi.gamma=2) plus the overrides. `--no-td` is a diagnostic, not a
method: the shared network's TD loss is replaced by zero (its Adam moments still move it), so
the one network is trained by the EBM loss alone. `--refit` trains a fresh energy MLP (same
size, same loss, 3,000 Adam steps) against the finished, frozen sampler's samples: how much
an energy can still learn from those negatives. Appends a JSON record to probes.jsonl and
draws TAG-sSEED.png (energy, exp(-E/T), samples beside the data) in this folder.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, "src")
import dxmi.irl.trainer as trainer_module  # noqa: E402
from dxmi.config import load_config  # noqa: E402
from dxmi.data import sample_toy  # noqa: E402
from dxmi.evaluation import density_metrics, energy_temperature, reference_log_density  # noqa: E402
from dxmi.irl.losses import ebm_loss  # noqa: E402
from dxmi.networks import EnergyMLP  # noqa: E402
from dxmi.training import fit_points  # noqa: E402

HERE = Path(__file__).parent
BASE = ["dxmi.td_update=mean", "dxmi.gamma=2"]


def refit_energy(data: torch.Tensor, samples: torch.Tensor, gamma: float, steps: int = 3000):
    """A fresh energy trained by the EBM loss against fixed negatives."""
    torch.manual_seed(0)
    energy = EnergyMLP(2, hidden=128, layers=3)
    opt = torch.optim.Adam(energy.parameters(), 1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        pos = data[torch.randint(len(data), (512,), generator=g)]
        neg = samples[torch.randint(len(samples), (512,), generator=g)]
        e = energy(torch.cat([pos, neg]))
        loss = ebm_loss(e[:512], e[512:], gamma)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return energy


def main() -> None:
    torch.set_num_threads(1)
    args = sys.argv[1:]
    no_td, refit = "--no-td" in args, "--refit" in args
    tag, seed, *sets = [a for a in args if a not in ("--no-td", "--refit")]
    seed = int(seed)
    if no_td:
        trainer_module.td_loss = lambda v, target: (v * 0).sum()
    fixed = [f"run.seed={seed}", "run.progress=false", "run.cpu=true", "run.log_every=25"]
    config = load_config("configs/8gaussians.yaml", [*fixed, *BASE, *sets])
    points = sample_toy("8gaussians", config.data.n_train, seed)
    t0 = time.perf_counter()
    model, history = fit_points(config, points)
    seconds = time.perf_counter() - t0
    temp = energy_temperature(config.dxmi.tau1, 2)
    energy_fn = model.energy
    if refit:
        std = model.standardizer
        samples = torch.from_numpy(std.transform(model.sample(20000, seed=3))).float()
        data = torch.from_numpy(std.transform(points)).float()
        net = refit_energy(data, samples, config.dxmi.gamma)

        def energy_fn(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return net(torch.from_numpy(std.transform(x)).float()).double().numpy()

    metrics = density_metrics(energy_fn, "8gaussians", config.eval, temp)
    grid, _ = reference_log_density("8gaussians", config.eval)
    n, ext = config.eval.grid_size, config.eval.grid_extent
    e = energy_fn(grid).reshape(n, n)
    shown = model.sample(3000, seed=1)
    fig, ax = plt.subplots(1, 3, figsize=(13, 4))
    box = [-ext, ext, -ext, ext]
    ax[0].imshow(e, origin="lower", extent=box)
    ax[0].set_title("energy E(x)")
    ax[1].imshow(np.exp(-(e - e.min()) / temp), origin="lower", extent=box)
    ax[1].set_title(f"exp(-E / {temp:g}): KL {metrics['ebm_kl']:.3f}")
    ax[2].scatter(points[:3000, 0], points[:3000, 1], s=1, c="0.7", label="data")
    ax[2].scatter(shown[:, 0], shown[:, 1], s=1, label="DxMI samples")
    ax[2].set(xlim=(-ext, ext), ylim=(-ext, ext), aspect="equal", title="samples")
    ax[2].legend(loc="upper right", markerscale=5)
    fig.suptitle(f"{tag}: {' '.join(sets) or 'the benchmark setting'}")
    fig.savefig(HERE / f"{tag}-s{seed}.png", dpi=70)
    plt.close(fig)
    record = {
        "tag": tag,
        "seed": seed,
        "sets": sets,
        "no_td": no_td,
        "refit": refit,
        "seconds": round(seconds, 1),
        **metrics,
        "sigma": model.policy.log_sigma.exp().tolist(),
        "e_data": history[-1]["e_data"],
        "e_sample": history[-1]["e_sample"],
    }
    print(json.dumps(record))
    with open(HERE / "probes.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
