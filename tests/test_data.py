import numpy as np
import pytest

from dxmi.data import (
    TOY_DATASETS,
    DataError,
    Standardizer,
    eight_gaussians_centers,
    eight_gaussians_log_density,
    load_data,
    load_points,
    sample_toy,
    split_points,
)


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_toy_sets_are_reproducible(name):
    a, b = sample_toy(name, 500, 3), sample_toy(name, 500, 3)
    c = sample_toy(name, 500, 4)
    assert a.shape == (500, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a).max() < 6  # FFJORD sets live in about [-4, 4]^2


def test_eight_gaussians_density_integrates_to_one_and_peaks_at_centres():
    xs = np.linspace(-6, 6, 601)
    gx, gy = np.meshgrid(xs, xs)
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    mass = np.exp(eight_gaussians_log_density(pts)).sum() * (xs[1] - xs[0]) ** 2
    assert mass == pytest.approx(1.0, abs=1e-3)
    centres = eight_gaussians_centers()
    assert (eight_gaussians_log_density(centres) > eight_gaussians_log_density(0 * centres)).all()
    x = sample_toy("8gaussians", 20000, 0)
    nearest = np.linalg.norm(x[:, None] - centres[None], axis=-1).argmin(1)
    assert np.bincount(nearest, minlength=8).min() > 2000  # balanced modes


def test_toy_split_is_independent():
    d = load_data("moons", n_train=300, n_holdout=100, seed=0)
    assert d.train.shape == (300, 2) and d.holdout.shape == (100, 2)
    assert not np.isin(d.holdout[:, 0], d.train[:, 0]).any()


def test_load_npy_and_csv_with_header(tmp_path):
    x = np.random.default_rng(0).normal(size=(50, 5))
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b,c,d,e", comments="")
    np.testing.assert_allclose(load_points(tmp_path / "x.npy"), x, rtol=1e-6)
    np.testing.assert_allclose(load_points(tmp_path / "x.csv"), x, rtol=1e-6)


def test_one_dimensional_points(tmp_path):
    np.savetxt(tmp_path / "x.csv", np.arange(10.0))
    assert load_points(tmp_path / "x.csv").shape == (10, 1)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: np.save(p / "f.npy", np.array([[1.0, np.nan], [2, 3]])), "NaN/inf"),
        (lambda p: np.save(p / "f.npy", np.array([[1.0, np.inf], [2, 3]])), "NaN/inf"),
        (lambda p: np.save(p / "f.npy", np.zeros((4, 2, 2))), "expected an N x D array"),
        (lambda p: np.save(p / "f.npy", np.zeros((1, 3))), "at least 2 point"),
        (lambda p: np.save(p / "f.npy", np.array(["a", "b"])), "expected numbers"),
        (lambda p: (p / "f.npy").write_bytes(b""), "empty"),
        (lambda p: (p / "f.npy").write_bytes(b"not a numpy file"), "cannot read"),
    ],
)
def test_bad_npy_files(tmp_path, make, match):
    make(tmp_path)
    with pytest.raises(DataError, match=match) as err:
        load_points(tmp_path / "f.npy")
    assert "f.npy" in str(err.value)


def test_bad_csv_files(tmp_path):
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with pytest.raises(DataError, match="ragged.csv"):
        load_points(tmp_path / "ragged.csv")
    (tmp_path / "header_only.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="no rows"):
        load_points(tmp_path / "header_only.csv")
    with pytest.raises(DataError, match="unsupported file type"):
        (tmp_path / "x.parquet").write_text("x")
        load_points(tmp_path / "x.parquet")
    with pytest.raises(DataError, match="not found"):
        load_points(tmp_path / "missing.npy")


def test_split_and_standardizer():
    x = np.random.default_rng(1).normal(3.0, 5.0, size=(1000, 3)).astype(np.float32)
    d = split_points(x, "x", 0.2, seed=0)
    assert len(d.holdout) == 200 and len(d.train) == 800
    s = Standardizer.fit(d.train)
    z = s.transform(d.train)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(s.inverse(z), d.train, rtol=1e-5, atol=1e-5)
    s2 = Standardizer.from_dict(s.to_dict())
    np.testing.assert_array_equal(s2.mean, s.mean)
    with pytest.raises(DataError, match="too few points"):
        split_points(x[:2], "x", 0.2)
