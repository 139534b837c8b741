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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn
from torch.nn import functional as F
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from dxmi.atomic import write_json
from dxmi.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, sha256
from dxmi.config import ImageConfig, to_dict
from dxmi.data.images import ImageData, load_images
from dxmi.data.points import DataError
from dxmi.diffusion import GaussianPolicy, rollout, select_timesteps
from dxmi.diffusion.ddpm import ddpm_loss
from dxmi.diffusion.schedules import Schedule
from dxmi.ema import make_ema
from dxmi.irl.trainer import DxMITrainer, iteration_generator
from dxmi.loop import TimeLimit, run_loop
from dxmi.networks.conv_energy import ConvEnergy
from dxmi.networks.unet import UNetEpsilon, build_unet, load_unet_teacher
from dxmi.plots import plot_curves, save_image_chain, save_image_grid
from dxmi.rundir import (
    RunDir,
    RunDirError,
    check_run_config,
    log_record,
    open_run,
    read_history,
)

PRETRAIN_SECTIONS = ("data", "unet", "teacher")
PRETRAIN_FREE = {("teacher", "iterations"), ("teacher", "max_minutes")}  # may change on resume
FINETUNE_SECTIONS = ("data", "teacher", "dxmi", "energy")
FINETUNE_FREE = {("dxmi", "iterations"), ("dxmi", "max_minutes")}


# ---------------------------------------------------------------------------------------------
# data and networks


def load_image_run_data(config: ImageConfig) -> ImageData:
    """The configured images, split, and average-pooled by `data.downsample`."""
    d = config.data
    data = load_images(d.name, d.path, holdout_fraction=d.holdout_fraction, seed=d.seed)
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


def build_image_policy(config: ImageConfig, unet: nn.Module, schedule: Schedule) -> GaussianPolicy:
    """The T-step policy whose mean is the teacher's DDPM posterior step (notes, section 6)."""
    timesteps = select_timesteps(
        schedule.num_train_timesteps, config.dxmi.steps, config.dxmi.timestep_spacing
    )
    return GaussianPolicy(
        UNetEpsilon(unet),
        schedule.alphas_cumprod(),
        timesteps,
        last_sigma=config.dxmi.last_sigma,
        learn_last_sigma=config.dxmi.learn_last_sigma,
        clip_x0=config.dxmi.clip_x0,
        eta=config.dxmi.eta,
    )


def build_conv_energy(config: ImageConfig, channels: int, value: bool = False) -> ConvEnergy:
    """The energy E(x), or (value=True) the separate variant's value V(x, t)."""
    e = config.energy
    return ConvEnergy(channels, e.channels, time_embedding=e.time_embedding if value else 0)


def _training_images(data: ImageData, flip: bool, device) -> torch.Tensor:
    x = torch.from_numpy(data.train).to(device)
    return torch.cat([x, x.flip(-1)]) if flip else x  # flips as a fixed doubling of the data


# ---------------------------------------------------------------------------------------------
# the exported sampler


