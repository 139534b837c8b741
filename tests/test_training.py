"""End-to-end: a short DxMI run on 8gaussians, its outputs, resume and bad runs."""

import json

import numpy as np
import pytest
import torch

from dxmi import DxMIModel, load_config, train
from dxmi.checkpoint import CheckpointError, load_checkpoint
from dxmi.data import DataError
from dxmi.runs.rundir import RunDirError

# The demo config, shortened: a smaller teacher and 400 DxMI iterations at T = 4, with linear
# timestep spacing. The demo's quadratic spacing ends lower but starts slower, so a few hundred
# quadratic iterations would test the warm-up, not the method. From the Fourier-feature teacher
# the sampler needs ~300 iterations here (sliced W2 0.76 -> 0.49 at 200, 0.26 at 300).
SHORT_DEMO = [
    "dxmi.timestep_spacing=linear",
    "teacher.iterations=1500",
    "data.n_train=10000",
    "data.n_holdout=2000",
    "dxmi.iterations=400",
    "eval.n_samples=2000",
    "eval.every=100",
    "eval.grid_size=60",
    "eval.n_projections=200",
    "run.checkpoint_every=100",
    "run.progress=false",
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    model = train(load_config("configs/8gaussians.yaml", SHORT_DEMO), out)
    return out, model


def test_dxmi_improves_on_the_few_step_sampler_it_starts_from(finished_run):
    out, _ = finished_run
    m = json.loads((out / "metrics.json").read_text())
    # the teacher's own 4-step sampler is far off; 400 DxMI iterations must close most of the gap
    assert m["dxmi"]["sliced_w2"] < 0.6 * m["init"]["sliced_w2"]
    assert m["dxmi"]["mode_fraction"] > m["init"]["mode_fraction"] + 0.1
    assert m["ebm"]["ebm_kl"] > 0 and 0 < m["ebm"]["ebm_tv"] <= 1


def test_a_run_is_judged_against_its_teacher(finished_run):
    """metrics.json holds every row of the table on the same held-out points: DxMI, its start,
    the teacher's solvers at the same T and at 1000 steps, the data floor."""
    out, _ = finished_run
    m = json.loads((out / "metrics.json").read_text())
    for row in ("dxmi", "init", "dpmsolver++", "unipc", "teacher-1000", "floor"):
        assert {"precision", "recall", "mmd", "sliced_w2", "hist_kl", "hist_tv"} <= set(m[row])
    # the floor is real data: nothing scores better on the metrics that see structure
    for row in ("dxmi", "teacher-1000"):
        assert m[row]["hist_kl"] > m["floor"]["hist_kl"]
    # 8gaussians is a set this short teacher learns: no warning
    assert m["teacher-1000"]["precision"] > m["floor"]["precision"] - 0.1
    assert m["warnings"] == []


def test_run_directory_contents(finished_run):
    out, model = finished_run
    for name in [
        "config.yaml",
        "teacher.json",
        "model.json",
        "model.safetensors",
        "metrics.json",
        "history.jsonl",
        "chain.png",
        "samples.png",
        "energy.png",
        "curves.png",
        "checkpoints/last.json",
        "checkpoints/last.safetensors",
    ]:
        assert (out / name).is_file(), name
    assert any((out / "tensorboard").iterdir())
    assert not list(out.rglob("*.tmp"))
    loaded = DxMIModel.load(out)
    np.testing.assert_array_equal(loaded.sample(100, seed=3), model.sample(100, seed=3))
    x = np.array([[0.0, 0.0], [2.83, 0.0]], np.float32)
    np.testing.assert_allclose(loaded.energy(x), model.energy(x), rtol=1e-6)
    _, meta = load_checkpoint(out / "checkpoints" / "last")
    assert meta["iteration"] == 400
    history = [json.loads(line) for line in (out / "history.jsonl").open()]
    assert [h["iteration"] for h in history if "sliced_w2" in h] == [100, 200, 300, 400]
    assert all("precision" in h and "recall" in h for h in history if "sliced_w2" in h)


def test_resume_matches_an_uninterrupted_run(tmp_path, tiny_overrides):
    full = load_config(
        None,
        tiny_overrides + ["dxmi.iterations=30", "run.checkpoint_every=15", "dxmi.ema_decay=0.9"],
    )
    train(full, tmp_path / "full")
    half = load_config(
        None,
        tiny_overrides + ["dxmi.iterations=15", "run.checkpoint_every=15", "dxmi.ema_decay=0.9"],
    )
    train(half, tmp_path / "split")
    train(full, tmp_path / "split", resume=True)  # continue 15 -> 30
    a, _ = load_checkpoint(tmp_path / "full" / "checkpoints" / "last")
    b, _ = load_checkpoint(tmp_path / "split" / "checkpoints" / "last")
    assert a["iteration"] == b["iteration"] == 30
    for part in ["policy", "energy", "ema"]:
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key}"
    hist = [json.loads(line) for line in (tmp_path / "split" / "history.jsonl").open()]
    assert [h["iteration"] for h in hist] == [10, 15, 20, 30]


