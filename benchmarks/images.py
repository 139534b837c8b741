"""Few-step image generation: DxMI against the training-free samplers of the same teacher.

One teacher (``dxmi pretrain``), then, at every T: DxMI (``dxmi finetune``, one run per seed),
the un-tuned T-step policy DxMI starts from, DDIM, DPM-Solver++ (2M), UniPC and the teacher's
own T-step ancestral sampler; also the teacher at 1000 steps and the data floor (held-out real
images). Every method is scored on the same number of samples against the same reference set
(the training images) with the same features; the table prints both beside the scores.

    # `make benchmark-images`: the CPU table, three seeds at T = 4 and 10 (2 cores: 58 min on
    # a normal day, 70 on a slow one; README)
    python benchmarks/images.py --config configs/mnist-cpu.yaml --seeds 0 1 2 --workers 2 \
        --set-at 10 dxmi.iterations=500 --out benchmarks/results/images-cpu-t10-500
    python benchmarks/images.py --config configs/mnist-gpu.yaml --out OUT --workers 1   # one GPU

Writes OUT/table.md, OUT/results.json, OUT/partial.jsonl (every finished job, as it ends),
OUT/grids/*.png (64 samples per method), OUT/teacher/ and OUT/dxmi-T*-s*/ run directories and
OUT/teacher-shards/ (the 1000-step teacher's samples, one .npy per parallel job).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    add_override_arguments,
    commit_label,
    environment,
    overrides_at,
    read_partial,
    run_jobs,
    write_results_json,
)

BASELINES = ("ddim", "dpmsolver++", "unipc", "ancestral")
FEATURES = {  # eval.feature_net -> what the table says the scores are computed on
    "mnist": "the shipped MNIST classifier's 128-d features",
    "cifar10": "the shipped CIFAR-10 (16x16) classifier's 128-d features",
    "inception": "the FID Inception's 2048-d pool features",
    "pixels": "pixels",
}
TEACHER_STEPS = 1000  # the teacher's own sampler at every step of its schedule
SHARD = "teacher-shard"  # the records of teacher_shard_job, merged into one "teacher" record


def image_config(path: str, sets: list[str], steps: int | None = None, seed: int | None = None):
    """The image config at `path` with `sets` overrides (plus T and the seed), no progress bars."""
    from dxmi.config import ImageConfig, load_config

    extra = []
    if steps is not None:
        extra.append(f"dxmi.steps={steps}")
    if seed is not None:
        extra.append(f"run.seed={seed}")
    config = load_config(path, [*sets, *extra, "run.progress=false"], cls=ImageConfig)
    return config


def _scorer(config):
    from dxmi.runs.images import load_image_run_data, make_scorer

    data = load_image_run_data(config)
    return data, make_scorer(config, data)


def _record(method: str, steps: int, seed: int, scores: dict, seconds: float | None) -> dict:
    return {"method": method, "steps": steps, "seed": seed, **scores, "seconds_per_1000": seconds}


def _solver_draw(config, out: str, shape: tuple, solver: str, steps: int, seed: int):
    """`draw(n, labels)`: n images of `shape` (of the classes `labels` for a class-conditional
    teacher) from a sampler of the teacher in `out`, from noise seeded `seed` afresh at every
    call (see `timed_samples`); also the device it runs on and the teacher's classes."""
    import torch

    from dxmi.models.images import SolverSampler, sampling_precision
    from dxmi.networks.unet import UNetEpsilon, load_unet_teacher

    unet, schedule = load_unet_teacher(Path(out) / "teacher" / "teacher")
    device = "cuda" if torch.cuda.is_available() and not config.run.cpu else "cpu"
    eps = UNetEpsilon(unet.to(device).eval())
    # the training-free samplers visit the noise levels DxMI's policy visits
    spacing = "linear" if steps == TEACHER_STEPS else config.dxmi.timestep_spacing
    sampler = SolverSampler(eps, shape, schedule, solver, steps, config.dxmi.clip_x0, spacing)

    def draw(n: int, labels=None) -> np.ndarray:
        with sampling_precision(device, config.eval.precision):
            return sampler.sample(n, seed, config.eval.batch_size, labels)

    return draw, device, sampler.num_classes


