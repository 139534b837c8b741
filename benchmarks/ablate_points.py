"""DxMI settings side by side on 2D data: each variant x seed from the same teachers.

An ablation or tuning sweep: every variant is a list of config overrides applied to the same base
config, dataset, T and teachers (one per seed, trained once and kept in --work, so a second sweep
reuses them), scored with the same metrics as benchmarks/toy2d.py. Prints a table of medians
(min-max) and writes results.md, results.json and partial.jsonl (kept if interrupted).

    python benchmarks/ablate_points.py --steps 4 --seeds 0 1 2 \\
        --variant base --variant slow-sampler:dxmi.sampler_lr=5e-5 \\
        --variant cosine:dxmi.lr_schedule=cosine,dxmi.iterations=2500
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import commit_label, environment, run_jobs, write_results_json
from toy2d import QUICK, markdown

KEYS = [
    "precision",
    "recall",
    "hist_kl",
    "mmd",
    "sliced_w2",
    "energy_distance",
    "mode_fraction",
    "mode_kl",
    "ebm_kl",
    "ebm_kl_calibrated",
]


def parse_variant(text: str) -> tuple[str, list[str]]:
    """'name:key=value,key=value' (or just 'name': the base config) -> (name, overrides)."""
    name, _, rest = text.partition(":")
    overrides = [o for o in rest.split(",") if o]
    if not name or any("=" not in o for o in overrides):
        raise SystemExit(f"--variant '{text}': expected name:key=value,key=value")
    return name, overrides


def _config(args, seed: int, extra: list[str]):
    from dxmi.config import load_config

    overrides = [
        f"data.name={args.dataset}",
        f"data.seed={seed}",
        f"run.seed={seed}",
        f"dxmi.steps={args.steps}",
        "run.progress=false",
        "run.cpu=true",
        *extra,
    ]
    return load_config(args.config, (QUICK if args.quick else []) + overrides)


def teacher_job(args, seed: int) -> list[dict]:
    """Train the seed's teacher unless --work already holds it."""
    from dxmi.checkpoint import save_checkpoint
    from dxmi.data import Standardizer
    from dxmi.runs.points import load_run_data
    from dxmi.runs.teachers import train_teacher

    path = args.work / f"teacher_{args.dataset}_{seed}"
    if not path.with_suffix(".safetensors").exists():
        import torch

        config = _config(args, seed, [])
        data = load_run_data(config)
        std = Standardizer.fit(data.train, config.data.standardize)
        eps, _ = train_teacher(config, torch.from_numpy(std.transform(data.train)))
        save_checkpoint(path, {"eps_model": eps.state_dict()})
    return []


def variant_job(args, name: str, overrides: list[str], seed: int) -> list[dict]:
    from dxmi.checkpoint import load_checkpoint
    from dxmi.irl.trainer import TrainingDiverged
    from dxmi.models.factories import build_eps_model
    from dxmi.runs.points import train

    config = _config(args, seed, [*overrides, "eval.teacher_steps=0"])  # scored by toy2d.py
    teacher = build_eps_model(config, 2)
    teacher.load_state_dict(
        load_checkpoint(args.work / f"teacher_{args.dataset}_{seed}")[0]["eps_model"]
    )
    run = args.work / "ablate" / f"{args.dataset}_T{args.steps}_{name}_s{seed}"
    t0 = time.time()
    rec = {"method": name, "dataset": args.dataset, "steps": args.steps, "seed": seed}
    try:
        train(config, run, overwrite=True, teacher=teacher)
    except TrainingDiverged as err:
        return [rec | {"sliced_w2": float("nan"), "diverged": str(err)}]
    m = json.loads((run / "metrics.json").read_text())
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    curve = [round(h["sliced_w2"], 4) for h in history if "sliced_w2" in h]
    return [
        rec
        | m["dxmi"]
        | m.get("ebm", {})
        | {"overrides": overrides, "w2_curve": curve, "seconds": round(time.time() - t0, 1)}
    ]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="configs/8gaussians.yaml")
    p.add_argument("--dataset", default="8gaussians")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument(
        "--variant",
        action="append",
        required=True,
        help="name:key=value,key=value (repeatable; 'name' alone is the base config)",
    )
    p.add_argument("--workers", type=int, default=2, help="parallel processes, 1 thread each")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/ablate-points"))
    p.add_argument("--work", type=Path, default=Path("runs/ablate-points"))
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
    args = p.parse_args(argv)
    variants = dict(parse_variant(v) for v in args.variant)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    env = environment("cpu", args.workers)
    teachers = [(teacher_job, (args, s)) for s in args.seeds]
    run_jobs(teachers, args.workers, args.work / "teachers.jsonl", lambda a: f"teacher {a[1]}")
    jobs = [(variant_job, (args, n, o, s)) for n, o in variants.items() for s in args.seeds]
    records = run_jobs(jobs, args.workers, args.out / "partial.jsonl", lambda a: f"{a[1]} {a[3]}")
    env["wall_seconds"] = round(time.time() - t0, 1)
    write_results_json(args.out, env, records)
    names = list(variants)
    lines = [
        f"# DxMI ablation: {args.dataset}, T = {args.steps}\n",
        f"`{env['command']}`  \n{env['date']}, {env['machine']}, {env['workers']} workers, "
        f"torch {env['torch']}, commit {commit_label(env)}, {env['wall_seconds']:.0f} s wall. "
        f"Base config {args.config}; medians over seeds {args.seeds} (min-max).\n",
        "| variant | overrides |\n|---|---|",
        *[f"| {n} | {', '.join(o) or '(base)'} |" for n, o in variants.items()],
    ]
    for key in KEYS:
        lines += [f"\n## {key}\n", markdown(records, key, names, 4)]
    text = "\n".join(lines) + "\n"
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