@dataclass
class ImageSampler:
    """A few-step image sampler: the policy (UNet mean, learned sigmas) and the image shape."""

    policy: GaussianPolicy
    shape: tuple[int, int, int]
    schedule: Schedule

    @property
    def device(self) -> torch.device:
        return next(self.policy.parameters()).device

    @property
    def steps(self) -> int:
        return self.policy.steps

    @torch.no_grad()
    def chain(self, n: int, seed: int = 0) -> np.ndarray:
        """Every state of n chains, (T + 1, n, C, H, W): [0] noise, [T] the images."""
        return self._chain(n, torch.Generator(self.device).manual_seed(seed)).cpu().numpy()

    def _chain(self, n: int, gen: torch.Generator) -> torch.Tensor:
        x0 = torch.randn((n, *self.shape), generator=gen, device=self.device)
        return rollout(self.policy.eval(), x0, gen)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, batch_size: int = 500) -> np.ndarray:
        """n images (n, C, H, W), clipped to [-1, 1]; the same seed and batch size give the same
        images. One generator serves every batch, so draws with different seeds share none."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        gen = torch.Generator(self.device).manual_seed(seed)
        parts = [
            self._chain(min(batch_size, n - i), gen)[-1].cpu().numpy()
            for i in range(0, n, batch_size)
        ]
        return np.clip(np.concatenate(parts), -1, 1)

    def save(self, folder: str | Path) -> None:
        """`folder`/unet (diffusers layout) and `folder`/sampler.json, replaced atomically; the
        record holds the SHA-256 of the UNet's weights, checked by `load`."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.to_pipeline().save_pretrained(tmp)  # unet/, scheduler/, model_index.json
        record = {
            "format": SAMPLER_FORMAT,
            "shape": list(self.shape),
            "timesteps": [int(t) for t in self.policy.timesteps.tolist()],
            "log_sigma": self.policy.log_sigma.detach().cpu().tolist(),
            "learned_sigmas": int(self.policy.log_sigma_learned.numel()),
            "clip_x0": self.policy.clip_x0,
            "eta": self.policy.eta,
            "schedule": self.schedule.to_dict(),
            "unet_sha256": sha256(tmp / "unet" / UNET_WEIGHTS),
        }
        (tmp / "sampler.json").write_text(json.dumps(record, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.replace(folder)

    def to_pipeline(self):
        """This sampler as a diffusers `DxMIPipeline` (`dxmi.pipeline`): the same images for the
        same generator seed."""
        from dxmi.pipeline import DxMIPipeline, DxMIScheduler

        p = self.policy
        scheduler = DxMIScheduler(
            **self.schedule.to_dict(),
            timesteps=[int(t) for t in p.timesteps.tolist()],
            sigmas=p.log_sigma.detach().exp().cpu().tolist(),
            clip_x0=float(p.clip_x0),
            eta=float(p.eta),
        )
        return DxMIPipeline(unet=p.eps_model.unet, scheduler=scheduler)

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> ImageSampler:
        """A sampler that `save` (or `dxmi finetune`) wrote; a one-line `CheckpointError` for
        anything else (a record that disagrees with itself or with its UNet included)."""
        folder = Path(folder)
        meta_path = folder / "sampler.json"
        if not meta_path.is_file():
            raise CheckpointError(f"{folder}: no sampler.json - not an exported dxmi sampler")
        try:
            meta = json.loads(meta_path.read_text())
            schedule = Schedule(**meta["schedule"])
            timesteps, log_sigma = list(meta["timesteps"]), list(meta["log_sigma"])
            n_learned, shape = meta["learned_sigmas"], tuple(meta["shape"])
            clip_x0 = float(meta["clip_x0"])
            eta = float(meta.get("eta", 1.0))  # samplers exported before eta existed: posterior
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{meta_path}: unusable sampler record ({err})") from None
        _check_sampler_record(meta_path, meta, schedule, timesteps, log_sigma, n_learned, shape)
        if not 0.0 <= eta <= 1.0:
            raise CheckpointError(f"{meta_path}: eta must be in [0, 1], got {eta}")
        if not (np.isfinite(clip_x0) and clip_x0 >= 0):
            raise CheckpointError(f"{meta_path}: clip_x0 must be >= 0, got {clip_x0}")
        weights = folder / "unet" / UNET_WEIGHTS
        if "unet_sha256" in meta and weights.is_file() and sha256(weights) != meta["unet_sha256"]:
            raise CheckpointError(f"{weights}: corrupt or does not match sampler.json (hash)")
        unet, _ = load_unet_teacher(folder / "unet")
        size = unet.config.sample_size
        size = size if isinstance(size, int) else size[0]
        if shape != (unet.config.in_channels, size, size):
            raise CheckpointError(
                f"{meta_path}: shape {list(shape)}, but its UNet makes "
                f"{[unet.config.in_channels, size, size]}"
            )
        policy = GaussianPolicy(
            UNetEpsilon(unet),
            schedule.alphas_cumprod(),
            timesteps,
            learn_last_sigma=n_learned == len(timesteps),
            clip_x0=clip_x0,
            eta=eta,
        )
        with torch.no_grad():
            values = torch.tensor(log_sigma)
            policy.log_sigma_learned.copy_(values[:n_learned])
            policy.log_sigma_last.copy_(values[n_learned:])
        return cls(policy.to(device).eval(), shape, schedule)  # type: ignore[arg-type]


SAMPLER_FORMAT = 2  # 2 added unet_sha256; format 1 records load without the hash check
UNET_WEIGHTS = "diffusion_pytorch_model.safetensors"


def _check_sampler_record(
    path: Path, meta: dict, schedule: Schedule, timesteps, log_sigma, n_learned, shape
) -> None:
    """Types, ranges, order and agreement of a sampler.json: an edited record is refused, not
    sampled (timesteps run from noise to data: strictly decreasing, in [0, num_train_timesteps))."""

    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path}: {why}")

    if meta.get("format") not in (1, SAMPLER_FORMAT):
        raise bad(f"unsupported sampler format {meta.get('format')!r}")
    if meta.get("format") == SAMPLER_FORMAT and not isinstance(meta.get("unet_sha256"), str):
        raise bad("no unet_sha256")
    n = schedule.num_train_timesteps
    if not (isinstance(n, int) and n > 0 and 0 < schedule.beta_start <= schedule.beta_end < 1):
        raise bad(f"unusable schedule {schedule.to_dict()}")
    if not timesteps or not all(isinstance(t, int) and not isinstance(t, bool) for t in timesteps):
        raise bad(f"timesteps must be a non-empty list of integers, got {timesteps}")
    if not all(0 <= t < n for t in timesteps):
        raise bad(f"timesteps must lie in [0, {n}), got {timesteps}")
    if any(a <= b for a, b in zip(timesteps, timesteps[1:])):
        raise bad(f"timesteps must strictly decrease (noise to data), got {timesteps}")
    if len(log_sigma) != len(timesteps):
        raise bad(f"{len(timesteps)} timesteps but {len(log_sigma)} sigmas")
    if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in log_sigma):
        raise bad(f"log_sigma must be finite numbers, got {log_sigma}")
    if not (isinstance(n_learned, int) and n_learned in (len(timesteps) - 1, len(timesteps))):
        raise bad(f"learned_sigmas must be {len(timesteps) - 1} or {len(timesteps)}")
    if not (len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)):
        raise bad(f"shape must be [channels, height, width], got {list(shape)}")


