"""Images: `pretrain` a DDPM UNet teacher, `finetune` it into a T-step sampler with DxMI.

Pretrain run directory::

    config.yaml  checkpoints/last.*  history.jsonl  tensorboard/  curves.png
    teacher/     the EMA UNet (diffusers save_pretrained) and scheduler_config.json
    samples.png  metrics.json (written last: its presence marks a finished run)

Fine-tune run directory::

    config.yaml  teacher.json (which teacher)  checkpoints/last.*  history.jsonl  tensorboard/
    sampler/     the exported sampler: unet/ (save_pretrained) and sampler.json (timesteps,
                 learned sigmas, schedule); `ImageSampler.load` or `dxmi sample` use it alone
    energy.*     the conv energy (safetensors + JSON)
    samples.png chain.png curves.png  metrics.json (written last)
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn
from torch.nn import functional as F
from torch.utils.tensorboard import SummaryWriter

from dxmi.atomic import write_json
from dxmi.checkpoint import save_checkpoint
from dxmi.config import ImageConfig, to_dict
from dxmi.data.images import ClassLabelError, ImageData, load_images
from dxmi.data.points import DataError
from dxmi.diffusion.ddpm import DDPMTrainer
from dxmi.diffusion.schedules import Schedule
from dxmi.irl.trainer import DxMITrainer
from dxmi.models.factories import build_image_policy, build_schedule, conv_energy_networks
from dxmi.models.images import ImageSampler, SolverSampler, sampling_precision
from dxmi.networks.unet import (
    UNetEpsilon,
    build_unet,
    load_unet_teacher,
    unet_classes,
)
from dxmi.plots import plot_curves, save_image_chain, save_image_grid
from dxmi.runs.loop import LoopSettings, in_run, run_loop
from dxmi.runs.rundir import (
    RunDir,
    RunDirError,
    RunKind,
    check_run_config,
)

# what a resumed run must keep; the budgets may change
PRETRAIN = RunKind(
    ("data", "unet", "teacher"), frozenset({("teacher", "iterations"), ("teacher", "max_minutes")})
)
FINETUNE = RunKind(
    ("data", "teacher", "dxmi", "energy"),
    frozenset({("dxmi", "iterations"), ("dxmi", "max_minutes")}),
)


# ---------------------------------------------------------------------------------------------
# data and networks


def load_image_run_data(config: ImageConfig, num_classes: int | None = None) -> ImageData:
    """The configured images, split, and average-pooled by `data.downsample`; for a run with
    `num_classes` classes, with class labels in [0, num_classes) (else a one-line error)."""
    d = config.data
    data = load_images(
        d.name,
        d.path,
        holdout_fraction=d.holdout_fraction,
        seed=d.seed,
        labels=num_classes is not None,
    )
    if num_classes is not None:
        top = int(max(data.train_labels.max(), data.holdout_labels.max()))
        if top >= num_classes:
            raise ClassLabelError(
                f"{d.path or d.name}: class label {top} out of range for a teacher with "
                f"{num_classes} classes (unet.num_class_embeds)"
            )
    if d.downsample > 1:
        h, w = data.shape[1:]
        if h % d.downsample or w % d.downsample:
            raise DataError(
                f"{d.path or d.name}: {h}x{w} images cannot be downsampled by {d.downsample}"
            )

        def pool(x: np.ndarray) -> np.ndarray:
            return F.avg_pool2d(torch.from_numpy(x), d.downsample).numpy()

        data.train, data.holdout = pool(data.train), pool(data.holdout)
    return data


def _square_size(data: ImageData, source: str) -> int:
    c, h, w = data.shape
    if h != w:
        raise DataError(f"{source}: images are {h}x{w}; dxmi's UNet needs square images")
    return h


def _training_images(
    data: ImageData, flip: bool, device, conditional: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The training images (flips as a fixed doubling of the data) and, for a class-conditional
    run, their labels."""
    x = torch.from_numpy(data.train).to(device)
    y = torch.from_numpy(data.train_labels).to(device) if conditional else None
    if flip:
        x = torch.cat([x, x.flip(-1)])
        y = None if y is None else torch.cat([y, y])
    return x, y


def eval_labels(config: ImageConfig, data: ImageData, num_classes: int | None, n: int):
    """The classes asked of every sampler in an evaluation of a class-conditional run: n drawn
    from the training labels (their frequencies) with ``eval.seed``; None when unconditional."""
    if num_classes is None:
        return None
    rng = np.random.default_rng(config.eval.seed)
    return data.train_labels[rng.integers(len(data.train_labels), size=n)]


