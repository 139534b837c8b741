"""One-change DxMI probes side by side on one teacher: which setting helps, and when.

Trains (or reuses) OUT/teacher with CONFIG, then fine-tunes it with DxMI at T steps once per
probe, the probes at the same time (``--workers``, default all), each in OUT/NAME with the
config plus that probe's overrides. Writes OUT/probes.md and OUT/probes.json: every probe's FID
at each check (``eval.every``; on the training images, as the tables report), its held-out
FID (what ``eval.select: holdout`` chooses on), and its final scores (OUT/probes-partial.jsonl
keeps each probe's records as it ends). A question, not a
benchmark: one seed, one teacher, no baselines (``benchmarks/images.py`` makes the table).

    # two probes beside the config on one GPU (two processes share the small UNet well)
    python benchmarks/image_probes.py --config configs/mnist-gpu.yaml --out /tmp/p --steps 4 \\
        --probe config --probe slow dxmi.sampler_lr=3e-6
    # the CPU recipe of benchmarks/results/images-cpu-t4-probe, on the teacher it made
    mkdir -p runs/p && cp -r runs/teacher-base runs/p/teacher
    python benchmarks/image_probes.py --out runs/p --probe gamma-2 dxmi.gamma=2 --workers 1
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import commit_label, environment, run_jobs  # noqa: E402
from images import dxmi_job, ensure_teacher, image_config  # noqa: E402

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def probe_job(name: str, config: str, sets: list[str], out: str, steps: int, seed: int):
    """`dxmi_job` in OUT/NAME (whose teacher/ links to the shared one), records tagged."""
    return [{"probe": name, **r} for r in dxmi_job(config, sets, out, steps, seed)]


def _checks(run: Path) -> list[dict]:
    """The history rows that carry a check: iteration, fid and (when selecting) fid_holdout."""
    history = run / "history.jsonl"
    if not history.is_file():
        return []
    rows = [json.loads(line) for line in history.open()]
    return [
        {k: r[k] for k in ("iteration", "fid", "fid_holdout") if k in r} for r in rows if "fid" in r
    ]


def summarise(
    probes: list[tuple[str, list[str]]], records: list[dict], out: Path, steps: int, seed: int
) -> list[dict]:
    """One row per probe: its overrides, checks, and final selected / last scores."""
    rows = []
    for name, sets in probes:
        mine = {r["method"]: r for r in records if r.get("probe") == name}
        dxmi = mine.get("dxmi", {})
        rows.append(
            {
                "probe": name,
                "overrides": sets,
                "checks": _checks(out / name / f"dxmi-T{steps}-s{seed}"),
                "fid": dxmi.get("fid"),
                "selected_iteration": dxmi.get("selected_iteration"),
                "fid_last": mine.get("dxmi-last", dxmi).get("fid"),
                "iterations": dxmi.get("iterations"),
                "init_fid": mine.get("dxmi-init", {}).get("fid"),
            }
        )
    return rows


def table(rows: list[dict], env: dict, steps: int, seed: int) -> str:
    """Markdown: FID per check (held-out FID in brackets), then selected and last."""
    its = sorted({c["iteration"] for r in rows for c in r["checks"]})

    def cell(check: dict | None) -> str:
        if check is None:
            return ""
        held = check.get("fid_holdout")
        return f"{check['fid']:.2f}" + ("" if held is None else f" ({held:.2f})")

    def num(x) -> str:
        return "-" if x is None else f"{x:.2f}"

    checks = [f"it. {i}" for i in its]
    head = ["probe", "overrides", "start", *checks, "selected (it.)", "last", "its"]
    lines = [
        f"DxMI at T = {steps}, seed {seed}, one teacher; FID on the training images at each "
        "check (held-out FID, which selection uses, in brackets).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        by_it = {c["iteration"]: c for c in r["checks"]}
        chosen = "failed" if r["fid"] is None else num(r["fid"])
        if r["selected_iteration"] is not None:
            chosen += f" ({r['selected_iteration']})"
        sets = ", ".join(f"`{s}`" for s in r["overrides"]) or "none (the config)"
        # the un-tuned T-step policy: a probe that changes it (e.g. dxmi.eta) has its own start
        cells = [r["probe"], sets, num(r["init_fid"]), *[cell(by_it.get(i)) for i in its]]
        lines.append(
            "| "
            + " | ".join([*cells, chosen, num(r["fid_last"]), str(r["iterations"] or "-")])
            + " |"
        )
    timing = (
        f"; teacher {env['teacher_iterations']} iterations" if "teacher_iterations" in env else ""
    )
    lines += [
        "",
        f"{env['command']}; {env['machine']}; {env['date']}; commit {commit_label(env)}; "
        f"in all {env['total_minutes']:.1f} min{timing}",
    ]
    return "\n".join(lines)


def parse_probes(specs: list[list[str]]) -> list[tuple[str, list[str]]]:
    """``--probe NAME [KEY=VALUE ...]`` -> [(name, overrides)]; names are unique folder names."""
    probes = []
    for name, *sets in specs:
        if not NAME.match(name) or name == "teacher":
            raise SystemExit(f"--probe {name!r}: a probe name is a plain folder name")
        if name in {p for p, _ in probes}:
            raise SystemExit(f"--probe {name!r} given twice")
        bad = [s for s in sets if "=" not in s]
        if bad:
            raise SystemExit(f"--probe {name}: {bad[0]!r} is not KEY=VALUE")
        probes.append((name, sets))
    return probes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist-cpu.yaml")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--probe",
        nargs="+",
        action="append",
        required=True,
        metavar=("NAME", "KEY=VALUE"),
        help="a probe: its name and its config overrides (none: the config itself); repeatable",
    )
    ap.add_argument("--set", action="append", default=[], help="override for every probe")
    ap.add_argument("--workers", type=int, default=0, help="probes at a time (0: all)")
    args = ap.parse_args()
    probes = parse_probes(args.probe)
    out = Path(args.out)
    began = time.perf_counter()
    env = environment("auto", args.workers or len(probes))

    import torch

    # as benchmarks/images.py: the teacher trains alone on the workers' cores; the probes run
    # in worker processes of one thread each
    torch.set_num_threads(max(1, args.workers or len(probes)))
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
    # validate every probe's overrides before the teacher trains: a typo fails in seconds
    from dxmi.config import ConfigError

    for name, sets in probes:
        try:
            image_config(args.config, [*args.set, *sets], args.steps, args.seed)
        except ConfigError as err:
            raise SystemExit(f"--probe {name}: {err}") from None
    env.update(ensure_teacher(image_config(args.config, args.set), out / "teacher"))
    torch.set_num_threads(1)
    jobs = []
    for name, sets in probes:
        folder = out / name
        (folder / "grids").mkdir(parents=True, exist_ok=True)
        link = folder / "teacher"
        if not link.exists():
            link.symlink_to(Path("..") / "teacher", target_is_directory=True)
        spec = (name, args.config, [*args.set, *sets], str(folder), args.steps, args.seed)
        jobs.append((probe_job, spec))
    failures: list[str] = []
    records = run_jobs(
        jobs,
        args.workers or len(probes),
        out / "probes-partial.jsonl",  # every finished probe's records, as it ends
        label=lambda spec: spec[0],
        failures=failures,
    )
    env["total_minutes"] = (time.perf_counter() - began) / 60
    rows = summarise(probes, records, out, args.steps, args.seed)
    text = table(rows, env, args.steps, args.seed)
    (out / "probes.md").write_text(text + "\n")
    (out / "probes.json").write_text(json.dumps({"environment": env, "probes": rows}, indent=1))
    print(text)
    if failures:
        sys.exit(f"failed probes (their tracebacks are above): {', '.join(failures)}")


if __name__ == "__main__":
    main()
