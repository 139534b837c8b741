from pathlib import Path

import pytest

from dxmi.config import Config, ConfigError, ImageConfig, load_config, save_config


def test_defaults_are_the_reference_settings():
    c = Config()
    assert (c.dxmi.tau1, c.dxmi.tau2, c.dxmi.gamma) == (0.1, 0.01, 1.0)
    assert (c.dxmi.sampler_lr, c.dxmi.sigma_lr, c.dxmi.value_lr) == (1e-7, 1e-5, 1e-5)
    assert c.dxmi.batch_size == 128 and c.dxmi.sampler_grad_clip == 0.1
    assert c.dxmi.last_sigma == 1e-3 and c.dxmi.ema_decay == 0.0


@pytest.mark.parametrize("name", ["8gaussians.yaml", "reference.yaml", "reference-separate.yaml"])
def test_repo_configs_load(name):
    assert isinstance(load_config(f"configs/{name}"), Config)


def test_unknown_key_names_key_and_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("dxmi:\n  tau_1: 0.1\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'dxmi\.tau_1'"):
        load_config(p)


def test_unknown_section(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("optimiser:\n  lr: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'optimiser'"):
        load_config(p)


@pytest.mark.parametrize(
    "text, match",
    [
        ("dxmi:\n  steps: four\n", r"dxmi\.steps: expected an integer"),
        ("dxmi:\n  steps: 4.5\n", r"dxmi\.steps: expected an integer"),
        ("dxmi:\n  tau1: true\n", r"dxmi\.tau1: expected a number"),
        ("dxmi:\n  variant: both\n", r"dxmi\.variant: 'both' is not one of"),
        ("run:\n  progress: 1\n", r"run\.progress: expected true or false"),
        ("dxmi: 3\n", r"dxmi: expected a section"),
    ],
)
def test_wrong_type_is_named(tmp_path, text, match):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_int_widens_to_float_and_overrides_apply():
    c = load_config(None, ["dxmi.tau1=1", "dxmi.variant=separate", "data.path=x.npy"])
    assert c.dxmi.tau1 == 1.0 and isinstance(c.dxmi.tau1, float)
    assert c.dxmi.variant == "separate" and c.data.path == "x.npy"


def test_bad_override_and_range_checks():
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_config(None, ["dxmi.steps"])
    with pytest.raises(ConfigError, match="unknown key 'dxmi.stepz'"):
        load_config(None, ["dxmi.stepz=3"])
    with pytest.raises(ConfigError, match="dxmi.velocity_momentum"):
        load_config(None, ["dxmi.velocity_momentum=1.5"])
    with pytest.raises(ConfigError, match=r"dxmi\.eta must be in \[0, 1\]"):
        load_config(None, ["dxmi.eta=-0.5"], cls=ImageConfig)
    with pytest.raises(ConfigError, match="data.path is required"):
        load_config(None, ["data.name=file"])
    with pytest.raises(ConfigError, match="dxmi.energy.fourier_features must be >= 0"):
        load_config(None, ["dxmi.energy.fourier_features=-4"])
    with pytest.raises(ConfigError, match="dxmi.energy.fourier_scale must be positive"):
        load_config(None, ["dxmi.energy.fourier_features=4", "dxmi.energy.fourier_scale=0"])
    with pytest.raises(ConfigError, match="sampler.fourier_scale must be positive"):
        load_config(None, ["sampler.fourier_scale=-1"])
    with pytest.raises(ConfigError, match="teacher.lr must be positive"):
        load_config(None, ["teacher.lr=-0.001"])
    with pytest.raises(ConfigError, match="eval.teacher_steps must be in"):
        load_config(None, ["eval.teacher_steps=2000"])
    with pytest.raises(ConfigError, match="eval.knn_k"):
        load_config(None, ["eval.knn_k=0"])
    # the image teacher's loop has no schedule: keys it would ignore are refused
    with pytest.raises(ConfigError, match="teacher.lr_schedule: image teachers"):
        load_config(None, ["teacher.lr_schedule=cosine"], cls=ImageConfig)
    with pytest.raises(ConfigError, match="teacher.plateau_tol: image teachers"):
        load_config(None, ["teacher.plateau_tol=0.1"], cls=ImageConfig)
    with pytest.raises(ConfigError, match="eval.select 'holdout' needs eval.every"):
        load_config(None, ["eval.select=holdout"], cls=ImageConfig)
    with pytest.raises(ConfigError, match="eval.select must be"):
        load_config(None, ["eval.select=best", "eval.every=100"], cls=ImageConfig)


def test_point_defaults_carry_the_teacher_that_learns_structure():
    """Points: Fourier features and a cosine-annealed 15k budget (docs/results/point-teacher.md);
    a partial section keeps them; images keep their own constant-rate teacher."""
    c = load_config(None, ["teacher.iterations=100"])
    assert c.teacher.lr_schedule == "cosine" and c.teacher.iterations == 100
    assert c.sampler.fourier_features == 64 and c.sampler.fourier_scale == 8.0
    assert load_config(None, cls=ImageConfig).teacher.lr_schedule == "constant"


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("dxmi: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_save_load_round_trip(tmp_path):
    c = load_config(None, ["dxmi.steps=7", "sampler.hidden=32"])
    save_config(c, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == c


def test_a_partial_sub_section_keeps_its_parents_defaults():
    c = load_config(None, ["dxmi.energy.hidden=32"])
    assert c.dxmi.energy.hidden == 32 and c.dxmi.energy.fourier_features == 64
    assert load_config("configs/8gaussians.yaml").dxmi.energy.fourier_scale == 4.0


@pytest.mark.parametrize(
    "override, match",
    [
        ("dxmi.sampler_lr=-1e-4", "dxmi.sampler_lr must be a finite number >= 0"),
        ("dxmi.value_lr=.nan", "dxmi.value_lr must be a finite number >= 0"),
        ("dxmi.energy_lr=1e-3", "the shared variant trains its one network at dxmi.value_lr"),
        ("run.log_every=0", "run.log_every must be at least 1"),
    ],
)
def test_rates_and_ignored_keys_are_refused(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, [override])
    load_config(None, ["dxmi.variant=separate", "dxmi.energy_lr=1e-3"])  # read there


def test_image_configs_refuse_the_point_energy_section():
    with pytest.raises(ConfigError, match="image runs read the top-level energy"):
        load_config(None, ["dxmi.energy.hidden=64"], cls=ImageConfig)


@pytest.mark.parametrize("path", sorted(str(p) for p in Path("configs").glob("*.yaml")))
def test_every_shipped_config_loads(path):
    """Each file in configs/ is valid for what it configures (a renamed key fails here)."""
    from dxmi.detect.points import detector_from_config

    name = Path(path).name
    if name.startswith("detector"):
        assert detector_from_config(path).iterations >= 1
    elif name.startswith(("mnist", "cifar")):
        # the reference template names no data folder: the user passes one
        sets = ["data.path=PATH"] if name.startswith("cifar") else []
        assert load_config(path, sets, cls=ImageConfig).data.name
    else:
        assert load_config(path).dxmi.steps >= 1
