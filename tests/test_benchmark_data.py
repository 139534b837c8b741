"""Benchmark data from files the tests write: ODDS constructions from R data files, the ADBench
split, IDX files and Fashion-MNIST."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from dxmi.data import DataError
from dxmi.data.idx import load_fashion_mnist, read_idx
from dxmi.data.images import load_images
from dxmi.data.odds import MLBENCH_DATA, ODDS, adbench_split, load_odds

rdata = pytest.importorskip("rdata", reason="the ODDS loader reads R files with rdata")
pd = pytest.importorskip("pandas")


def _breast_cancer(n_missing: int = 16, n_malignant: int = 241) -> pd.DataFrame:
    """mlbench's BreastCancer layout: an Id string, factor columns with levels '1'..'10', Class
    benign / malignant; 699 rows, 16 with a missing Bare.nuclei (a float column here: rdata's
    writer turns a missing factor value into the last level)."""
    rng = np.random.default_rng(0)
    levels = [str(i) for i in range(1, 11)]
    cols = ["Cl.thickness", "Cell.size", "Cell.shape", "Marg.adhesion", "Epith.c.size"]
    cols += ["Bare.nuclei", "Bl.cromatin", "Normal.nucleoli", "Mitoses"]
    frame = {"Id": [f"id{i}" for i in range(699)]}
    for c in cols:
        values = rng.choice(levels, 699)
        frame[c] = pd.Categorical(values, categories=levels, ordered=True)
        if c == "Bare.nuclei":
            frame[c] = values.astype(float)
            frame[c][:n_missing] = np.nan  # two of the missing rows are malignant, as in the source
    label = np.array(["benign"] * 699, dtype=object)
    label[n_missing - 2 : n_missing - 2 + n_malignant] = "malignant"
    frame["Class"] = pd.Categorical(label, categories=["benign", "malignant"])
    return pd.DataFrame(frame)


def _shuttle() -> pd.DataFrame:
    """mlbench's Shuttle layout with the source's class counts (58,000 rows, V1..V9)."""
    counts = {"Rad.Flow": 45586, "Fpv.Close": 50, "Fpv.Open": 171, "High": 8903}
    counts |= {"Bypass": 3267, "Bpv.Close": 10, "Bpv.Open": 13}
    label = np.repeat(list(counts), list(counts.values()))
    x = np.random.default_rng(1).normal(size=(len(label), 9)).round(0)
    frame = pd.DataFrame(x, columns=[f"V{i}" for i in range(1, 10)])
    frame["Class"] = pd.Categorical(label, categories=list(counts))
    return frame


def _write(folder, name: str, frame) -> None:
    rdata.write_rda(folder / f"{name}.rda", {name: frame})


def _glass() -> pd.DataFrame:
    """mlbench's Glass layout: nine floats, Type with its six levels (nine of type 6)."""
    counts = {"1": 70, "2": 76, "3": 17, "5": 13, "6": 9, "7": 29}
    frame = pd.DataFrame(np.random.default_rng(2).normal(size=(214, 9)))
    frame.columns = ["RI", "Na", "Mg", "Al", "Si", "K", "Ca", "Ba", "Fe"]
    frame["Type"] = pd.Categorical(np.repeat(list(counts), list(counts.values())))
    return frame


def test_odds_constructions_match_the_published_counts(tmp_path):
    _write(tmp_path, "BreastCancer", _breast_cancer())
    _write(tmp_path, "Shuttle", _shuttle())
    _write(tmp_path, "Glass", _glass())
    x, y = load_odds("glass", tmp_path)
    assert x.shape == (214, 9) and y.sum() == 9 and np.allclose(x, _glass().iloc[:, :9])
    x, y = load_odds("breastw", tmp_path)
    assert x.shape == (683, 9) and y.sum() == 239 and x.dtype == np.float64
    assert set(np.unique(x)) <= set(range(1, 11))  # factor labels read as the numbers they name
    x, y = load_odds("shuttle", tmp_path)
    assert x.shape == (49097, 9) and y.sum() == 3511  # class 'High' dropped, five outlier classes


def test_odds_errors_name_the_file_and_the_problem(tmp_path):
    _write(tmp_path, "BreastCancer", _breast_cancer(n_malignant=240))
    with pytest.raises(DataError, match=r"BreastCancer.rda: breastw built as 683 rows.*238 out"):
        load_odds("breastw", tmp_path)
    with pytest.raises(DataError, match=r"Shuttle.rda: not found.*r-cran-mlbench"):
        load_odds("shuttle", tmp_path)
    with pytest.raises(DataError, match="unknown ODDS set 'wbc'.*breastw"):
        load_odds("wbc", tmp_path)
    _write(tmp_path, "Glass", _glass().rename(columns={"Type": "label"}))
    with pytest.raises(DataError, match=r"Glass.rda: no column 'Type'"):
        load_odds("glass", tmp_path)
    (tmp_path / "PimaIndiansDiabetes.rda").write_bytes(b"not R")
    with pytest.raises(DataError, match="PimaIndiansDiabetes.rda: not a readable R data file"):
        load_odds("pima", tmp_path)