def _eval_labels(config, data, classes):
    """The classes every method is asked for (None: unconditional), as in `dxmi finetune`."""
    from dxmi.runs.images import eval_labels

    return eval_labels(config, data, classes, config.eval.n_samples)


def solver_job(config_path: str, sets: list[str], out: str, solver: str, steps: int) -> list[dict]:
    """A training-free sampler of the teacher: n samples, timed, scored, a grid saved."""
    import torch

    from dxmi.runs.images import timed_samples, warmup_size

    config = image_config(config_path, sets)
    data, scorer = _scorer(config)
    draw, device, classes = _solver_draw(config, out, data.shape, solver, steps, config.eval.seed)
    labels = _eval_labels(config, data, classes)
    with torch.no_grad():
        warmup = warmup_size(device, steps, config.eval.batch_size)
        x, secs = timed_samples(
            lambda m: draw(m, None if labels is None else labels[:m]), config.eval.n_samples, warmup
        )
    name = "teacher" if steps == TEACHER_STEPS else solver
    _grid(x, labels, Path(out) / "grids" / f"{name}-{steps}.png")
    record = _record(name, steps, 0, scorer.score(x, labels), secs)
    return [{**record, "spacing": config.dxmi.timestep_spacing if name != "teacher" else None}]


def teacher_shard_job(config_path: str, sets: list[str], out: str, part: tuple[int, int]):
    """Shard i of k (`part`) of the 1000-step teacher's samples, timed and saved to
    OUT/teacher-shards/ for `merge_teacher_shards`. One 16-minute job on a CPU left one worker
    idle for 7 minutes at the end of the table; shards let the workers finish together. Shard i
    draws its images from noise seeded eval.seed + i."""
    import torch

    from dxmi.runs.images import load_image_run_data, timed_samples

    shard, shards = part
    config = image_config(config_path, sets)
    data = load_image_run_data(config)
    n = len(range(shard, config.eval.n_samples, shards))  # the shards' sizes add up to n
    seed = config.eval.seed + shard
    draw, _, classes = _solver_draw(config, out, data.shape, "ancestral", TEACHER_STEPS, seed)
    labels = _eval_labels(config, data, classes)
    mine = None if labels is None else labels[shard::shards]  # see merge_teacher_shards
    with torch.no_grad():
        x, secs = timed_samples(lambda m: draw(m, mine), n)  # timed cold: see warmup_size
    folder = Path(out) / "teacher-shards"
    folder.mkdir(exist_ok=True)
    np.save(folder / f"{shard}.npy", x)
    return [{"method": SHARD, "shard": shard, "shards": shards, "n": n, "seconds": secs * n / 1000}]


def _grid(x: np.ndarray, labels, path: Path) -> None:
    """64 images; for a class-conditional table, up to 8 per class, one row per class."""
    from dxmi.plots import save_image_grid

    if labels is None:
        save_image_grid(x[:64], path)
        return
    rows = [x[labels == c][:8] for c in np.unique(labels)]
    per_row = min(len(r) for r in rows)
    save_image_grid(np.concatenate([r[:per_row] for r in rows]), path, nrow=per_row)


def merge_teacher_shards(config_path: str, sets: list[str], out: str, shards: list[dict]):
    """The 1000-step teacher's record from its shards' samples: scored together, timed as the
    sum of the shards' sampling seconds (the cost of one process drawing them all, when each
    shard has a core of its own)."""

    shards = sorted(shards, key=lambda r: r["shard"])
    folder = Path(out) / "teacher-shards"
    x = np.concatenate([np.load(folder / f"{r['shard']}.npy") for r in shards])
    config = image_config(config_path, sets)
    data, scorer = _scorer(config)
    _, _, classes = _solver_draw(config, out, data.shape, "ancestral", TEACHER_STEPS, 0)
    labels = _eval_labels(config, data, classes)
    if labels is not None:  # shard i drew the classes labels[i::k], in shard order
        labels = np.concatenate([labels[r["shard"] :: len(shards)] for r in shards])
    _grid(x, labels, Path(out) / "grids" / f"teacher-{TEACHER_STEPS}.png")
    secs = sum(r["seconds"] for r in shards) * 1000 / len(x)
    record = _record("teacher", TEACHER_STEPS, 0, scorer.score(x, labels), secs)
    return {**record, "spacing": None, "shards": len(shards)}


