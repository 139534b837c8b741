"""kill -9 at random points of a short `dxmi train`, ten times, then --resume: the final files
equal an uninterrupted run's, and every killed folder is one that --resume (or --overwrite)
takes."""

import os
import random
import signal
import subprocess
import sys
import time

from conftest import TINY

FINAL = ("model.safetensors", "metrics.json", "history.jsonl", "config.yaml")
SETS = [
    a
    for s in [
        *TINY,
        "teacher.iterations=100",
        "dxmi.iterations=30",
        "run.checkpoint_every=5",
        "run.log_every=5",
        "eval.every=10",
        "eval.n_samples=300",
        "eval.teacher_steps=20",
        "eval.grid_size=30",
    ]
    for a in ("--set", s)
]


def _train(out, *flags) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "dxmi.cli", "train", "--out", str(out), *SETS, *flags]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_nine_ten_times_then_resume_equals_an_uninterrupted_run(tmp_path):
    whole = _train(tmp_path / "whole")
    began = time.perf_counter()
    assert whole.wait() == 0, whole.stderr.read().decode()
    seconds = time.perf_counter() - began
    out, rng, kills = tmp_path / "killed", random.Random(0), 0
    for attempt in range(10):
        proc = _train(out, "--resume")
        time.sleep(rng.uniform(0.2, 0.9) * seconds)  # anywhere from start-up to the last write
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        rc = proc.wait()
        assert rc in (0, -signal.SIGKILL), f"attempt {attempt}: {proc.stderr.read().decode()}"
    assert kills >= 5  # most attempts were cut somewhere
    last = _train(out, "--resume")
    assert last.wait() == 0, last.stderr.read().decode()
    for name in FINAL:
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
