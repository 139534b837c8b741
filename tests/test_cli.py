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


# ---- dxmi detect ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector_dir(tmp_path_factory):
    from test_detector import FAST, ring_data

    root = tmp_path_factory.mktemp("detect")
    np.savetxt(root / "normal.csv", ring_data(600, 0), delimiter=",", header="a,b,c")
    sets = [a for k, v in FAST.items() if k != "device" for a in ("--set", f"{k}={v}")]
    argv = ["detect", "fit", str(root / "normal.csv"), "--out", str(root / "det"), *sets]
    assert main([*argv, "--set", "contamination=0.05"]) == 0
    return root


def test_detect_fit_and_score_with_labels(detector_dir, capsys):
    from test_detector import anomalies, ring_data

    root = detector_dir
    x = np.concatenate([ring_data(100, 7), anomalies(100, 8)])
    np.save(root / "test.npy", x)
    np.savetxt(root / "labels.csv", np.r_[np.zeros(100), np.ones(100)], fmt="%d")
    argv = ["detect", "score", str(root / "det"), str(root / "test.npy"), "--out"]
    assert main([*argv, str(root / "s.csv"), "--labels", str(root / "labels.csv")]) == 0
    out = capsys.readouterr().out
    auroc = float(out.split("AUROC ")[1].split(",")[0])
    assert auroc > 0.9, out
    table = np.loadtxt(root / "s.csv", delimiter=",", skiprows=1)
    assert table.shape == (200, 3)
    assert (root / "s.csv").read_text().startswith("score,predicted,label")
    # the predicted column is the threshold applied to the score column
    from dxmi.detect.points import DxMIDetector

    det = DxMIDetector.load(root / "det")
    np.testing.assert_array_equal(table[:, 1], table[:, 0] > det.threshold_)
    assert main([*argv, str(root / "s2.csv")]) == 0  # without labels: two columns
    assert np.loadtxt(root / "s2.csv", delimiter=",", skiprows=1).shape == (200, 2)


def test_detect_errors_are_one_line(detector_dir, tmp_path, capsys):
    root = detector_dir
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_line_error(
        capsys, ["detect", "fit", str(empty), "--out", str(tmp_path / "d")], "the file is empty"
    )
    _one_line_error(
        capsys,
        [
            "detect",
            "fit",
            str(root / "normal.csv"),
            "--out",
            str(tmp_path / "d"),
            "--set",
            "stepz=3",
        ],
        "unknown key 'stepz'",
    )
    bad = tmp_path / "nan.csv"
    bad.write_text("1,2,3\n4,nan,6\n")
    _one_line_error(
        capsys,
        ["detect", "score", str(root / "det"), str(bad), "--out", str(tmp_path / "o")],
        "NaN/inf values (first in row 1)",
    )
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((5, 4)))
    _one_line_error(
        capsys,
        ["detect", "score", str(root / "det"), str(wide), "--out", str(tmp_path / "o")],
        "4 features, the detector was fit on 3",
    )
    labels = tmp_path / "l.csv"
    labels.write_text("0\n1\n2\n")
    np.save(tmp_path / "ok.npy", np.zeros((3, 3)))
    _one_line_error(
        capsys,
        [
            "detect",
            "score",
            str(root / "det"),
            str(tmp_path / "ok.npy"),
            "--out",
            str(tmp_path / "o"),
            "--labels",
            str(labels),
        ],
        "expected one 0/1 label per row",
    )
    _one_line_error(
        capsys,
        ["detect", "score", str(tmp_path), str(wide), "--out", str(tmp_path / "o")],
        "not a saved DxMIDetector",
    )


def test_bad_counts_paths_and_records_are_one_line(run_dir, detector_dir, tmp_path, capsys):
    sample = ["sample", "--run", str(run_dir)]
    _one_line_error(capsys, [*sample, "--out", str(tmp_path / "s.txt")], "a .npy or .csv file")
    _one_line_error(capsys, [*sample, "--out", str(tmp_path)], "is a folder")
    _one_line_error(capsys, [*sample, "-n", "-5", "--out", str(tmp_path / "s.npy")], "-n must be")
    assert not (tmp_path / "s.txt").exists() and not (tmp_path / "s.txt.npy").exists()
    _one_line_error(
        capsys, ["train", "--out", str(tmp_path / "r"), "--set", "dxmi.sampler_lr=-1"], "sampler_lr"
    )
    _one_line_error(
        capsys,
        ["train", "--out", str(tmp_path / "r"), "--set", "dxmi.energy_lr=0.01"],
        "the shared variant trains its one network at dxmi.value_lr",
    )
    root = detector_dir
    fit = ["detect", "fit", str(root / "normal.csv"), "--out", str(tmp_path / "d")]
    _one_line_error(capsys, [*fit, "--set", "iterations=-1"], "iterations must be >= 0")
    _one_line_error(capsys, [*fit, "--set", "energy_lr=-0.1"], "energy_lr must be")
    score = ["detect", "score", str(root / "det"), str(root / "normal.csv"), "--out"]
    _one_line_error(capsys, [*score, str(tmp_path)], "is a folder")
    # an edited detector.json: a NaN threshold is refused, not used
    import shutil

    shutil.copytree(root / "det", tmp_path / "det")
    record = json.loads((tmp_path / "det" / "detector.json").read_text())
    edited = {**record, "meta": {**record["meta"], "threshold": "nan"}}
    (tmp_path / "det" / "detector.json").write_text(json.dumps(edited))
    score[2] = str(tmp_path / "det")
    _one_line_error(capsys, [*score, str(tmp_path / "o.csv")], "must be finite")
    record["sha256"] = "0" * 64  # a record paired with other weights
    (tmp_path / "det" / "detector.json").write_text(json.dumps(record))
    _one_line_error(capsys, [*score, str(tmp_path / "o.csv")], "does not match")
    # an edited model.json: a std of inf is refused, not sampled
    shutil.copytree(run_dir, tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    meta["meta"]["standardizer"]["std"][1] = float("inf")
    (tmp_path / "run" / "model.json").write_text(json.dumps(meta))
    _one_line_error(
        capsys,
        ["sample", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "s.npy")],
        "feature 1 has std inf",
    )


def test_sample_writes_exactly_where_asked(run_dir, tmp_path):
    target = tmp_path / "sub" / "pts.NPY"  # numpy's own save would write pts.NPY.npy
    assert main(["sample", "--run", str(run_dir), "-n", "8", "--out", str(target)]) == 0
    assert np.load(target).shape == (8, 2)
    assert [p.name for p in target.parent.iterdir()] == ["pts.NPY"]


def test_config_prints_the_resolved_config(capsys):
    import yaml

    assert main(["config", "--config", "configs/8gaussians.yaml", "--set", "dxmi.steps=7"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["dxmi"]["steps"] == 7 and printed["dxmi"]["energy"]["fourier_features"] == 64
    assert main(["config", "--images", "--config", "configs/mnist-cpu.yaml"]) == 0
    assert "unet" in yaml.safe_load(capsys.readouterr().out)
    _one_line_error(capsys, ["config", "--set", "dxmi.stepz=3"], "unknown key 'dxmi.stepz'")