def dxmi_job(config_path: str, sets: list[str], out: str, steps: int, seed: int) -> list[dict]:
    """DxMI fine-tuning at T = steps; also scores the un-tuned T-step policy (seed 0 only)."""
    import shutil

    from dxmi.runs.images import finetune

    # the table has its own solver and teacher rows: finetune need not draw them again
    sets = [*sets, "eval.baselines=[]", "eval.teacher_steps=0"]
    config = image_config(config_path, sets, steps, seed)
    run = Path(out) / f"dxmi-T{steps}-s{seed}"
    began = time.perf_counter()
    finetune(config, Path(out) / "teacher" / "teacher", run, resume=True)
    minutes = (time.perf_counter() - began) / 60
    finished = json.loads((run / "metrics.json").read_text())
    metrics = finished["methods"]
    shutil.copy(run / "samples.png", Path(out) / "grids" / f"dxmi-{steps}-s{seed}.png")
    records = [
        {
            **_record("dxmi", steps, seed, metrics["dxmi"], metrics["dxmi"]["seconds_per_1000"]),
            "train_minutes": minutes,
            # iterations done: fewer than dxmi.iterations when dxmi.max_minutes ran out
            "iterations": finished["iterations"],
            # eval.select: holdout: the iteration of the exported sampler (else the last one)
            "selected_iteration": (finished.get("selection") or {}).get("iteration"),
        }
    ]
    if "last" in metrics:  # the last sampler, scored beside the selected one
        last = metrics["last"]
        records.append(_record("dxmi-last", steps, seed, last, last["seconds_per_1000"]))
    if seed == 0:
        init = metrics["init"]
        records.append(_record("dxmi-init", steps, 0, init, init["seconds_per_1000"]))
        floor = metrics["floor"]
        records.append(_record("floor", 0, 0, floor, None))
    return records


def cache_reference_features(config) -> None:
    """Fill ``eval.feature_cache`` before the jobs start: the training images' features and k-NN
    radii, and the held-out images' features (DxMI's checkpoint selection), so that no two jobs
    compute them side by side."""
    import torch

    from dxmi.runs.images import holdout_scorer

    data, scorer = _scorer(config)
    scorer.real_radii()
    if config.eval.select == "holdout":
        holdout_scorer(config, data, scorer)
    del scorer
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def ensure_teacher(config, folder: Path) -> dict:
    """Train the teacher in `folder` unless a finished one is there (reused as it is, see
    `finished_teacher`); returns its iterations, and its training minutes when it trained."""
    from dxmi.runs.images import finished_teacher, pretrain

    began = time.perf_counter()
    done: dict = {}
    if finished_teacher(config, folder) is None:
        run = dataclasses.replace(config.run, progress=True)
        pretrain(dataclasses.replace(config, run=run), folder, resume=True)
        done["teacher_minutes"] = (time.perf_counter() - began) / 60
    done["teacher_iterations"] = json.loads((folder / "metrics.json").read_text())["iterations"]
    return done


def _label(args: tuple) -> str:
    """A job's name for the log: DxMI jobs take (.., steps, seed), solver jobs (.., name, steps),
    teacher shards (.., (shard, shards))."""
    if len(args) == 4:
        return f"teacher T={TEACHER_STEPS} shard {args[3][0] + 1}/{args[3][1]}"
    if isinstance(args[3], int):
        return f"dxmi T={args[3]} seed={args[4]}"
    return f"{args[3]} T={args[4]}"


