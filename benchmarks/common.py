"""What the benchmark scripts share: the record of the machine, and a pool of worker processes
that keeps every finished job in partial.jsonl (an interrupted benchmark keeps what it did)."""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path


def init_worker() -> None:
    """One thread per worker process: N workers use N cores without oversubscription; on a GPU,
    cuDNN picks the fastest convolution for the fixed shapes. On Linux a worker also ends when
    the benchmark that started it does: killing a benchmark once left its worker running the
    queued jobs for 25 more CPU-minutes, beside the next run."""
    import torch

    _end_with_parent()
    torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = True


def _end_with_parent() -> None:
    """Ask the kernel to send this process SIGTERM when its parent exits (Linux prctl)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1  # <linux/prctl.h>
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def _is_code(path: str) -> bool:
    """Whether a repository path is code that makes results: the package, the configs and the
    benchmark scripts (not their results folders, not the docs)."""
    folder, _, name = path.rpartition("/")
    return (
        (path.startswith("src/dxmi/") and name.endswith(".py"))
        or (folder == "configs" and name.endswith(".yaml"))
        or (folder == "benchmarks" and name.endswith((".py", ".sh")))
    )


def code_hash(root: Path | None = None, rev: str | None = None) -> str:
    """A short SHA-256 of the code that makes results (`_is_code`): in the working tree under
    `root`, or at git revision `rev`. Unlike the commit it does not depend on git metadata (a
    copy of the tree on another machine once carried an older HEAD), so a result can be matched
    to the commit whose code it ran: `python benchmarks/common.py code-hash [REV]`."""
    import hashlib

    root = Path(root or Path(__file__).resolve().parents[1])
    if rev is None:
        found = (p for top in ("src", "configs", "benchmarks") for p in (root / top).rglob("*"))
        listed = [p.relative_to(root).as_posix() for p in found if p.is_file()]

        def read(path: str) -> bytes:
            return (root / path).read_bytes()
    else:
        tree = ["git", "-C", str(root), "ls-tree", "-r", "--name-only", rev]
        done = subprocess.run(tree, capture_output=True, text=True)
        if done.returncode != 0:
            raise ValueError(f"code_hash: {rev!r} is not a git revision of {root}")
        listed = done.stdout.splitlines()

        def read(path: str) -> bytes:
            show = ["git", "-C", str(root), "show", f"{rev}:{path}"]
            return subprocess.run(show, capture_output=True, check=True).stdout

    digest = hashlib.sha256()
    for path in sorted(p for p in listed if _is_code(p)):
        digest.update(path.encode() + b"\0" + read(path) + b"\0")
    return digest.hexdigest()[:12]


def cpu_model() -> str:
    """The CPU's model name ("" where unknown). It belongs in a results header: CPU fits are
    deterministic on one CPU model but not across models (other SIMD kernels, other rounding),
    so a record reproduces only on the model that made it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment(device: str, workers: int) -> dict:
    """Command, date, commit and machine, for the header of a results table. Call it when the
    run starts: the code that ran is the commit checked out then (plus `git_dirty`, whether
    tracked files differed from it), not whatever is checked out when the tables are written."""
    import torch

    commit = _git("rev-parse", "--short", "HEAD")
    gpu = device == "auto" and torch.cuda.is_available()
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": commit,
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "code_hash": code_hash(),
        "machine": f"{platform.machine()} ({cpu_model() or 'CPU model unknown'}), "
        f"{os.cpu_count()} cores" + (f", {torch.cuda.get_device_name(0)}" if gpu else ""),
        "device": device,
        "workers": workers,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def commit_label(env: dict) -> str:
    """The commit a results header names, marked when the working tree had other changes."""
    label = env["git_commit"] + (" + uncommitted changes" if env.get("git_dirty") else "")
    return label + (f" (code {env['code_hash']})" if env.get("code_hash") else "")


def add_override_arguments(parser, at_help: str) -> None:
    """``--set KEY=VALUE`` (every run) and ``--set-at T KEY=VALUE`` (the runs at T steps)."""
    parser.add_argument("--set", action="append", default=[], help="config override, repeatable")
    parser.add_argument(
        "--set-at",
        nargs=2,
        action="append",
        default=[],
        metavar=("T", "KEY=VALUE"),
        help=at_help,
    )


def overrides_at(args, steps: int) -> list[str]:
    """The ``--set`` overrides, then the ``--set-at`` ones for T = steps."""
    return [*args.set, *[kv for t, kv in args.set_at if int(t) == steps]]


def run_jobs(
    jobs: Iterable[tuple[Callable[..., list[dict]], tuple]],
    workers: int,
    partial_path: Path,
    label: Callable[[tuple], str] = str,
    append: bool = False,
    failures: list[str] | None = None,
) -> list[dict]:
    """Run `fn(*args)` for every (fn, args) in worker processes; each returns records. Every
    finished job's records are appended to `partial_path` as JSON lines as soon as it ends
    (`append`: after the lines already there; otherwise the file starts empty).

    A failing job raises, unless `failures` is a list: then its label is appended there, its
    traceback printed, and the other jobs go on (a one-shot GPU run keeps what did work)."""
    jobs = list(jobs)
    records: list[dict] = []
    ctx = multiprocessing.get_context("spawn")  # safe with CUDA in the workers
    with (
        partial_path.open("a" if append else "w") as partial,
        ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker) as pool,
    ):
        pending = {pool.submit(fn, *args): args for fn, args in jobs}
        done_n = 0
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                args = pending.pop(fut)
                try:
                    new = fut.result()
                except Exception as err:
                    if failures is None:
                        raise
                    failures.append(label(args))
                    traceback.print_exception(err)
                    print(f"FAILED: {label(args)}", flush=True)
                    continue
                records += new
                for r in new:
                    partial.write(json.dumps(r) + "\n")
                partial.flush()
                done_n += 1
                print(f"[{done_n}/{len(jobs)}] {label(args)} done", flush=True)
    return records


def read_partial(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_results_json(out: Path, env: dict, records: list[dict]) -> None:
    """results.json: the environment and every record, as the tables were made from them."""
    (out / "results.json").write_text(
        json.dumps({"environment": env, "records": records}, indent=1)
    )


if __name__ == "__main__":
    if sys.argv[1:2] != ["code-hash"] or len(sys.argv) > 3:
        sys.exit("usage: python benchmarks/common.py code-hash [REV]")
    try:
        print(code_hash(rev=sys.argv[2] if len(sys.argv) > 2 else None))
    except ValueError as err:
        sys.exit(str(err))
