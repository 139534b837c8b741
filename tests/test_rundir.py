"""The run directory: --overwrite deletes only what dxmi made, a failed resume keeps the finished
run, one writer at a time, a killed writer leaves no lock behind."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from dxmi import load_config, train
from dxmi.checkpoint import CheckpointError
from dxmi.cli import main
from dxmi.runs.rundir import LOCK, MARKER, RunDirError, RunKind, open_run


@pytest.fixture
def overrides(tiny_overrides):
    return [*tiny_overrides, "dxmi.iterations=10", "run.checkpoint_every=5"]


@pytest.fixture
def config(overrides):
    return load_config(None, overrides)


def test_overwrite_refuses_a_folder_dxmi_did_not_make(tmp_path, config, tiny_overrides, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    np.save(project / "points.npy", np.random.default_rng(0).normal(size=(600, 2)))
    with pytest.raises(RunDirError, match=f"not a folder dxmi made \\(no {MARKER}\\)"):
        train(config, project, overwrite=True)
    # the same through the CLI: exit code 2, one line, every file kept
    sets = [a for s in tiny_overrides for a in ("--set", s)]
    assert main(["train", "--out", str(project), "--overwrite", *sets]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a folder dxmi made" in err and "\n" not in err
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt", "points.npy"]


def test_overwrite_never_deletes_an_input_of_the_run(tmp_path, config, overrides):
    out = tmp_path / "run"
    train(config, out)
    points = out / "points.npy"  # the user keeps the data inside a run folder
    np.save(points, np.random.default_rng(0).normal(size=(600, 2)))
    from_file = load_config(None, [*overrides, "data.name=file", f"data.path={points}"])
    with pytest.raises(RunDirError, match="points.npy, an input of this run"):
        train(from_file, out, overwrite=True)
    assert points.is_file() and (out / "metrics.json").is_file()


def test_overwrite_replaces_a_dxmi_run(tmp_path, config):
    out = tmp_path / "run"
    train(config, out)
    (out / "stale.txt").write_text("from the old run")
    train(config, out, overwrite=True)
    assert not (out / "stale.txt").exists()
    assert (out / MARKER).is_file() and (out / "metrics.json").is_file()


def test_a_failed_resume_keeps_the_finished_run(tmp_path, config, overrides):
    out = tmp_path / "run"
    train(config, out)
    before = {p: (out / p).read_bytes() for p in ("metrics.json", "config.yaml")}
    (out / "checkpoints" / "last.safetensors").write_bytes(b"truncated")
    more = load_config(None, [*overrides, "dxmi.iterations=20"])
    with pytest.raises(CheckpointError, match="last.safetensors: corrupt"):
        train(more, out, resume=True)
    assert {p: (out / p).read_bytes() for p in before} == before


def test_a_second_writer_is_refused(tmp_path, config):
    out = tmp_path / "run"
    train(config, out)
    files = sorted(p.name for p in out.rglob("*"))
    with open_run(out, config, resume=True, overwrite=False, kind=RunKind(("data",))):
        with pytest.raises(RunDirError, match=f"in use by another dxmi run \\(pid {os.getpid()}"):
            train(config, out, resume=True)
        with pytest.raises(RunDirError, match="in use"):
            train(config, out, overwrite=True)
    assert sorted(p.name for p in out.rglob("*")) == files
    train(config, out, resume=True)  # released at the end of the with block


def test_a_killed_writer_leaves_no_lock(tmp_path, config):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(out / LOCK)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout.readline().strip() == b"locked"
    with pytest.raises(RunDirError, match="in use"):
        open_run(out, config, resume=True, overwrite=False, kind=RunKind(("data",)))
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    time.sleep(0.05)
    open_run(out, config, resume=True, overwrite=False, kind=RunKind(("data",))).close()


def test_out_naming_a_file_is_one_line(tmp_path, tiny_overrides, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    sets = [a for s in tiny_overrides for a in ("--set", s)]
    assert main(["train", "--out", str(target), *sets]) == 2
    err = capsys.readouterr().err.strip()
    assert "exists and is not a folder" in err and "\n" not in err
    assert target.read_text() == "x"


def test_marker_is_json_and_history_survives_a_cut_line(tmp_path, config, overrides):
    out = tmp_path / "run"
    train(config, out)
    assert json.loads((out / MARKER).read_text()) == {"dxmi_run": 1}
    history = out / "history.jsonl"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines) + '\n{"iteration": 1')  # a kill mid-write
    more = load_config(None, [*overrides, "dxmi.iterations=20"])
    train(more, out, resume=True)
    iterations = [json.loads(x)["iteration"] for x in history.read_text().splitlines()]
    assert iterations == sorted(set(iterations)) and iterations[-1] == 20