@pytest.mark.skipif(
    not MLBENCH_DATA.is_dir(), reason="r-cran-mlbench not installed (apt-get install)"
)
def test_every_odds_set_from_debians_sources():
    for name, spec in ODDS.items():
        x, y = load_odds(name)
        assert (x.shape, int(y.sum())) == ((spec.n, spec.d), spec.n_outliers)
        assert np.isfinite(x).all()


def test_adbench_split_is_stratified_keeps_training_outliers_and_follows_the_seed():
    x = np.arange(1000, dtype=float)[:, None]
    y = (np.arange(1000) % 10 == 0).astype(int)  # 10 % outliers
    x_tr, x_te, y_tr, y_te = adbench_split(x, y, seed=0)
    assert len(x_te) == 300 and y_te.sum() == 30 and y_tr.sum() == 70  # contamination kept
    assert set(x_tr[:, 0]) | set(x_te[:, 0]) == set(x[:, 0])
    assert np.array_equal(adbench_split(x, y, seed=0)[1], x_te)
    assert not np.array_equal(adbench_split(x, y, seed=1)[1], x_te)


def _idx(path, array: np.ndarray, code: int = 0x08) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(">u1" if code == 8 else ">f4").tobytes()))


def _fashion_folder(folder, n: int = 30) -> np.ndarray:
    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    for prefix in ("train", "t10k"):
        _idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    return images


def test_idx_and_fashion_mnist(tmp_path):
    images = _fashion_folder(tmp_path)
    x, y = load_fashion_mnist(tmp_path, "test")
    assert x.shape == (30, 1, 28, 28) and np.array_equal(x[:, 0], images)
    assert np.array_equal(y, np.arange(30) % 10)
    floats = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    _idx(tmp_path / "f.gz", floats, code=0x0D)
    assert np.array_equal(read_idx(tmp_path / "f.gz"), floats)
    data = load_images("fashion_mnist", str(tmp_path), holdout_fraction=0.2, labels=True)
    assert (
        data.train.shape == (20, 1, 28, 28) and data.train.min() >= -1 and data.holdout_labels.size
    )