# ---------------------------------------------------------------------------------------------
# pretrain


def pretrain(
    config: ImageConfig, out_dir: str | Path, *, resume: bool = False, overwrite: bool = False
) -> Path:
    """Train a DDPM UNet teacher on the configured images; returns its folder (``teacher/``)."""
    out = Path(out_dir)
    data = load_image_run_data(config)
    size = _square_size(data, config.data.path or config.data.name)
    acc = Accelerator(cpu=config.run.cpu, mixed_precision=config.run.mixed_precision)
    run = open_run(
        out,
        config,
        resume=resume,
        overwrite=overwrite,
        sections=PRETRAIN_SECTIONS,
        free=PRETRAIN_FREE,
        inputs=[config.data.path],
        owner=acc.is_main_process,
    )
    with run:
        acc.wait_for_everyone()
        return _pretrain(config, run, data, size, acc)


def _pretrain(config: ImageConfig, run: RunDir, data: ImageData, size: int, acc) -> Path:
    from diffusers import DDPMScheduler

    out, main = run.path, acc.is_main_process
    set_seed(config.run.seed)
    t = config.teacher
    schedule = Schedule(t.num_train_timesteps, t.beta_start, t.beta_end)
    u = config.unet
    try:
        unet = build_unet(
            data.shape[0],
            size,
            u.block_out_channels,
            u.layers_per_block,
            u.attention,
            u.norm_num_groups,
        )
    except ValueError as err:
        raise DataError(f"{config.data.path or config.data.name}: {err}") from None
    ema = make_ema(unet, t.ema_decay)
    opt = torch.optim.Adam(unet.parameters(), lr=t.lr)
    unet, opt = acc.prepare(unet, opt)
    eps_model = UNetEpsilon(unet)
    alphas = schedule.alphas_cumprod().to(acc.device)
    pool = torch.arange(t.num_train_timesteps, device=acc.device)
    train_x = _training_images(data, config.data.flip, acc.device)

    ckpt, start = out / "checkpoints" / "last", 0
    if ckpt.with_suffix(".json").is_file():  # a fresh or replaced run directory has none
        state, _ = load_checkpoint(ckpt)
        try:
            acc.unwrap_model(unet).load_state_dict(state["unet"])
            ema.load_state_dict(state["ema"])
            opt.load_state_dict(state["opt"])
            start = int(state["iteration"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise CheckpointError(f"{ckpt}.safetensors: does not fit this model ({err})") from None
    run.start()
    history = read_history(out / "history.jsonl", start) if main else []
    writer = SummaryWriter(str(out / "tensorboard")) if main else None
    progress = config.run.progress and main
    bar = tqdm(
        range(start, t.iterations),
        desc="pretrain",
        initial=start,
        total=t.iterations,
        disable=not progress,
    )
    began = time.perf_counter()
    limit, done = TimeLimit(t.max_minutes, acc), start
    for it in bar:
        g = iteration_generator(config.run.seed, acc.process_index, it, acc.device)
        idx = torch.randint(len(train_x), (t.batch_size,), generator=g, device=acc.device)
        with acc.autocast():
            loss = ddpm_loss(eps_model, train_x[idx], alphas, pool, g)
        opt.zero_grad(set_to_none=True)
        acc.backward(loss)
        opt.step()
        ema.update_parameters(acc.unwrap_model(unet))
        step = done = it + 1
        last = step == t.iterations or limit.reached()
        logged, saved = step % config.run.log_every == 0, step % config.run.checkpoint_every == 0
        if logged or saved or last:
            # checked here, not every step: a host sync per step slows a GPU, and no
            # checkpoint is written from a diverged step
            value = loss.item()
            if not np.isfinite(value):
                raise RuntimeError(f"pretrain iteration {it}: loss is {value}; lower teacher.lr")
            if main and (logged or last):
                log_record(writer, history, out / "history.jsonl", step, {"loss": value})
                bar.set_postfix(loss=f"{value:.4f}")
        if saved or last:
            if main:
                state = {
                    "iteration": step,
                    "unet": acc.unwrap_model(unet).state_dict(),
                    "ema": ema.state_dict(),
                    "opt": opt.state_dict(),
                }
                save_checkpoint(ckpt, state, {"iteration": step})
            acc.wait_for_everyone()
        if last:
            break
    bar.close()

    teacher_dir = out / "teacher"
    if main:
        teacher = copy.deepcopy(ema.module).eval()
        tmp = out / "teacher.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        teacher.save_pretrained(tmp)
        DDPMScheduler(**schedule.to_dict()).save_pretrained(tmp)
        shutil.rmtree(teacher_dir, ignore_errors=True)
        tmp.replace(teacher_dir)
        _draw_teacher(teacher, schedule, data.shape, out / "samples.png", config.eval.seed)
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
    do. Raises `RunDirError` if the run was made with other data, UNet or teacher settings.
    """
    out = Path(out_dir)
    if not (out / "metrics.json").is_file():
        return None
    check_run_config(out, config, PRETRAIN_SECTIONS, PRETRAIN_FREE)
    return out / "teacher"


def _draw_teacher(unet, schedule: Schedule, shape, path: Path, seed: int) -> None:
    """64 teacher samples with DPM-Solver++ at 20 steps (a quick look, not a metric)."""
    from dxmi.diffusion.solvers import solver_sample

    device = next(unet.parameters()).device
    gen = torch.Generator(device).manual_seed(seed)
    noise = torch.randn((64, *shape), generator=gen, device=device)
    x = solver_sample(
        UNetEpsilon(unet), noise, "dpmsolver++", 20, clip_x0=1.0, **schedule.to_dict()
    )
    save_image_grid(x.clamp(-1, 1).cpu().numpy(), path)


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
    data = load_image_run_data(config)
    source = config.data.path or config.data.name
    unet, schedule = load_unet_teacher(teacher)
    _check_teacher_fits(unet, data, teacher, source)
    acc = Accelerator(cpu=config.run.cpu, mixed_precision=config.run.mixed_precision)
    run = open_run(
        out,
        config,
        resume=resume,
        overwrite=overwrite,
        sections=FINETUNE_SECTIONS,
        free=FINETUNE_FREE,
        inputs=[config.data.path, teacher],
        owner=acc.is_main_process,
    )
    with run:
        if run.owner:
            _record_teacher(out, teacher, resume)
        acc.wait_for_everyone()
        return _finetune(config, run, data, unet, schedule, acc, resume)


def _finetune(
    config: ImageConfig, run: RunDir, data: ImageData, unet, schedule: Schedule, acc, resume: bool
) -> ImageSampler:
    out, main = run.path, acc.is_main_process
    set_seed(config.run.seed)
    channels = data.shape[0]
    policy = build_image_policy(config, unet, schedule)
    initial = ImageSampler(copy.deepcopy(policy).eval(), data.shape, schedule)
    trainer = DxMITrainer(
        policy,
        build_conv_energy(config, channels),
        build_conv_energy(config, channels, value=True)
        if config.dxmi.variant == "separate"
        else None,
        config.dxmi,
        acc,
        seed=config.run.seed,
    )
    train_x = _training_images(data, config.data.flip, acc.device)
    scorer = make_scorer(config, data) if main else None
    selector = (
        _HoldoutSelector(config, data, scorer, out, resume)
        if main and config.eval.select == "holdout"
        else None
    )

    def evaluate(policy) -> dict:
        e = config.eval
        sampler = ImageSampler(policy, data.shape, schedule)
        scores = scorer.score(sampler.sample(e.n_samples, e.seed, e.batch_size))
        result = {"fid": scores["fid"], "kid": scores["kid"], "postfix": f"fid={scores['fid']:.2f}"}
        if selector is not None:
            result["fid_holdout"] = selector.check(sampler, trainer.iteration_count)
        return result

    writer = SummaryWriter(str(out / "tensorboard")) if main else None
    progress = config.run.progress and main
    history = run_loop(trainer, train_x, config, run, writer, evaluate, "finetune", progress)

    sampler = ImageSampler(copy.deepcopy(trainer.sampler).eval(), data.shape, schedule)
    final = {"dxmi": sampler}
    if selector is not None and selector.best is not None:
        final = {"dxmi": ImageSampler.load(selector.folder, sampler.device), "last": sampler}
        sampler = final["dxmi"]
    if main:
        sampler.save(out / "sampler")
        save_checkpoint(
            out / "energy",
            {"energy": trainer.scoring_energy.state_dict()},
            {"config": to_dict(config.energy), "in_channels": channels},
        )
        seed = config.eval.seed
        save_image_grid(sampler.sample(64, seed=seed), out / "samples.png")
        save_image_chain(sampler.chain(8, seed=seed), out / "chain.png")
        plot_curves(history, out / "curves.png")
        if writer is not None:
            writer.close()
        # the copy of the untrained policy was made on the CPU, before the trainer moved the
        # policy to its device: on a GPU run it would sample there, minutes per 1,000 images
        initial.policy.to(sampler.device)
        metrics = evaluate_image_sampler(config, data, {**final, "init": initial}, scorer)
        metrics["iterations"] = trainer.iteration_count  # fewer than asked if max_minutes ran out
        if selector is not None and selector.best is not None:  # None: no check was reached
            metrics["selection"] = selector.best
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

    def __init__(self, config: ImageConfig, data: ImageData, scorer, out: Path, resume: bool):
        from dxmi.metrics.images import ImageScorer

        self.config, self.folder, self.record = config, out / "sampler-best", out / "selection.json"
        self.scorer = ImageScorer(scorer.net, data.holdout, "held-out images", seed=scorer.seed)
        self.best: dict | None = None
        if resume and self.record.is_file() and self.folder.is_dir():
            self.best = json.loads(self.record.read_text())
        else:
            self.record.unlink(missing_ok=True)
            shutil.rmtree(self.folder, ignore_errors=True)

    def check(self, sampler: ImageSampler, iteration: int) -> float:
        e = self.config.eval
        fid = self.scorer.fid(sampler.sample(e.n_samples, e.seed + 1, e.batch_size))
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


def make_scorer(config: ImageConfig, data: ImageData):
    """An `ImageScorer` against the training images, on `config.eval.feature_net`'s features."""
    from dxmi.metrics.images import (
        ImageScorer,
        PixelFeatures,
        ResizedFeatures,
        inception_features,
        load_feature_net,
    )

    name = config.eval.feature_net
    if name == "pixels":
        net: nn.Module = PixelFeatures(data.shape)
    elif name.startswith("inception:"):
        net = inception_features(name.partition(":")[2])
    else:
        net = ResizedFeatures(load_feature_net() if name == "mnist" else load_feature_net(name))
    return ImageScorer(net, data.train, "training images", seed=config.eval.seed)


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
    config: ImageConfig, data: ImageData, samplers: dict[str, ImageSampler], scorer=None
) -> dict:
    """FID / KID / precision / recall of each sampler and of held-out real images (the floor)."""
    scorer = scorer or make_scorer(config, data)
    n = config.eval.n_samples
    out: dict = {"dataset": config.data.name, "shape": list(data.shape), "methods": {}}
    for name, sampler in samplers.items():
        x, secs = timed_samples(
            lambda m, s=sampler: s.sample(
                m, seed=config.eval.seed, batch_size=config.eval.batch_size
            ),
            n,
            warmup_size(sampler.device, sampler.steps, config.eval.batch_size),
        )
        out["methods"][name] = {
            **scorer.score(x),
            "steps": sampler.steps,
            "seconds_per_1000": secs,
        }
    floor = data.holdout[:n]
    out["methods"]["floor"] = {**scorer.score(floor), "steps": 0, "seconds_per_1000": None}
    return out
