"""The `dxmi` command: a short run through every subcommand, and one-line errors."""

import json

import numpy as np
import pytest

from dxmi.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from conftest import TINY

    out = tmp_path_factory.mktemp("cli") / "run"
    sets = [a for s in TINY + ["dxmi.iterations=10"] for a in ("--set", s)]
    assert main(["train", "--out", str(out), *sets]) == 0
    return out


def test_sample_energy_evaluate(run_dir, tmp_path, capsys):
    assert (
        main(
            [
                "sample",
                "--run",
                str(run_dir),
                "-n",
                "64",
                "--out",
                str(tmp_path / "s.npy"),
                "--plot",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (64, 2) and (tmp_path / "s.png").is_file()
    np.savetxt(tmp_path / "pts.csv", s[:10], delimiter=",")
    assert (
        main(
            [
                "energy",
                "--run",
                str(run_dir),
                "--input",
                str(tmp_path / "pts.csv"),
                "--out",
                str(tmp_path / "e.csv"),
            ]
        )
        == 0
    )
    assert np.loadtxt(tmp_path / "e.csv").shape == (10,)
    assert main(["evaluate", "--run", str(run_dir), "--out", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["dxmi"]["sliced_w2"] > 0 and "ebm" in m
    assert "sliced_w2" in capsys.readouterr().out


def _one_line_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert match in err, err


def test_errors_are_one_line(run_dir, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dxmi:\n  stepz: 4\n")
    _one_line_error(
        capsys,
        ["train", "--config", str(cfg), "--out", str(tmp_path / "x")],
        "unknown key 'dxmi.stepz'",
    )
    _one_line_error(
        capsys,
        ["train", "--out", str(tmp_path / "x"), "--set", "dxmi.steps=two"],
        "dxmi.steps: expected an integer",
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_line_error(
        capsys,
        [
            "train",
            "--out",
            str(tmp_path / "x"),
            "--set",
            "data.name=file",
            "--set",
            f"data.path={empty}",
        ],
        "empty.csv: the file is empty",
    )
    _one_line_error(
        capsys,
        ["sample", "--run", str(tmp_path), "--out", str(tmp_path / "s.npy")],
        "no exported model",
    )
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((5, 3)))
    _one_line_error(
        capsys,
        ["energy", "--run", str(run_dir), "--input", str(wide), "--out", str(tmp_path / "e.npy")],
        "3 features, the model expects 2",
    )
    _one_line_error(capsys, ["train", "--out", str(run_dir)], "already exists")
    assert not (tmp_path / "x").exists()