def _table(records: list[dict], env: dict) -> str:
    from statistics import median

    groups: dict[tuple[str, int], list[dict]] = {}
    for r in records:
        groups.setdefault((r["method"], r["steps"]), []).append(r)
    # every T's seed-0 DxMI job scores the same held-out images: count the floor once
    if ("floor", 0) in groups:
        groups[("floor", 0)] = groups[("floor", 0)][:1]
    order = {
        "dxmi": 0,
        "dxmi-last": 1,
        "dxmi-init": 2,
        "ddim": 3,
        "dpmsolver++": 4,
        "unipc": 5,
        "ancestral": 6,
        "teacher": 7,
        "floor": 8,
    }
    first = records[0]
    # class-conditional: the feature network's accuracy on the classes asked (floor: real)
    conditional = any(r.get("class_accuracy") is not None for r in records)
    spacings = sorted({r["spacing"] for r in records if r.get("spacing")})
    lines = [
        f"{first['n_samples']} samples per method vs {first['reference']}; FID/KID on "
        f"{FEATURES.get(env.get('feature_net', 'mnist'), env.get('feature_net'))}; median over "
        "seeds (n = seeds)"
        + (
            f"; training-free samplers at {' and '.join(spacings)} timestep spacing."
            if spacings
            else "."
        )
        + (
            " dxmi-last: the last sampler, when dxmi is selected on held-out FID."
            if ("dxmi-last", 4) in groups or ("dxmi-last", 10) in groups
            else ""
        ),
        "",
        "| method | steps (NFE) | FID | KID | precision | recall | s / 1000 images | n |"
        + (" class accuracy |" if conditional else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if conditional else ""),
    ]
    for (method, steps), rs in sorted(
        groups.items(),
        key=lambda kv: (kv[0][1] if kv[0][1] < 1000 else 10**6, order.get(kv[0][0], 9)),
    ):

        def med(key, rs=rs):
            vals = [r[key] for r in rs if r.get(key) is not None]
            return median(vals) if vals else None

        secs = med("seconds_per_1000")
        lines.append(
            f"| {method} | {steps} | {med('fid'):.2f} | {med('kid'):.3f} | "
            f"{med('precision'):.3f} | {med('recall'):.3f} | "
            f"{'-' if secs is None else f'{secs:.2f}'} | {len(rs)} |"
            + (f" {med('class_accuracy'):.3f} |" if conditional else "")
        )
    timing = "".join(
        f"; {label} {env[key]:.1f} min"
        for key, label in (("teacher_minutes", "teacher training"), ("total_minutes", "in all"))
        if key in env
    )
    if "teacher_iterations" in env:
        timing += f"; teacher {env['teacher_iterations']} iterations"
    done = sorted({(r["steps"], r["iterations"]) for r in records if r.get("iterations")})
    if done:
        timing += "; DxMI iterations " + ", ".join(f"T={t}: {n}" for t, n in done)
    picked = sorted(
        (r["steps"], r["seed"], r["selected_iteration"])
        for r in records
        if r.get("selected_iteration")
    )
    if picked:
        timing += "; selected on held-out FID at iteration " + ", ".join(
            f"T={t} s{s}: {i}" for t, s, i in picked
        )
    lines += [
        "",
        f"{env['command']}; {env['machine']}; {env['date']}; commit {commit_label(env)}{timing}",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist-cpu.yaml")
    ap.add_argument("--out", default="benchmarks/results/images")
    ap.add_argument("--steps", type=int, nargs="+", default=[4, 10])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="DxMI seeds at every T")
    ap.add_argument(
        "--seeds-at",
        type=int,
        nargs="+",
        action="append",
        default=[],
        metavar=("T", "SEED"),
        help="DxMI seeds at one T, replacing --seeds there: --seeds-at 4 0 1 2 (repeatable)",
    )
    ap.add_argument("--workers", type=int, default=2)
    add_override_arguments(ap, "config override for the DxMI runs at T steps only, repeatable")
    ap.add_argument("--no-teacher-1000", action="store_true", help="skip the 1000-step teacher")
    ap.add_argument(
        "--teacher-shards",
        type=int,
        default=None,
        help="parallel jobs that draw the 1000-step teacher's samples (default: --workers on a "
        "CPU, 1 on a GPU)",
    )
    ap.add_argument(
        "--dxmi-only",
        action="store_true",
        help="only DxMI runs (e.g. more seeds); their records are added to partial.jsonl",
    )
    ap.add_argument("--from-partial", action="store_true", help="tables from partial.jsonl only")
    args = ap.parse_args()
    out = Path(args.out)
    (out / "grids").mkdir(parents=True, exist_ok=True)
    env = environment("auto", args.workers)
    failures: list[str] = []
    began_all = time.perf_counter()

    if not args.from_partial:
        import torch

        if torch.cuda.is_available():
            torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest convolutions
            env["gpu"] = torch.cuda.get_device_name(0)
        # The teacher trains alone, so it gets the workers' cores: 150 iterations of the CPU
        # config took 15.9 s on two threads against 26.7 s on one (2-core x86_64 machine).
        torch.set_num_threads(max(1, args.workers))
        if not any(s.startswith("eval.feature_cache=") for s in args.set):
            # every job scores against the same reference: its features are computed once
            args.set.append(f"eval.feature_cache={out / 'features'}")
        base = image_config(args.config, args.set)
        env["feature_net"] = base.eval.feature_net
        env["precision"] = base.eval.precision
        env.update(ensure_teacher(base, out / "teacher"))
        cache_reference_features(base)
        # the jobs run in worker processes with one thread each (common.init_worker; two
        # threads per job ran at half the speed of one there: 1.0 vs 2.3 iterations/s)
        torch.set_num_threads(1)
        # longest first, so that parallel workers end together: on a CPU DxMI at the largest T
        # (12 to 15 minutes a job), then the 1000-step teacher (16 core-minutes, in one shard
        # per worker), then the few-step samplers (seconds); on a GPU the teacher's 1000 steps
        # are the longest job (DxMI stops at dxmi.max_minutes), so it goes first
        seeds_at = {spec[0]: spec[1:] for spec in args.seeds_at}
        jobs: list = [
            (dxmi_job, (args.config, overrides_at(args, steps), str(out), steps, s))
            for steps in sorted(args.steps, reverse=True)
            for s in seeds_at.get(steps, args.seeds)
        ]
        # One shard per core on a CPU. On a GPU the shards would share one device, so the sum
        # of their seconds (the row's time) would count each second twice: 74.5 s per 1,000
        # images with two shards on an H200 (benchmarks/results/images-gpu-lowrates) against
        # 40.1 s for one process (images-gpu-holdout), in about one process's wall time.
        default_shards = 1 if torch.cuda.is_available() else args.workers
        shards = (
            0 if args.no_teacher_1000 or args.dxmi_only else args.teacher_shards or default_shards
        )
        if shards:
            part = [(args.config, args.set, str(out), (i, shards)) for i in range(shards)]
            teacher_jobs = [(teacher_shard_job, a) for a in part]
            jobs = teacher_jobs + jobs if torch.cuda.is_available() else jobs + teacher_jobs
        if not args.dxmi_only:
            jobs += [
                (solver_job, (args.config, args.set, str(out), b, steps))
                for steps in args.steps
                for b in BASELINES
            ]
        partial = out / "partial.jsonl"
        earlier = read_partial(partial) if args.dxmi_only and partial.is_file() else []
        done = run_jobs(
            jobs,
            args.workers,
            partial,
            label=_label,
            append=args.dxmi_only,
            failures=failures,
        )
        records = earlier + done
        done_shards = [r for r in done if r["method"] == SHARD]
        if shards and len(done_shards) == shards:  # a failed shard: no teacher row
            teacher = merge_teacher_shards(args.config, args.set, str(out), done_shards)
            records.append(teacher)
            with partial.open("a") as f:
                f.write(json.dumps(teacher) + "\n")
        env["total_minutes"] = (time.perf_counter() - began_all) / 60
    else:
        records = read_partial(out / "partial.jsonl")
        previous = out / "results.json"
        if previous.is_file():  # keep the environment of the run that made the records
            env = json.loads(previous.read_text())["environment"]
    records = [r for r in records if r["method"] != SHARD]  # merged into "teacher" above
    if not records:  # every job failed: their tracebacks are above, there is no table
        sys.exit(f"no results; failed jobs: {', '.join(failures) or 'none ran'}")
    table = _table(records, env)
    (out / "table.md").write_text(table + "\n")
    write_results_json(out, env, records)
    print(table)
    if failures:
        sys.exit(f"failed jobs (their tracebacks are above): {', '.join(failures)}")


if __name__ == "__main__":
    main()
