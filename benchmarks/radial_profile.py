"""Where a point run puts its mass by radius: every chain state, DxMI's and the un-tuned start's,
against held-out data, and the energy along the radius (a probe for rings-like sets, not a table).

    python benchmarks/radial_profile.py --run runs/bench-toy2d/runs/rings_T4_dxmi-shared_s0 \
        --out DIR

Writes DIR/radial.png (data vs samples; each chain state; energy by radius, the band the spread
over angles) and DIR/radial.json (the samples' mass by the data's radial modes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import find_peaks  # noqa: E402

from dxmi.models.factories import build_policy  # noqa: E402
from dxmi.models.points import DxMIModel  # noqa: E402
from dxmi.runs.points import load_run_data, load_run_teacher  # noqa: E402


def _radius(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x, axis=-1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True, help="a 2D point run directory")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args()

    model = DxMIModel.load(args.run)
    if model.dim != 2:
        raise SystemExit(f"{args.run}: a 2D run is needed, this one has {model.dim} dimensions")
    data = load_run_data(model.config).holdout
    teacher = load_run_teacher(args.run, model.config, 2)
    chains = {"DxMI": model.chain(args.n, seed=args.seed)}
    if teacher is not None:  # the un-tuned start: the same policy class on the teacher
        start = dataclasses.replace(model, policy=build_policy(model.config, teacher))
        chains["un-tuned start"] = start.chain(args.n, seed=args.seed)

    r_max = float(np.quantile(_radius(data), 0.999)) * 1.25
    bins = np.linspace(0, r_max, 161)
    fig, ax = plt.subplots(2 + len(chains), 1, figsize=(9, 3 * (2 + len(chains))), sharex=True)
    ax[0].hist(_radius(data), bins, density=True, alpha=0.5, label="held-out data")
    ax[0].hist(_radius(chains["DxMI"][-1]), bins, density=True, alpha=0.5, label="DxMI samples")
    ax[0].set_ylabel("density by radius")
    for a, (name, chain) in zip(ax[1:], chains.items()):
        for i in range(1, len(chain)):
            a.hist(_radius(chain[i]), bins, density=True, histtype="step", label=f"state {i}")
        a.set_ylabel(f"{name}: chain states")
    radii = np.linspace(0, r_max, 400)
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], -1)
    e = model.energy((radii[:, None, None] * ring[None]).reshape(-1, 2)).reshape(len(radii), -1)
    ax[-1].plot(radii, e.mean(1), label="energy, mean over angle")
    ax[-1].fill_between(radii, e.min(1), e.max(1), alpha=0.2, label="min-max over angle")
    ax[-1].set_ylabel("energy")
    ax[-1].set_xlabel("radius (data units)")
    for a in ax:
        a.legend(fontsize=8)
    ax[0].set_title(str(args.run))
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "radial.png", dpi=90, bbox_inches="tight")

    # the data's radial modes, and each sample's nearest one
    hist, edges = np.histogram(_radius(data), bins, density=True)
    peaks, _ = find_peaks(hist, prominence=0.3 * hist.max())
    modes = (edges[peaks] + edges[peaks + 1]) / 2

    def gap(x: np.ndarray) -> np.ndarray:
        return np.abs(_radius(x)[:, None] - modes[None])

    def share(x: np.ndarray) -> list[float]:
        return (np.bincount(gap(x).argmin(1), minlength=len(modes)) / len(x)).round(4).tolist()

    # "on a mode": as close to one as 95 % of the held-out data
    reach = float(np.quantile(gap(data).min(1), 0.95))

    out = {
        "run": str(args.run),
        "modes_radius": modes.round(3).tolist(),
        "share_by_mode": {"data": share(data)}
        | {name: share(chain[-1]) for name, chain in chains.items()},
        "mode_reach": round(reach, 4),
        "share_on_a_mode": {
            name: round(float((gap(c[-1]).min(1) <= reach).mean()), 4) for name, c in chains.items()
        },
    }
    (args.out / "radial.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
