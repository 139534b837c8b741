"""Probe: which teacher (eps network, features, budget, learning-rate schedule) learns the
structure of a 2D set? Trains one DDPM teacher per (variant, dataset), draws 1000-step ancestral
samples and scores k-NN precision / recall against held-out points beside the data floor.

    python benchmarks/probes/point_teacher.py --datasets 2spirals checkerboard \
        --variant plain:iterations=6000 --variant ff:fourier_features=64,iterations=6000 \
        --out benchmarks/results/probes-point-teacher
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def _job(name: str, spec: dict, dataset: str, seed: int, n: int) -> dict:
    import torch

    from dxmi.config import load_config
    from dxmi.data import Standardizer
    from dxmi.diffusion import sample
    from dxmi.metrics import precision_recall, sliced_wasserstein
    from dxmi.models.factories import build_policy
    from dxmi.runs.points import load_run_data
    from dxmi.runs.teachers import train_teacher

    torch.set_num_threads(1)
    source = [f"data.name={dataset}"]
    if dataset.endswith((".npy", ".csv")):  # points of any width from a file
        source = ["data.name=file", f"data.path={dataset}"]
    config = load_config(
        "configs/8gaussians.yaml",
        [
            *source,
            f"run.seed={seed}",
            f"data.seed={seed}",
            "dxmi.steps=1000",
            "dxmi.timestep_spacing=linear",
            "dxmi.learn_last_sigma=false",
            "dxmi.last_sigma=0.001",
        ]
        + [f"{k}={v}" for k, v in spec.items()],
    )
    data = load_run_data(config)
    std = Standardizer.fit(data.train, True)
    x = torch.from_numpy(std.transform(data.train))
    t0 = time.time()
    eps, losses = train_teacher(config, x)
    train_s = time.time() - t0
    policy = build_policy(config, eps)
    gen = torch.Generator().manual_seed(1234)
    samples = std.inverse(sample(policy, n, data.dim, gen).numpy())
    held = data.holdout[:n]
    p, r = precision_recall(held, samples)
    fp, fr = precision_recall(held, data.train[:n])
    return {
        "variant": name,
        "dataset": Path(dataset).stem,
        "seed": seed,
        "train_s": round(train_s, 1),
        "iterations": len(losses),
        "precision": p,
        "recall": r,
        "floor_precision": fp,
        "floor_recall": fr,
        "sliced_w2": sliced_wasserstein(samples, held, 200, 0),
        "dim": data.dim,
        "samples": samples[:2000, :2].tolist(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", nargs="+", default=["2spirals", "checkerboard"])
    ap.add_argument("--variant", action="append", required=True, help="name:key=v,key=v")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    variants = {}
    for v in args.variant:
        name, _, rest = v.partition(":")
        spec = {}
        for kv in filter(None, rest.split(",")):
            k, _, val = kv.partition("=")
            spec[k if "." in k else f"teacher.{k}"] = val
        variants[name] = spec
    jobs = [
        (n, s, d, seed, args.n)
        for n, s in variants.items()
        for d in args.datasets
        for seed in args.seeds
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        recs = list(pool.map(_job, *zip(*jobs)))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(args.datasets),
        len(variants),
        squeeze=False,
        figsize=(2.4 * len(variants), 2.4 * len(args.datasets)),
    )
    for r in recs:
        stems = [Path(d).stem for d in args.datasets]
        i, j = stems.index(r["dataset"]), list(variants).index(r["variant"])
        if r["seed"] != args.seeds[0]:
            continue
        pts = np.asarray(r["samples"])
        ax = axes[i, j]
        ax.scatter(pts[:, 0], pts[:, 1], s=0.4, alpha=0.4)
        ax.set_xlim(-4.5, 4.5), ax.set_ylim(-4.5, 4.5), ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{r['variant']}\nP {r['precision']:.2f} R {r['recall']:.2f}", fontsize=7)
        if j == 0:
            ax.set_ylabel(r["dataset"], fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "samples.png", dpi=100)
    for r in recs:
        r.pop("samples")
    with (args.out / "records.jsonl").open("a") as fh:
        for r in recs:
            fh.write(json.dumps({**r, "spec": variants[r["variant"]]}) + "\n")
    for r in recs:
        print(
            f"{r['variant']:>14} {r['dataset']:>12} s{r['seed']} it {r['iterations']:>6} "
            f"{r['train_s']:>6.0f}s  P {r['precision']:.3f} R {r['recall']:.3f}  "
            f"floor P {r['floor_precision']:.3f} R {r['floor_recall']:.3f}  "
            f"sw2 {r['sliced_w2']:.3f}"
        )


if __name__ == "__main__":
    main()
