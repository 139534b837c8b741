"""DxMI against the few-step samplers a user would pick instead, on 2D toy data.

For every dataset, number of steps T and seed, side by side on the same data and the same teacher:

    dxmi-shared        DxMI, shared DxDP variant (one energy/value network)
    dxmi-separate      DxMI, separate variant (energy + time-conditioned value)
    dxmi-no-entropy    ablation: dxmi-shared with tau1 = 0
    ddpm-T             a DDPM trained directly on the T noise levels, ancestral sampling
    teacher+ddim       the 1000-step teacher, DDIM with T steps (diffusers)
    teacher+dpm++      the teacher, DPM-Solver++(2M) with T steps (diffusers)
    teacher+unipc      the teacher, UniPC with T steps (diffusers)
    teacher+ancestral  the teacher, T-step ancestral sampler (where DxMI starts from)
    teacher-1000       the teacher with all 1000 ancestral steps (the reference)
    floor              real data against real data (two independent samples)

Every method is scored with the same metrics on the same number of samples against the same
held-out points: k-NN precision / recall (they see whether samples lie on the structure), a
multi-bandwidth MMD, the 2D histogram KL / TV, sliced W2 and energy distance, 8gaussians mode
coverage; the EBM's grid KL to the true density for the DxMI rows. All settings come from one
config (default: configs/8gaussians.yaml), with data.name, dxmi.steps and the seeds overridden.
The last table checks the bar of the point-data issue at T = 4 (medians over seeds): DxMI's
precision and recall at least 0.9x the teacher's, its sliced W2 and histogram KL below both
DPM-Solver++'s and UniPC's.

    python benchmarks/toy2d.py --workers 2                  # the full table (CPU hours)
    python benchmarks/toy2d.py --quick                      # a one-minute smoke run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np
from common import (
    add_override_arguments,
    commit_label,
    environment,
    init_worker,
    overrides_at,
    write_results_json,
)

METHODS = [
    "dxmi-shared",
    "dxmi-separate",
    "dxmi-no-entropy",
    "ddpm-T",
    "teacher+ddim",
    "teacher+dpm++",
    "teacher+unipc",
    "teacher+ancestral",
    "teacher-1000",
    "floor",
]
SOLVER_METHODS = {
    "teacher+ddim": "ddim",
    "teacher+dpm++": "dpmsolver++",
    "teacher+unipc": "unipc",
    "teacher+ancestral": "ancestral",
}
DATASETS = ["8gaussians", "checkerboard", "2spirals", "pinwheel", "swissroll", "rings", "moons"]
DXMI_METHODS = {
    "dxmi-shared": ["dxmi.variant=shared"],
    "dxmi-separate": ["dxmi.variant=separate"],
    "dxmi-no-entropy": ["dxmi.variant=shared", "dxmi.tau1=0"],
}
QUICK = [
    "teacher.iterations=300",
    "dxmi.iterations=40",
    "eval.n_samples=500",
    "eval.n_projections=100",
    "eval.grid_size=50",
    "eval.every=0",
    "eval.teacher_steps=100",
    "data.n_train=2000",
    "data.n_holdout=500",
]


# ---------------------------------------------------------------------------------------------
# jobs (run in worker processes; each returns a list of result records)


def _config(args, dataset: str, seed: int, steps: int, extra: list[str] = ()):
    from dxmi.config import load_config

    overrides = [
        f"data.name={dataset}",
        f"data.seed={seed}",
        f"run.seed={seed}",
        f"dxmi.steps={steps}",
        "run.progress=false",
        f"run.cpu={args.device == 'cpu'}",
        *overrides_at(args, steps),
        *extra,
    ]
    return load_config(args.config, (QUICK if args.quick else []) + overrides)


def _device(config) -> str:
    import torch

    return "cuda" if torch.cuda.is_available() and not config.run.cpu else "cpu"


def _prepare(config):
    """Data, standardiser and standardised training tensor, exactly as `dxmi.train` makes them."""
    import torch

    from dxmi.data import Standardizer
    from dxmi.runs.points import load_run_data

    data = load_run_data(config)
    std = Standardizer.fit(data.train, config.data.standardize)
    return data, std, torch.from_numpy(std.transform(data.train)).to(_device(config))


def _noise(config):
    """The evaluation noise (the same for every method) and a generator for the sampler."""
    import torch

    dev = _device(config)
    gen = torch.Generator(dev).manual_seed(config.eval.seed)
    return torch.randn((config.eval.n_samples, 2), generator=gen, device=dev), gen


def _record(method, dataset, steps, seed, metrics, seconds, **extra) -> dict:
    return {
        "method": method,
        "dataset": dataset,
        "steps": steps,
        "seed": seed,
        "seconds": round(seconds, 2),
        **metrics,
        **extra,
    }


def teacher_job(args, dataset: str, seed: int) -> list[dict]:
    """Train the 1000-step teacher (or reuse the one in --work); score it at 1000 steps and
    with each solver at every T."""
    from dxmi.checkpoint import load_checkpoint, save_checkpoint
    from dxmi.diffusion import solver_sample
    from dxmi.models.factories import build_eps_model
    from dxmi.runs.evaluation import floor_metrics, sample_metrics
    from dxmi.runs.teachers import train_teacher

    config = _config(args, dataset, seed, max(_steps(args, dataset)))
    data, std, x = _prepare(config)
    stem = args.work / f"teacher_{dataset}_{seed}"
    if args.resume and stem.with_suffix(".json").is_file():
        state, meta = load_checkpoint(stem)
        eps = build_eps_model(config, data.dim).to(x.device)
        eps.load_state_dict(state["eps_model"])
        eps.eval()
        train_s, iterations = meta["train_seconds"], meta["iterations"]
    else:
        t0 = time.time()
        eps, losses = train_teacher(config, x)
        train_s, iterations = time.time() - t0, len(losses)
        meta = {"train_seconds": train_s, "iterations": iterations}
        save_checkpoint(stem, {"eps_model": eps.state_dict()}, meta)
    t = config.teacher
    kw = dict(
        num_train_timesteps=t.num_train_timesteps, beta_start=t.beta_start, beta_end=t.beta_end
    )
    out = [_record("floor", dataset, 0, seed, floor_metrics(data, config.eval), 0.0)]
    if seed == args.seeds[0]:
        out[0]["samples"] = data.holdout[:2000].tolist()
    todo = [("teacher-1000", "ancestral", t.num_train_timesteps, 0)]
    todo += [(m, s, T, T) for T in _steps(args, dataset) for m, s in SOLVER_METHODS.items()]
    # the spacing the DxMI runs at each T use (a --set-at may change it per T)
    spacing_at = {
        T: _config(args, dataset, seed, T).dxmi.timestep_spacing for T in _steps(args, dataset)
    }
    for method, solver, n_steps, row_steps in todo:
        noise, gen = _noise(config)
        spacing = spacing_at.get(n_steps, "linear")  # all 1000 steps: every spacing is linear
        t0 = time.time()
        z = solver_sample(eps, noise, solver, n_steps, generator=gen, spacing=spacing, **kw)
        samples = std.inverse(z.cpu().numpy())
        rec = _record(
            method,
            dataset,
            row_steps,
            seed,
            sample_metrics(samples, data, config.eval),
            time.time() - t0,
            teacher_train_seconds=round(train_s, 1),
            teacher_iterations=iterations,
        )
        if seed == args.seeds[0] and row_steps in (0, args.picture_steps):
            rec["samples"] = samples[:2000].tolist()
        out.append(rec)
    return out


def ddpm_t_job(args, dataset: str, seed: int, steps: int) -> list[dict]:
    """A DDPM trained only on the T noise levels the few-step sampler visits."""
    from dxmi.diffusion import sample, select_timesteps
    from dxmi.models.factories import build_policy
    from dxmi.runs.evaluation import sample_metrics
    from dxmi.runs.teachers import train_teacher

    config = _config(args, dataset, seed, steps)
    data, std, x = _prepare(config)
    t0 = time.time()
    timesteps = select_timesteps(
        config.teacher.num_train_timesteps, steps, config.dxmi.timestep_spacing
    )
    eps, _ = train_teacher(config, x, timesteps=timesteps)
    policy = build_policy(config, eps).to(x.device)
    _, gen = _noise(config)
    samples = std.inverse(sample(policy, config.eval.n_samples, 2, gen).cpu().numpy())
    rec = _record(
        "ddpm-T", dataset, steps, seed, sample_metrics(samples, data, config.eval), time.time() - t0
    )
    if seed == args.seeds[0] and steps == args.picture_steps:
        rec["samples"] = samples[:2000].tolist()
    return [rec]


def dxmi_job(args, dataset: str, seed: int, steps: int, method: str) -> list[dict]:
    """DxMI from the (dataset, seed) teacher; the run directory keeps its pictures and logs."""
    from dxmi.checkpoint import load_checkpoint
    from dxmi.irl.trainer import TrainingDiverged
    from dxmi.models.factories import build_eps_model
    from dxmi.models.points import DxMIModel
    from dxmi.runs.points import train

    # the teacher job scores the teacher and its solvers once for every T
    extra = [*DXMI_METHODS[method], "eval.teacher_steps=0"]
    config = _config(args, dataset, seed, steps, extra)
    run = args.work / "runs" / f"{dataset}_T{steps}_{method}_s{seed}"
    t0 = time.time()
    if args.resume and (run / "metrics.json").is_file():  # finished by an earlier invocation
        model = DxMIModel.load(run)
        m = json.loads((run / "metrics.json").read_text())
        seconds = float("nan")  # not recorded by the run itself (its metrics.json stays exact)
    else:
        teacher = build_eps_model(config, 2)
        state = load_checkpoint(args.work / f"teacher_{dataset}_{seed}")[0]["eps_model"]
        teacher.load_state_dict(state)
        try:
            model = train(config, run, overwrite=True, teacher=teacher)
        except TrainingDiverged as err:
            nan = {"sliced_w2": float("nan")}
            return [_record(method, dataset, steps, seed, nan, time.time() - t0, diverged=str(err))]
        m = json.loads((run / "metrics.json").read_text())
        seconds = time.time() - t0
    rec = _record(method, dataset, steps, seed, m["dxmi"], seconds, **m.get("ebm", {}))
    if seed == args.seeds[0] and steps == args.picture_steps:
        rec["samples"] = model.sample(2000, seed=config.eval.seed).tolist()
    return [rec]


# ---------------------------------------------------------------------------------------------
# scheduling, tables, pictures


def _steps(args, dataset: str) -> list[int]:
    """The T values run on `dataset`: `--steps`, or its `--steps-for DATASET=T,T` entry."""
    return args.steps_for.get(dataset, args.steps)


def _dxmi_methods(args, steps: int) -> list[str]:
    """The DxMI rows run at T = steps: those of `--dxmi`, the no-entropy ablation only at
    `--ablation-at`."""
    at = args.ablation_at if args.ablation_at is not None else args.steps
    return [m for m in args.dxmi if m != "dxmi-no-entropy" or steps in at]


def run_all(args) -> list[dict]:
    """Keep `workers` jobs in flight, a teacher's DxMI runs ahead of the next teacher, so that
    finished (dataset, seed) rows arrive early. Every finished job is appended to partial.jsonl:
    an interrupted benchmark keeps what it did."""
    records: list[dict] = []
    partial = (args.out / "partial.jsonl").open("w")
    (args.out / "picture-samples").mkdir(exist_ok=True)
    ready: list[tuple] = [  # (kind, function, arguments), taken from the front; seed-major,
        # so that an interrupted run has every dataset at its first seeds
        ("teacher", teacher_job, (args, ds, seed))
        for seed in args.seeds
        for ds in args.datasets
    ]
    ready += [
        ("ddpm-T", ddpm_t_job, (args, ds, seed, T))
        for ds in (args.datasets if args.ddpm_t else [])
        for seed in args.seeds
        for T in _steps(args, ds)
    ]
    total = len(ready) + len(args.seeds) * sum(
        len(_dxmi_methods(args, T)) for ds in args.datasets for T in _steps(args, ds)
    )
    ctx = multiprocessing.get_context("spawn")  # safe with CUDA in the workers
    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=init_worker) as pool:
        pending: dict = {}
        done_n = 0
        while ready or pending:
            while ready and len(pending) < args.workers:
                kind, fn, fn_args = ready.pop(0)
                pending[pool.submit(fn, *fn_args)] = (kind, fn_args[1], fn_args[2])
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                kind, ds, seed = pending.pop(fut)
                new = fut.result()
                records += new
                for r in new:
                    if "samples" in r:  # kept beside partial.jsonl for --from-partial
                        name = f"{r['method']}_{r['dataset']}_T{r['steps']}_s{r['seed']}.npy"
                        np.save(args.out / "picture-samples" / name, np.asarray(r["samples"]))
                    partial.write(json.dumps({k: v for k, v in r.items() if k != "samples"}) + "\n")
                partial.flush()
                done_n += 1
                print(f"[{done_n}/{total}] {kind} {ds} seed {seed} done", flush=True)
                if kind == "teacher":  # its DxMI runs go to the front of the queue
                    ready[:0] = [
                        (f"{method} T={T}", dxmi_job, (args, ds, seed, T, method))
                        for T in _steps(args, ds)
                        for method in _dxmi_methods(args, T)
                    ]
    partial.close()
    return records


def _median(values: list[float]) -> float:
    v = [x for x in values if x == x]  # drop NaN (diverged)
    return float(np.median(v)) if v else float("nan")


def summarise(records: list[dict], key: str) -> dict:
    """{(dataset, T): {method: (median, min, max, n, n_diverged)}}."""
    table: dict = {}
    for r in records:
        if key not in r:
            continue
        steps_rows = (
            [r["steps"]]
            if r["steps"]
            else sorted(
                {x["steps"] for x in records if x["steps"] and x["dataset"] == r["dataset"]}
            )
        )
        for T in steps_rows:  # teacher-1000 and floor appear in every T row
            table.setdefault((r["dataset"], T), {}).setdefault(r["method"], []).append(r[key])
    return {
        k: {
            m: (
                _median(v),
                np.nanmin(v) if any(x == x for x in v) else float("nan"),
                np.nanmax(v) if any(x == x for x in v) else float("nan"),
                len(v),
                sum(x != x for x in v),
            )
            for m, v in row.items()
        }
        for k, row in table.items()
    }


def markdown(records: list[dict], key: str, methods: list[str], digits: int = 3) -> str:
    summary = summarise(records, key)
    methods = [m for m in methods if any(m in row for row in summary.values())]
    lines = ["| dataset | T | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for (ds, T), row in sorted(summary.items()):
        cells = []
        for m in methods:
            if m not in row:
                cells.append("")
                continue
            med, lo, hi, n, bad = row[m]
            cell = f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"
            cells.append(cell + (f" {bad}/{n} diverged" if bad else ""))
        lines.append(f"| {ds} | {T} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _med(records: list[dict], ds: str, method: str, key: str, steps: int | None = None) -> float:
    v = [
        r[key]
        for r in records
        if r["dataset"] == ds
        and r["method"] == method
        and key in r
        and (steps is None or r["steps"] == steps)
    ]
    return _median(v)


def bar_table(records: list[dict], steps: int, dxmi: str = "dxmi-shared") -> str:
    """Per dataset: DxMI's precision / recall against 0.9x the teacher's, its sliced W2 and
    histogram KL against the better of DPM-Solver++ and UniPC at the same T."""
    lines = [
        "| dataset | P / teacher P | R / teacher R | SW2 DxMI vs best solver "
        "| hist KL DxMI vs best solver | bar met |",
        "|---|---|---|---|---|---|",
    ]
    for ds in sorted(
        {r["dataset"] for r in records if r["method"] == dxmi and r["steps"] == steps}
    ):
        p = _med(records, ds, dxmi, "precision", steps) / _med(
            records, ds, "teacher-1000", "precision"
        )
        rc = _med(records, ds, dxmi, "recall", steps) / _med(records, ds, "teacher-1000", "recall")
        cells, ok = [f"{p:.2f}", f"{rc:.2f}"], p >= 0.9 and rc >= 0.9
        for key in ("sliced_w2", "hist_kl"):
            mine = _med(records, ds, dxmi, key, steps)
            best = min(_med(records, ds, m, key, steps) for m in ("teacher+dpm++", "teacher+unipc"))
            cells.append(f"{mine:.3f} vs {best:.3f}")
            ok = ok and mine < best
        lines.append(f"| {ds} | " + " | ".join(cells) + f" | {'yes' if ok else '**no**'} |")
    return "\n".join(lines)


def teacher_table(records: list[dict]) -> str:
    """The teacher's 1000-step precision / recall beside the data floor's, and its budget."""
    lines = [
        "| dataset | teacher P | floor P | teacher R | floor R | iterations | train s "
        "| within 0.05 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ds in sorted({r["dataset"] for r in records if r["method"] == "teacher-1000"}):
        tp, fp = (
            _med(records, ds, "teacher-1000", "precision"),
            _med(records, ds, "floor", "precision"),
        )
        tr, fr = _med(records, ds, "teacher-1000", "recall"), _med(records, ds, "floor", "recall")
        it = _med(records, ds, "teacher-1000", "teacher_iterations")
        sec = _med(records, ds, "teacher-1000", "teacher_train_seconds")
        ok = tp >= fp - 0.05 and tr >= fr - 0.05
        lines.append(
            f"| {ds} | {tp:.3f} | {fp:.3f} | {tr:.3f} | {fr:.3f} | {it:.0f} | {sec:.0f} "
            f"| {'yes' if ok else '**no**'} |"
        )
    return "\n".join(lines)


def picture(records: list[dict], path: Path, steps: int) -> None:
    import matplotlib.pyplot as plt

    import dxmi.plots  # noqa: F401  (sets the file-only matplotlib backend)

    rows = sorted({r["dataset"] for r in records if "samples" in r})
    if not rows:
        return
    cols = [
        m
        for m in [
            "floor",
            "teacher-1000",
            "teacher+dpm++",
            "teacher+unipc",
            "ddpm-T",
            "dxmi-shared",
            "dxmi-separate",
            "dxmi-no-entropy",
        ]
        if any(r["method"] == m and "samples" in r for r in records)
    ]
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(2.2 * len(cols), 2.2 * len(rows)), squeeze=False
    )
    for i, ds in enumerate(rows):
        for j, m in enumerate(cols):
            ax = axes[i, j]
            pts = [
                np.asarray(r["samples"])
                for r in records
                if r["dataset"] == ds and r["method"] == m and "samples" in r
            ]
            if pts:
                ax.scatter(pts[0][:, 0], pts[0][:, 1], s=0.5, alpha=0.4, rasterized=True)
                rec = next(
                    r for r in records if r["dataset"] == ds and r["method"] == m and "samples" in r
                )
                if "precision" in rec:
                    ax.text(
                        0.03,
                        0.03,
                        f"P {rec['precision']:.2f} R {rec['recall']:.2f}",
                        transform=ax.transAxes,
                        fontsize=7,
                    )
            ax.set_xlim(-4.5, 4.5)  # identical axes in every panel
            ax.set_ylim(-4.5, 4.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                label = {"floor": "data (held out)", "teacher-1000": "teacher (1000 steps)"}
                ax.set_title(label.get(m, f"{m} ({steps} steps)"), fontsize=8)
            if j == 0:
                ax.set_ylabel(ds, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="configs/8gaussians.yaml")
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--steps", nargs="+", type=int, default=[4])
    p.add_argument(
        "--steps-for",
        action="append",
        default=[],
        metavar="DATASET=T,T",
        help="the T values of one dataset instead of --steps (repeatable)",
    )
    p.add_argument(
        "--dxmi",
        nargs="+",
        choices=list(DXMI_METHODS),
        default=list(DXMI_METHODS),
        help="the DxMI rows to run",
    )
    p.add_argument(
        "--no-ddpm-t", dest="ddpm_t", action="store_false", help="skip the DDPM-T baseline"
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--workers", type=int, default=2, help="parallel processes, 1 thread each")
    p.add_argument(
        "--device",
        choices=["cpu", "auto"],
        default="cpu",
        help="auto: every job on the GPU when there is one",
    )
    add_override_arguments(p, "config override for the runs at T steps only, repeatable")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/toy2d"))
    p.add_argument(
        "--work",
        type=Path,
        default=Path("runs/benchmark-toy2d"),
        help="teachers and run directories (large; not committed)",
    )
    p.add_argument(
        "--ablation-at",
        nargs="+",
        type=int,
        metavar="T",
        help="run the tau1 = 0 ablation only at these T (default: every T; it costs a third "
        "of the DxMI runs)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse what an earlier run left in --work: its teachers (rescored) and its "
        "finished DxMI runs",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
    p.add_argument(
        "--from-partial",
        action="store_true",
        help="run nothing: write the tables from <out>/partial.jsonl of an interrupted run",
    )
    args = p.parse_args(argv)
    args.steps_for = {
        k: [int(t) for t in v.split(",")]
        for k, _, v in (item.partition("=") for item in args.steps_for)
    }
    args.picture_steps = 4 if 4 in args.steps else args.steps[0]
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    env = environment(args.device, args.workers)
    if args.from_partial:
        lines = (args.out / "partial.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        for r in records:
            name = f"{r['method']}_{r['dataset']}_T{r['steps']}_s{r['seed']}.npy"
            if (args.out / "picture-samples" / name).is_file():
                r["samples"] = np.load(args.out / "picture-samples" / name)
    else:
        records = run_all(args)
    env |= {"wall_seconds": round(time.time() - t0, 1), "quick": args.quick}
    if args.from_partial:
        done: dict = {}
        for r in records:
            if r["method"].startswith("dxmi"):
                done.setdefault(r["dataset"], set()).add(r["seed"])
        seeds = "; ".join(f"{ds} {sorted(v)}" for ds, v in sorted(done.items()))
        env["note"] = (
            "tables made from partial.jsonl of an interrupted run; the DxMI rows hold the "
            f"seeds that finished: {seeds} (medians over those; teacher rows may hold more)"
        )

    picture(records, args.out / "samples.png", args.picture_steps)
    for r in records:
        r.pop("samples", None)
    write_results_json(args.out, env, records)
    sections = [
        f"# 2D toy benchmark\n\n`{env['command']}`  \n{env['date']}, {env['machine']}, "
        f"{env['workers']} workers, torch {env['torch']}, commit {commit_label(env)}, "
        f"{env['wall_seconds']:.0f} s wall. Medians over seeds {args.seeds} "
        "(min-max in brackets). teacher-1000 and floor do not depend on T."
        + (f"  \n**{env['note']}.**" if "note" in env else ""),
        "## k-NN precision: share of samples on the data's manifold (higher is better)",
        markdown(records, "precision", METHODS),
        "## k-NN recall: share of the data covered by the samples (higher is better)",
        markdown(records, "recall", METHODS),
        "## Histogram KL(held-out || samples) on a 32 x 32 grid (lower is better)",
        markdown(records, "hist_kl", METHODS),
        "## MMD^2, sum of Gaussian kernels at 0.05-1x the median distance (lower is better)",
        markdown(records, "mmd", METHODS, 4),
        "## Sliced Wasserstein-2 to held-out data (lower is better)",
        markdown(records, "sliced_w2", METHODS),
        "## Histogram total variation (lower is better)",
        markdown(records, "hist_tv", METHODS),
        "## Energy distance (lower is better)",
        markdown(records, "energy_distance", METHODS, 4),
        "## 8gaussians: fraction of samples within 3 std of a mode (floor ~0.99)",
        markdown([r for r in records if r["dataset"] == "8gaussians"], "mode_fraction", METHODS),
        "## EBM: grid KL(p || exp(-E/T)) to the true density, at the model's temperature",
        markdown(records, "ebm_kl", list(DXMI_METHODS)),
        "## EBM: grid KL at the best single temperature (compares shapes; fair to tau1 = 0)",
        markdown(records, "ebm_kl_calibrated", list(DXMI_METHODS)),
    ]
    sections += ["## The bar at T = 4 (medians over seeds)", bar_table(records, 4)]
    sections += ["## Teacher against the data floor (medians over seeds)", teacher_table(records)]
    text = "\n\n".join(sections) + "\n"
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