def test_idx_errors(tmp_path):
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04rest"))
    with pytest.raises(DataError, match="bad.gz: not an IDX file"):
        read_idx(tmp_path / "bad.gz")
    (tmp_path / "short.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 9)))
    with pytest.raises(DataError, match="short.gz: 8 bytes, shape \\(9,\\) needs 17"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "plain.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="plain.gz: not a readable gzip file"):
        read_idx(tmp_path / "plain.gz")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: not found.*fashion-mnist"):
        load_fashion_mnist(tmp_path / "none")


def _anomaly_script(monkeypatch):
    """benchmarks/anomaly.py as a module (a script that imports its `common` neighbour)."""
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    return importlib.import_module("anomaly")


def test_one_class_image_protocol(tmp_path, monkeypatch):
    """Deep SVDD's protocol: the normal class's training images only, the whole test split,
    anomalies = every other class; 2x2 average pooling, pixels in [0, 1]."""
    import io
    import zipfile

    from PIL import Image

    anomaly = _anomaly_script(monkeypatch)
    images = _fashion_folder(tmp_path)  # labels 0..9, 0..9, 0..9 in both splits
    train, test, labels = anomaly.one_class_images("fashion", 3, str(tmp_path))
    pooled = images.reshape(30, 14, 2, 14, 2).mean(axis=(2, 4)) / 255.0
    assert train.shape == (3, 1, 14, 14) and np.allclose(train[:, 0], pooled[3::10], atol=1e-6)
    assert test.shape == (30, 1, 14, 14) and np.array_equal(labels, np.arange(30) % 10 != 3)

    # the pictures' indices: most normal, most anomalous, the anomalies scored most normal
    scores = np.arange(30.0)
    scores[3] = -1.0  # the normal image 3 scored most normal, then the anomalies 0, 1, ...
    ext = anomaly.extremes(scores, labels, k=3)
    assert ext == {"lowest": [3, 0, 1], "highest": [29, 28, 27], "missed": [0, 1, 2]}
    record = {"part": "fashion", "method": "knn", "seed": 0, "normal": 3, "auroc": 0.5}
    monkeypatch.setattr(anomaly, "EXTREMES", 3)
    paths = anomaly.extremes_pictures(
        [record | {"extremes": ext}], "fashion", str(tmp_path), tmp_path
    )
    assert [p.name for p in paths] == ["extremes-fashion-knn.png"] and paths[0].stat().st_size

    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar"
    folder.mkdir()
    for split, n in (("train", 2), ("test", 3)):
        with zipfile.ZipFile(folder / f"{split}.zip", "w") as zf:
            for cls in ("airplane", "automobile"):
                for i in range(n):
                    buf = io.BytesIO()
                    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                    Image.fromarray(pixels).save(buf, format="PNG")
                    zf.writestr(f"{cls}/{i:04d}.png", buf.getvalue())
    train, test, labels = anomaly.one_class_images("cifar10", 1, str(folder))
    assert train.shape == (2, 3, 4, 4) and test.shape == (6, 3, 4, 4)
    assert np.array_equal(labels, [1, 1, 1, 0, 0, 0])  # airplanes are the anomalies
    assert test.min() >= 0 and test.max() <= 1
    assert anomaly.one_class_missing("cifar10", str(folder)) is None
    (folder / "test.zip").unlink()
    assert "test.zip not found" in anomaly.one_class_missing("cifar10", str(folder))
    assert "train-images-idx3-ubyte.gz" in anomaly.one_class_missing("fashion", str(folder))


def test_toy2d_detection_task(monkeypatch):
    """The paper's 2D metric as a detection task: held-out points of the set against as many
    uniform points in their box, labels 1 = noise; the training points are another draw."""
    anomaly = _anomaly_script(monkeypatch)
    monkeypatch.setattr(anomaly, "TOY2D_SIZES", (300, 200))
    train, test, labels = anomaly.toy2d_task("rings", 0)
    assert train.shape == (300, 2) and test.shape == (400, 2) and labels.sum() == 200
    held, noise = test[labels == 0], test[labels == 1]
    assert (noise >= held.min(0)).all() and (noise <= held.max(0)).all()
    assert not np.isin(held[:, 0], train[:, 0]).any()  # independent draws
    again = anomaly.toy2d_task("rings", 0)
    assert all(np.array_equal(a, b) for a, b in zip((train, test, labels), again))
    assert not np.array_equal(anomaly.toy2d_task("rings", 1)[0], train)


def test_split_seed_fixes_the_data_and_leaves_the_fit_seed(monkeypatch):
    """--split-seed: every job draws the same data, so the seeds vary the fits only; the
    Gaussian fit (no seed of its own) then scores every job alike."""
    anomaly = _anomaly_script(monkeypatch)
    monkeypatch.setattr(anomaly, "TOY2D_SIZES", (300, 200))

    def record(seed, split_seed=None):
        args = ("toy2d", "rings", None, seed, ["gaussian"], True, {})
        (rec,) = anomaly.detection_job(*args, split_seed=split_seed)
        return rec

    fixed = [record(s, split_seed=0) for s in (1, 2)]
    assert fixed[0]["auroc"] == fixed[1]["auroc"] and fixed[0]["split_seed"] == 0
    assert record(1)["auroc"] != record(2)["auroc"] and "split_seed" not in record(1)


def test_timed_langevin_gets_the_dxmi_fit_time(monkeypatch):
    """langevin-timed (the issue's equal-time comparison) trains for the seconds of the same
    job's dxmi fit, or of a recorded one; with neither, it refuses instead of running untimed."""
    anomaly = _anomaly_script(monkeypatch)
    monkeypatch.setattr(anomaly, "TOY2D_SIZES", (300, 200))
    args = ("toy2d", "moons", None, 0)
    # listed first, run last: the DxMI fit's time is its budget
    fit, timed = anomaly.detection_job(*args, ["langevin-timed", "dxmi"], True, {})
    assert (fit["method"], timed["method"]) == ("dxmi", "langevin-timed")
    assert timed["budget_seconds"] == pytest.approx(fit["seconds"], abs=0.05)
    (rec,) = anomaly.detection_job(*args, ["langevin-timed"], True, {}, {"dxmi": 1.5})
    assert rec["budget_seconds"] == 1.5
    with pytest.raises(ValueError, match="langevin-timed needs"):
        anomaly.detection_job(*args, ["langevin-timed"], True, {})
    with pytest.raises(SystemExit, match="langevin-timed needs the time of a dxmi fit"):
        anomaly.main(["--parts", "toy2d", "--toy2d", "moons", "--methods", "langevin-timed"])