def test_time_limit_stops_early_and_resume_finishes(tmp_path, tiny_overrides):
    capped = load_config(
        None, tiny_overrides + ["dxmi.iterations=100000", "dxmi.max_minutes=0.003"]
    )
    train(capped, tmp_path / "run")
    done = json.loads((tmp_path / "run" / "metrics.json").read_text())["iterations"]
    state, _ = load_checkpoint(tmp_path / "run" / "checkpoints" / "last")
    assert 0 < done < 100000 and state["iteration"] == done  # the stopping step is saved
    more = load_config(None, tiny_overrides + [f"dxmi.iterations={done + 5}"])
    train(more, tmp_path / "run", resume=True)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["iterations"] == done + 5


def test_bad_data_leaves_no_run_directory(tmp_path, tiny_overrides):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([[1.0, np.nan], [0.0, 1.0], [2.0, 2.0]]))
    config = load_config(None, tiny_overrides + ["data.name=file", f"data.path={bad}"])
    with pytest.raises(DataError, match="bad.npy: 1 NaN/inf"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_existing_incompatible_and_corrupt_runs(tmp_path, tiny_overrides):
    config = load_config(None, tiny_overrides + ["dxmi.iterations=10", "run.checkpoint_every=5"])
    out = tmp_path / "run"
    train(config, out)
    with pytest.raises(RunDirError, match="already exists"):
        train(config, out)
    other = load_config(None, tiny_overrides + ["dxmi.variant=separate"])
    with pytest.raises(RunDirError, match="incompatible config.*dxmi.variant"):
        train(other, out, resume=True)
    (out / "checkpoints" / "last.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="last.safetensors: corrupt"):
        train(config, out, resume=True)
    assert (out / "metrics.json").exists()  # a failed resume keeps the finished run
    with pytest.raises(RunDirError, match="not a dxmi run directory"):
        (tmp_path / "stray").mkdir()
        (tmp_path / "stray" / "x.txt").write_text("x")
        train(config, tmp_path / "stray", resume=True)


def test_train_from_an_array_in_any_dimension(tmp_path, tiny_overrides):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 0.3, (600, 3)), rng.normal(2, 0.3, (600, 3))]) * 10
    config = load_config(None, tiny_overrides + ["dxmi.iterations=10"])
    model = train(config, tmp_path / "r", points=x)
    s = model.sample(50)
    assert s.shape == (50, 3) and np.isfinite(s).all()
    assert np.abs(s).max() > 5  # samples come back in data units
    assert model.energy(x[:5]).shape == (5,)
    with pytest.raises(ValueError, match="expects 3"):
        model.energy(x[:5, :2])
    # the run records that its data came from an array, so evaluation asks for the data
    from dxmi.cli import main

    assert "name: array" in (tmp_path / "r" / "config.yaml").read_text()
    assert main(["evaluate", "--run", str(tmp_path / "r")]) == 2
    np.save(tmp_path / "x.npy", x)
    assert main(["evaluate", "--run", str(tmp_path / "r"), "--data", str(tmp_path / "x.npy")]) == 0


def test_teacher_depends_on_the_seed_not_on_the_global_rng(tiny_overrides):
    from dxmi.runs.teachers import train_teacher

    config = load_config(None, tiny_overrides + ["teacher.iterations=5"])
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    a, _ = train_teacher(config, data)
    torch.rand(1000)  # a worker's earlier jobs move the global RNG
    after = torch.get_rng_state()
    b, _ = train_teacher(config, data)
    assert torch.equal(torch.get_rng_state(), after)  # and the teacher leaves it alone
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    other = load_config(None, tiny_overrides + ["teacher.iterations=5", "run.seed=1"])
    c, _ = train_teacher(other, data)
    # the Fourier matrix B is fixed by design (networks.mlp.FourierFeatures); the weights are not
    assert torch.equal(a.state_dict()["fourier.B"], c.state_dict()["fourier.B"])
    assert not torch.equal(a.state_dict()["net.0.weight"], c.state_dict()["net.0.weight"])


def test_draws_with_different_seeds_share_no_rows(finished_run):
    _, model = finished_run
    a, b = model.sample(20000, seed=0), model.sample(20000, seed=1)  # 3 batches of 8192
    rows = {r.tobytes() for r in a}
    assert not any(r.tobytes() in rows for r in b)
    np.testing.assert_array_equal(a, model.sample(20000, seed=0))


def test_wide_columns_are_standardised_in_float64(tmp_path, tiny_overrides):
    from dxmi.data import Standardizer, check_points

    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(size=1000), 1e30 * rng.normal(size=1000)]
    std = Standardizer.fit(check_points(x, "x"))
    assert np.isfinite(std.std).all() and std.std[1] == pytest.approx(1e30, rel=0.1)
    with pytest.raises(DataError, match="beyond float32's range"):
        check_points(x * 1e10, "x")
    with pytest.raises(DataError, match="complex numbers"):
        check_points(x + 1j, "x")