def grid_labels(num_classes: int | None, per_class: int = 8):
    """One row of `per_class` images per class (sample grids of class-conditional runs)."""
    return None if num_classes is None else np.repeat(np.arange(num_classes), per_class)


# ---------------------------------------------------------------------------------------------
# pretrain


def pretrain(
    config: ImageConfig, out_dir: str | Path, *, resume: bool = False, overwrite: bool = False
) -> Path:
    """Train a DDPM UNet teacher on the configured images; returns its folder (``teacher/``)."""
    out = Path(out_dir)
    data = load_image_run_data(config, config.unet.num_class_embeds or None)
    size = _square_size(data, config.data.path or config.data.name)

    def body(run: RunDir, acc: Accelerator) -> Path:
        return _pretrain(config, run, data, size, acc)

    return in_run(
        out, config, PRETRAIN, [config.data.path], body, resume=resume, overwrite=overwrite
    )


def _pretrain(config: ImageConfig, run: RunDir, data: ImageData, size: int, acc) -> Path:
    from diffusers import DDPMScheduler

    out, main = run.path, acc.is_main_process
    set_seed(config.run.seed)
    t = config.teacher
    schedule = build_schedule(t)
    u = config.unet
    try:
        unet = build_unet(
            data.shape[0],
            size,
            u.block_out_channels,
            u.layers_per_block,
            u.attention,
            u.norm_num_groups,
            u.num_class_embeds,
        )
    except ValueError as err:
        raise DataError(f"{config.data.path or config.data.name}: {err}") from None
    classes = u.num_class_embeds or None
    train_x, train_y = _training_images(data, config.data.flip, acc.device, classes is not None)
    trainer = DDPMTrainer(
        UNetEpsilon(unet),
        schedule.alphas_cumprod(),
        acc,
        iterations=t.iterations,
        batch_size=t.batch_size,
        lr=t.lr,
        ema_decay=t.ema_decay,
        seed=config.run.seed,
        labels=train_y,
    )
    writer = SummaryWriter(str(out / "tensorboard")) if main else None
    settings = LoopSettings(
        t.iterations,
        t.max_minutes,
        config.run.log_every,
        config.run.checkpoint_every,
        desc="pretrain",
        progress=config.run.progress and main,
    )
    began = time.perf_counter()
    history = run_loop(trainer, train_x, settings, run, writer)
    done = trainer.iteration_count

    teacher_dir = out / "teacher"
    if main:
        teacher = trainer.teacher.unet
        tmp = out / "teacher.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        teacher.save_pretrained(tmp)
        DDPMScheduler(**schedule.to_dict()).save_pretrained(tmp)
        shutil.rmtree(teacher_dir, ignore_errors=True)
        tmp.replace(teacher_dir)
        _draw_teacher(teacher, schedule, data.shape, out / "samples.png", config.eval.seed, classes)
        plot_curves(history, out / "curves.png")
        if writer is not None:
            writer.close()
        recent = [r["loss"] for r in history[-10:]]
        run.finish(
            {
                "iterations": done,
                "stopped_by_time": done < t.iterations,
                "final_loss": float(np.mean(recent)) if recent else None,
                "seconds_this_session": time.perf_counter() - began,
                "parameters": sum(p.numel() for p in teacher.parameters()),
            },
        )
    acc.wait_for_everyone()
    return teacher_dir


def finished_teacher(config: ImageConfig, out_dir: str | Path) -> Path | None:
    """The teacher of a finished `pretrain` run in `out_dir`, or None if there is none yet.

    A run stopped by ``teacher.max_minutes`` counts as finished: resuming it with `pretrain`
    would train on to ``teacher.iterations``, which a benchmark that reuses a teacher must not
    do. Raises `RunDirError` if the run was made with other data, UNet or teacher settings, or
    if its weights are gone.
    """
    out = Path(out_dir)
    if not (out / "metrics.json").is_file():
        return None
    check_run_config(out, config, PRETRAIN)
    if not (out / "teacher").is_dir():
        # a results folder keeps a run's metrics and pictures but not its weights (.gitignore):
        # training anew would pair the recorded rows with another teacher
        raise RunDirError(
            f"{out}: a finished run without its weights (no teacher/ folder); move {out} "
            "away to train the teacher anew"
        )
    return out / "teacher"


def _draw_teacher(
    unet, schedule: Schedule, shape, path: Path, seed: int, classes: int | None
) -> None:
    """64 teacher samples (8 per class, a row each, when class-conditional) with DPM-Solver++
    at 20 steps (a quick look, not a metric)."""
    labels = grid_labels(classes)
    sampler = SolverSampler(UNetEpsilon(unet), shape, schedule, "dpmsolver++", 20)
    x = sampler.sample(64 if labels is None else len(labels), seed, labels=labels)
    save_image_grid(x, path)


