"""End to end on 8x8 digits: pretrain a tiny UNet teacher, fine-tune it with DxMI, sample.

The measurable claim: DxMI fine-tuning lowers the few-step sampler's FID below that of the
un-tuned T-step sampler it starts from (FID on pixels, 300 samples vs the training digits).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import TINY_IMAGES

from dxmi.checkpoint import CheckpointError, load_checkpoint
from dxmi.cli import main
from dxmi.config import ImageConfig, load_config
from dxmi.models.images import ImageSampler
from dxmi.runs import images as image_runs
from dxmi.runs.images import (
    finetune,
    finished_teacher,
    pretrain,
    timed_samples,
    warmup_size,
)
from dxmi.runs.rundir import RunDirError


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain")
    return pretrain(load_config(None, TINY_IMAGES, cls=ImageConfig), out)


def test_pretrain_writes_a_diffusers_teacher(teacher):
    from diffusers import DDPMScheduler, UNet2DModel

    unet = UNet2DModel.from_pretrained(teacher)
    assert unet.config.sample_size == 8 and unet.config.in_channels == 1
    assert DDPMScheduler.from_pretrained(teacher).config.num_train_timesteps == 1000
    metrics = json.loads((teacher.parent / "metrics.json").read_text())
    history = [json.loads(line) for line in (teacher.parent / "history.jsonl").open()]
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]  # the teacher learned
    assert (teacher.parent / "samples.png").is_file() and metrics["iterations"] == 300


def test_pretrain_time_limit(tmp_path):
    sets = [*TINY_IMAGES, "teacher.iterations=100000", "teacher.max_minutes=0.002"]
    pretrain(load_config(None, sets, cls=ImageConfig), tmp_path / "t")
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    state, _ = load_checkpoint(tmp_path / "t" / "checkpoints" / "last")
    assert metrics["stopped_by_time"] and 0 < metrics["iterations"] < 100000
    assert state["iteration"] == metrics["iterations"]
    assert (tmp_path / "t" / "teacher" / "config.json").is_file()
    # a teacher stopped by its time limit is finished: reused as it is, never trained on
    config = load_config(None, sets, cls=ImageConfig)
    assert finished_teacher(config, tmp_path / "t") == tmp_path / "t" / "teacher"
    assert finished_teacher(config, tmp_path / "none") is None
    other = load_config(None, [*sets, "teacher.lr=0.001"], cls=ImageConfig)
    with pytest.raises(RunDirError, match="incompatible config.*teacher.lr"):
        finished_teacher(other, tmp_path / "t")
    # a results folder keeps the metrics but not the weights: an error, not a retrain
    shutil.rmtree(tmp_path / "t" / "teacher")
    with pytest.raises(RunDirError, match="without its weights"):
        finished_teacher(config, tmp_path / "t")


def test_finetune_improves_few_step_fid(teacher, tmp_path):
    config = load_config(None, TINY_IMAGES, cls=ImageConfig)
    sampler = finetune(config, teacher, tmp_path / "ft")
    m = json.loads((tmp_path / "ft" / "metrics.json").read_text())["methods"]
    assert m["dxmi"]["fid"] < 0.7 * m["init"]["fid"], m
    assert m["floor"]["fid"] < m["dxmi"]["fid"]  # and the metric sees real data as better still
    # what a user would pick instead, in the run's own table: the solvers at the same T (which
    # DxMI beats here) and the teacher at 20 DPM-Solver++ steps
    assert m["dxmi"]["fid"] < min(m["dpmsolver++"]["fid"], m["unipc"]["fid"]), m
    assert m["teacher"]["steps"] == 20 and m["teacher"]["solver"] == "dpmsolver++"
    for name in ("samples.png", "chain.png", "curves.png", "energy.json", "sampler/sampler.json"):
        assert (tmp_path / "ft" / name).is_file()
    # the exported sampler alone reproduces the fine-tuned sampler's images
    loaded = ImageSampler.load(tmp_path / "ft" / "sampler")
    np.testing.assert_allclose(loaded.sample(16, seed=3), sampler.sample(16, seed=3), atol=1e-5)
    assert loaded.steps == 2 and loaded.shape == (1, 8, 8)


def test_finetune_resume_is_exact(teacher, tmp_path):
    sets = [*TINY_IMAGES, "dxmi.iterations=6", "run.checkpoint_every=3"]
    config = load_config(None, sets, cls=ImageConfig)
    whole = finetune(config, teacher, tmp_path / "whole")
    half = load_config(None, [*sets, "dxmi.iterations=3"], cls=ImageConfig)
    finetune(half, teacher, tmp_path / "split")
    resumed = finetune(config, teacher, tmp_path / "split", resume=True)
    np.testing.assert_allclose(resumed.sample(8, seed=1), whole.sample(8, seed=1), atol=1e-6)
    other = shutil.copytree(teacher, tmp_path / "other-teacher")
    with pytest.raises(RunDirError, match="fine-tuned from"):
        finetune(config, other, tmp_path / "split", resume=True)


def test_holdout_selection_exports_the_best_checked_sampler_and_resumes(teacher, tmp_path):
    sets = [*TINY_IMAGES, "dxmi.iterations=40", "eval.every=10", "eval.select=holdout"]
    config = load_config(None, sets, cls=ImageConfig)
    finetune(config, teacher, tmp_path / "whole")
    history = [json.loads(line) for line in (tmp_path / "whole" / "history.jsonl").open()]
    checks = {r["iteration"]: r["fid_holdout"] for r in history if "fid_holdout" in r}
    metrics = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    chosen = metrics["selection"]["iteration"]
    assert sorted(checks) == [10, 20, 30, 40] and chosen == min(checks, key=checks.get)
    # the exported sampler is the selected one; the last is scored beside it
    exported = ImageSampler.load(tmp_path / "whole" / "sampler")
    best = ImageSampler.load(tmp_path / "whole" / "sampler-best")
    np.testing.assert_array_equal(exported.sample(8, seed=2), best.sample(8, seed=2))
    assert {"dxmi", "last", "init", "floor"} <= set(metrics["methods"])
    # resuming a run cut at 20 iterations selects the same sampler
    finetune(
        load_config(None, [*sets, "dxmi.iterations=20"], cls=ImageConfig),
        teacher,
        tmp_path / "split",
    )
    finetune(config, teacher, tmp_path / "split", resume=True)
    again = json.loads((tmp_path / "split" / "metrics.json").read_text())["selection"]
    assert again["iteration"] == chosen
    np.testing.assert_allclose(again["fid_holdout"], checks[chosen], rtol=1e-5)


def test_checks_in_the_warm_up_run_once_and_a_selected_last_is_scored_once(
    teacher, tmp_path, monkeypatch
):
    # the sampler does not move in the value warm-up (20 iterations here): of the checks at
    # 10, 20, 30, 40 the one at 20 reuses the one at 10; a falling held-out FID selects the
    # last sampler, which is then scored once and reported as both "dxmi" and "last"
    calls = []

    class Falling:
        reference = "held-out stand-in"

        def fid(self, x):
            calls.append(len(x))
            return 100.0 - len(calls)

    monkeypatch.setattr(image_runs, "holdout_scorer", lambda *a, **k: Falling())
    sets = [*TINY_IMAGES, "dxmi.iterations=40", "eval.every=10", "eval.select=holdout"]
    finetune(load_config(None, sets, cls=ImageConfig), teacher, tmp_path / "r")
    history = [json.loads(line) for line in (tmp_path / "r" / "history.jsonl").open()]
    checks = {r["iteration"]: r["fid_holdout"] for r in history if "fid_holdout" in r}
    assert len(calls) == 3 and checks == {10: 99.0, 20: 99.0, 30: 98.0, 40: 97.0}
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["selection"]["iteration"] == 40
    assert metrics["methods"]["last"] == metrics["methods"]["dxmi"]


def test_holdout_selection_before_the_first_check_exports_the_last_sampler(teacher, tmp_path):
    # a run cut short (dxmi.max_minutes) may stop before eval.every: nothing was selected, so
    # the last sampler is exported and metrics.json has no selection record
    sets = [*TINY_IMAGES, "dxmi.iterations=5", "eval.every=10", "eval.select=holdout"]
    finetune(load_config(None, sets, cls=ImageConfig), teacher, tmp_path / "short")
    metrics = json.loads((tmp_path / "short" / "metrics.json").read_text())
    assert "selection" not in metrics and metrics["iterations"] == 5
    assert "last" not in metrics["methods"] and not (tmp_path / "short" / "sampler-best").exists()


def test_cli_images_and_errors(teacher, tmp_path, capsys):
    chosen = ["dxmi.iterations=4", "eval.every=2", "eval.select=holdout"]
    sets = [a for s in [*TINY_IMAGES, *chosen] for a in ("--set", s)]
    out = tmp_path / "ft"
    assert main(["finetune", "--teacher", str(teacher), "--out", str(out), *sets]) == 0
    printed = capsys.readouterr().out
    assert "floor" in printed and "lowest held-out FID" in printed
    assert main(["sample", "--run", str(out), "-n", "10", "--out", str(tmp_path / "x.npz")]) == 0
    with np.load(tmp_path / "x.npz") as f:
        assert f["images"].shape == (10, 1, 8, 8)
    assert main(["sample", "--run", str(out), "-n", "10", "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").is_file()
    capsys.readouterr()
    # a teacher folder that is not a UNet2DModel: one line, exit code 2
    assert main(["finetune", "--teacher", str(tmp_path), "--out", str(tmp_path / "b"), *sets]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a diffusers UNet2DModel folder" in err and len(err.splitlines()) == 1
    # images that do not fit the teacher
    bad = [*sets, "--set", "data.name=mnist"]
    assert main(["finetune", "--teacher", str(teacher), "--out", str(tmp_path / "c"), *bad]) == 2
    assert "the teacher" in capsys.readouterr().err and not (tmp_path / "c").exists()
    # an unknown key in the image config
    assert main(["pretrain", "--out", str(tmp_path / "d"), "--set", "unet.channels=[8]"]) == 2
    assert "unknown key 'unet.channels'" in capsys.readouterr().err


def test_sampler_export_keeps_the_ddim_mean(teacher, tmp_path):
    """A DDIM-mean policy (dxmi.eta < 1) exports and reloads as itself, not as the posterior."""
    from dxmi.models.factories import build_image_policy
    from dxmi.networks.unet import load_unet_teacher

    config = load_config(None, [*TINY_IMAGES, "dxmi.eta=0.3"], cls=ImageConfig)
    unet, schedule = load_unet_teacher(teacher)
    sampler = ImageSampler(build_image_policy(config, unet, schedule), (1, 8, 8), schedule)
    sampler.save(tmp_path / "s")
    loaded = ImageSampler.load(tmp_path / "s")
    assert loaded.policy.eta == pytest.approx(0.3)
    np.testing.assert_allclose(loaded.sample(8, seed=4), sampler.sample(8, seed=4), atol=1e-6)
    record = json.loads((tmp_path / "s" / "sampler.json").read_text())
    (tmp_path / "s" / "sampler.json").write_text(json.dumps({**record, "eta": 1.5}))
    with pytest.raises(CheckpointError, match="eta must be in"):
        ImageSampler.load(tmp_path / "s")


def test_sampler_load_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not an exported dxmi sampler"):
        ImageSampler.load(tmp_path)
    (tmp_path / "sampler.json").write_text("{}")
    with pytest.raises(CheckpointError, match="unusable sampler record"):
        ImageSampler.load(tmp_path)


def test_sampler_timing_warms_up_only_where_it_pays():
    # a GPU at few steps warms up on one batch; the CPU and the 1000-step sampler do not
    assert warmup_size("cuda", 4, 500) == 500
    assert warmup_size("cuda", 1000, 500) == 0
    assert warmup_size("cpu", 4, 500) == 0
    calls: list[int] = []

    def draw(n: int) -> np.ndarray:
        calls.append(n)
        return np.zeros((n, 1, 2, 2))

    x, secs = timed_samples(draw, 10, warmup=3)
    assert calls == [3, 10] and x.shape[0] == 10 and secs >= 0


def _exported(teacher, folder):
    from dxmi.models.factories import build_image_policy
    from dxmi.networks.unet import load_unet_teacher

    config = load_config(None, TINY_IMAGES, cls=ImageConfig)
    unet, schedule = load_unet_teacher(teacher)
    sampler = ImageSampler(build_image_policy(config, unet, schedule), (1, 8, 8), schedule)
    sampler.save(folder)
    return sampler


@pytest.mark.parametrize(
    "edit, match",
    [
        ({"timesteps": [999, 500, 10]}, "3 timesteps but 2 sigmas"),
        ({"timesteps": [999, -1]}, r"must lie in \[0, 1000\)"),
        ({"timesteps": [1000, 10]}, r"must lie in \[0, 1000\)"),
        ({"timesteps": [10, 999]}, "strictly decrease"),
        ({"timesteps": [500, 500]}, "strictly decrease"),
        ({"timesteps": ["999", "500"]}, "list of integers"),
        ({"log_sigma": [0.0, float("nan")]}, "finite numbers"),
        ({"shape": [3, 8, 8]}, r"shape \[3, 8, 8\], but its UNet makes \[1, 8, 8\]"),
        ({"learned_sigmas": 0}, "learned_sigmas must be 1 or 2"),
        ({"unet_sha256": "0" * 64}, "does not match sampler.json"),
    ],
)
def test_an_edited_sampler_record_is_refused(teacher, tmp_path, edit, match):
    _exported(teacher, tmp_path / "s")
    path = tmp_path / "s" / "sampler.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    with pytest.raises(CheckpointError, match=match):
        ImageSampler.load(tmp_path / "s")


def test_image_draws_with_different_seeds_share_no_images(teacher, tmp_path):
    sampler = _exported(teacher, tmp_path / "s")
    a, b = sampler.sample(40, seed=0, batch_size=16), sampler.sample(40, seed=1, batch_size=16)
    assert not any(np.allclose(x, y) for x in a for y in b)
    np.testing.assert_array_equal(a, sampler.sample(40, seed=0, batch_size=16))


def test_teachers_load_from_safetensors_only(teacher, tmp_path):
    """A .bin UNet would go through torch's unpickler: refused with a one-line error."""
    import torch

    from dxmi.networks.unet import load_unet_teacher

    folder = tmp_path / "bin-teacher"
    shutil.copytree(teacher, folder)
    weights = folder / "diffusion_pytorch_model.safetensors"
    from safetensors.torch import load_file

    torch.save(load_file(weights), folder / "diffusion_pytorch_model.bin")
    weights.unlink()
    with pytest.raises(CheckpointError, match="no safetensors weights.*never unpickles"):
        load_unet_teacher(folder)


def test_the_exported_sampler_is_a_diffusers_pipeline(teacher, tmp_path):
    """`DxMIPipeline.from_pretrained` on the exported folder draws the sampler's own images."""
    import torch

    from dxmi import DxMIPipeline

    sampler = _exported(teacher, tmp_path / "s")
    pipe = DxMIPipeline.from_pretrained(tmp_path / "s", use_safetensors=True)
    out = pipe(batch_size=6, generator=torch.Generator().manual_seed(5), output_type="np").images
    expected = sampler.sample(6, seed=5).transpose(0, 2, 3, 1) / 2 + 0.5
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert len(pipe(batch_size=2, generator=torch.Generator().manual_seed(0)).images) == 2  # PIL
    with pytest.raises(ValueError, match="trained for 2 steps, not 10"):
        pipe.scheduler.set_timesteps(10)