# ---------------------------------------------------------------------------------------------
# finetune


def _check_teacher_fits(unet, data: ImageData, teacher: Path, source: str) -> None:
    c, h, _ = data.shape
    cfg = unet.config
    size = cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0]
    if cfg.in_channels != c or size != h:
        raise DataError(
            f"{source}: images are {c}x{h}x{h}, the teacher {teacher} expects "
            f"{cfg.in_channels}x{size}x{size}"
        )


def _record_teacher(out: Path, teacher: Path, resume: bool) -> None:
    """teacher.json names the teacher; resuming with another teacher is refused."""
    path = out / "teacher.json"
    record = {"teacher": str(teacher.resolve())}
    if resume and path.is_file():
        old = json.loads(path.read_text()).get("teacher")
        if old != record["teacher"]:
            raise RunDirError(f"{out}: fine-tuned from {old}, not {teacher}; use a new --out")
    path.write_text(json.dumps(record))


def finetune(
    config: ImageConfig,
    teacher: str | Path,
    out_dir: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
) -> ImageSampler:
    """Fine-tune `teacher` (a UNet2DModel folder) into a `config.dxmi.steps`-step sampler."""
    out, teacher = Path(out_dir), Path(teacher)
    unet, schedule = load_unet_teacher(teacher)
    data = load_image_run_data(config, unet_classes(unet))
    source = config.data.path or config.data.name
    _check_teacher_fits(unet, data, teacher, source)

    def body(run: RunDir, acc: Accelerator) -> ImageSampler:
        return _finetune(config, run, data, unet, teacher, schedule, acc, resume)

    inputs = [config.data.path, teacher]
    return in_run(out, config, FINETUNE, inputs, body, resume=resume, overwrite=overwrite)


def _finetune(
    config: ImageConfig,
    run: RunDir,
    data: ImageData,
    unet,
    teacher: Path,
    schedule: Schedule,
    acc,
    resume: bool,
) -> ImageSampler:
    out, main = run.path, acc.is_main_process
    if run.owner:
        _record_teacher(out, teacher, resume)
    acc.wait_for_everyone()
    set_seed(config.run.seed)
    channels, classes = data.shape[0], unet_classes(unet)
    policy = build_image_policy(config, unet, schedule)
    initial = ImageSampler(copy.deepcopy(policy).eval(), data.shape, schedule)
    train_x, train_y = _training_images(data, config.data.flip, acc.device, classes is not None)
    energy, value = conv_energy_networks(config, data.shape, train_x, classes)
    trainer = DxMITrainer(
        policy,
        energy,
        value,
        config.dxmi,
        acc,
        seed=config.run.seed,
        labels=train_y,
    )
    scorer = make_scorer(config, data) if main else None
    labels = eval_labels(config, data, classes, config.eval.n_samples)
    selector = (
        _HoldoutSelector(config, data, scorer, out, resume, labels)
        if main and config.eval.select == "holdout"
        else None
    )

    frozen: dict = {}  # the first check's scores while the value warms up

    def evaluate(policy) -> dict:
        # No policy step is taken in the first dxmi.value_warmup iterations, so the sampler is
        # the start until then: its first check stands for the later ones (two draws each).
        still = trainer.iteration_count <= config.dxmi.value_warmup
        if still and frozen:
            return dict(frozen)
        e = config.eval
        sampler = ImageSampler(policy, data.shape, schedule)
        with sampling_precision(sampler.device, e.precision):
            x = sampler.sample(e.n_samples, e.seed, e.batch_size, labels)
        scores = scorer.score(x)
        result = {"fid": scores["fid"], "kid": scores["kid"], "postfix": f"fid={scores['fid']:.2f}"}
        if selector is not None:
            result["fid_holdout"] = selector.check(sampler, trainer.iteration_count)
        if still:
            frozen.update(result)
        return result

    writer = SummaryWriter(str(out / "tensorboard")) if main else None
    settings = LoopSettings.dxmi(config, "finetune", config.run.progress and main)
    history = run_loop(trainer, train_x, settings, run, writer, evaluate)

    sampler = ImageSampler(copy.deepcopy(trainer.sampler).eval(), data.shape, schedule)
    final = {"dxmi": sampler}
    # the last sampler is scored beside the selected one unless it is the selected one
    best = None if selector is None else selector.best
    if best is not None and best["iteration"] != trainer.iteration_count:
        final = {"dxmi": ImageSampler.load(selector.folder, sampler.device), "last": sampler}
        sampler = final["dxmi"]
    if main:
        sampler.save(out / "sampler")
        save_checkpoint(
            out / "energy",
            {"energy": trainer.scoring_energy.state_dict()},
            {
                "config": to_dict(config.energy),
                "in_channels": channels,
                "image_shape": list(data.shape),
                "num_classes": classes,
            },
        )
        # up to 64 images (8 per class, a row each); no more than the evaluation draws, so a
        # smoke run of a large UNet does not spend its time on the picture
        per_class = max(1, min(8, config.eval.n_samples // (classes or 8)))
        seed, rows = config.eval.seed, grid_labels(classes, per_class)
        n_grid = min(64, config.eval.n_samples) if rows is None else len(rows)
        save_image_grid(sampler.sample(n_grid, seed=seed, labels=rows), out / "samples.png")
        n_chain = min(8, config.eval.n_samples)
        chain_labels = None if classes is None else np.arange(n_chain) % classes
        save_image_chain(sampler.chain(n_chain, seed=seed, labels=chain_labels), out / "chain.png")
        plot_curves(history, out / "curves.png")
        if writer is not None:
            writer.close()
        # the copy of the untrained policy was made on the CPU, before the trainer moved the
        # policy to its device: on a GPU run it would sample there, minutes per 1,000 images
        initial.policy.to(sampler.device)
        references = reference_samplers(config, initial.policy.eps_model, data.shape, schedule)
        metrics = evaluate_image_sampler(
            config, data, {**final, "init": initial, **references}, scorer
        )
        metrics["iterations"] = trainer.iteration_count  # fewer than asked if max_minutes ran out
        if selector is not None and selector.best is not None:  # None: no check was reached
            metrics["selection"] = selector.best
            metrics["methods"].setdefault("last", metrics["methods"]["dxmi"])
        run.finish(metrics)
    acc.wait_for_everyone()
    return sampler


class _HoldoutSelector:
    """Keeps the sampler with the lowest FID against the held-out images (``eval.select:
    holdout``) in ``out/sampler-best``, with ``selection.json`` beside it.

    Selecting on the reported FID would flatter it (method notes, section 7), so the check
    draws its own samples (``eval.seed + 1``) and scores them against the held-out split,
    which the reported scores never see. On resume the best so far is read back; the checks
    are deterministic, so a check repeated after a crash gives the same answer.
    """

    def __init__(
        self, config: ImageConfig, data: ImageData, scorer, out: Path, resume: bool, labels
    ):
        self.config, self.folder, self.record = config, out / "sampler-best", out / "selection.json"
        self.labels = labels
        self.scorer = holdout_scorer(config, data, scorer)
        self.best: dict | None = None
        if resume and self.record.is_file() and self.folder.is_dir():
            self.best = json.loads(self.record.read_text())
        else:
            self.record.unlink(missing_ok=True)
            shutil.rmtree(self.folder, ignore_errors=True)

    def check(self, sampler: ImageSampler, iteration: int) -> float:
        e = self.config.eval
        with sampling_precision(sampler.device, e.precision):
            x = sampler.sample(e.n_samples, e.seed + 1, e.batch_size, self.labels)
        fid = self.scorer.fid(x)
        if self.best is None or fid < self.best["fid_holdout"]:
            # the sampler first, then the record: a crash between the two repeats the check
            sampler.save(self.folder)
            self.best = {
                "iteration": iteration,
                "fid_holdout": fid,
                "reference": self.scorer.reference,
                "n_samples": e.n_samples,
            }
            write_json(self.record, self.best)
        return fid


# ---------------------------------------------------------------------------------------------
# evaluation


def reference_samplers(
    config: ImageConfig, eps: UNetEpsilon, shape, schedule: Schedule
) -> dict[str, SolverSampler]:
    """What a user would pick instead of DxMI, for finetune's own table: ``eval.baselines`` at
    the same T and noise levels, and the teacher at ``eval.teacher_steps`` (its ancestral
    sampler at every step, or DPM-Solver++ at fewer), so a table shows whether the teacher or
    DxMI limits a result."""
    d, e = config.dxmi, config.eval
    out = {
        name: SolverSampler(eps, shape, schedule, name, d.steps, d.clip_x0, d.timestep_spacing)
        for name in e.baselines
    }
    if e.teacher_steps:
        full = e.teacher_steps == schedule.num_train_timesteps
        solver = "ancestral" if full else "dpmsolver++"
        out["teacher"] = SolverSampler(eps, shape, schedule, solver, e.teacher_steps, d.clip_x0)
    return out


def holdout_scorer(config: ImageConfig, data: ImageData, scorer):
    """The checkpoint selection's scorer (``eval.select: holdout``): `scorer`'s features,
    against the held-out images."""
    from dxmi.metrics.images import ImageScorer

    return ImageScorer(
        scorer.net,
        data.holdout,
        "held-out images",
        seed=scorer.seed,
        cache=config.eval.feature_cache or None,
    )


def make_scorer(config: ImageConfig, data: ImageData):
    """An `ImageScorer` against the training images, on `config.eval.feature_net`'s features."""
    from dxmi.metrics.images import (
        CIFAR10_FEATURES,
        MNIST_FEATURES,
        ImageScorer,
        InceptionFeatures,
        PixelFeatures,
        ResizedFeatures,
        load_feature_net,
    )

    name = config.eval.feature_net
    device = "cuda" if torch.cuda.is_available() and not config.run.cpu else "cpu"
    if name == "pixels":
        net: nn.Module = PixelFeatures(data.shape)
    elif name == "inception" or name.startswith("inception:"):
        net = InceptionFeatures(name.partition(":")[2] or None)
    else:
        shipped = {"mnist": MNIST_FEATURES, "cifar10": CIFAR10_FEATURES}
        net = ResizedFeatures(load_feature_net(shipped.get(name, name)))
    reference = data.train[: config.eval.n_reference or None]  # the split is shuffled
    return ImageScorer(
        net.to(device).eval(),
        reference,
        "training images",
        seed=config.eval.seed,
        cache=config.eval.feature_cache or None,
    )


def warmup_size(device: torch.device | str, steps: int, batch_size: int) -> int:
    """How many images to draw, untimed, before timing a sampler (see `timed_samples`).

    On a GPU the first call at a new batch shape pays one-time costs (CUDA kernels loading,
    cuDNN autotuning every convolution when ``cudnn.benchmark`` is on) that at a few steps
    outweighed the sampling itself (0.89 vs 0.15 s per 1,000 images at T = 4 on an H200). A
    1000-step sampler is timed cold: its warm-up would cost as much as the measurement, and the
    one-time cost is under 1% of it. On the CPU there is nothing to warm up.
    """
    return batch_size if torch.device(device).type == "cuda" and steps <= 100 else 0


def timed_samples(sample_fn, n: int, warmup: int = 0) -> tuple[np.ndarray, float]:
    """Run `sample_fn(n)`; return its images and the seconds per 1000 images.

    ``warmup`` images are drawn first, untimed (`warmup_size`); `sample_fn` must not carry
    random state between calls, so that the warm-up leaves the timed samples unchanged.
    """
    if warmup > 0:
        sample_fn(warmup)
    began = time.perf_counter()
    x = sample_fn(n)
    return x, (time.perf_counter() - began) * 1000.0 / max(n, 1)


def evaluate_image_sampler(
    config: ImageConfig,
    data: ImageData,
    samplers: dict[str, ImageSampler | SolverSampler],
    scorer=None,
) -> dict:
    """FID / KID / precision / recall (and, class-conditional, the class accuracy) of each
    sampler on the same noise seed and classes, and of held-out real images (the floor)."""
    scorer = scorer or make_scorer(config, data)
    n = config.eval.n_samples
    classes = next(iter(samplers.values())).num_classes if samplers else None
    labels = eval_labels(config, data, classes, n)  # the same classes asked of every sampler
    out: dict = {"dataset": config.data.name, "shape": list(data.shape), "methods": {}}
    if classes is not None:
        out["num_classes"] = classes
    for name, sampler in samplers.items():
        with sampling_precision(sampler.device, config.eval.precision):
            x, secs = timed_samples(
                lambda m, s=sampler: s.sample(
                    m,
                    seed=config.eval.seed,
                    batch_size=config.eval.batch_size,
                    labels=None if labels is None else labels[:m],
                ),
                n,
                warmup_size(sampler.device, sampler.steps, config.eval.batch_size),
            )
        out["methods"][name] = {
            **scorer.score(x, labels),
            "steps": sampler.steps,
            "seconds_per_1000": secs,
            **({"solver": sampler.solver} if isinstance(sampler, SolverSampler) else {}),
        }
    floor, floor_labels = data.holdout[:n], data.holdout_labels[:n]
    out["methods"]["floor"] = {
        **scorer.score(floor, None if classes is None else floor_labels),
        "steps": 0,
        "seconds_per_1000": None,
    }
    return out
