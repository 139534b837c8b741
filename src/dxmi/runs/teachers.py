"""DDPM teachers trained in memory: any epsilon network (`train_ddpm`: `DDPMTrainer` under the
one loop) and the point teacher of a config (`train_teacher`). Image teachers train in a run
directory (`dxmi.runs.images.pretrain`) through the same trainer and loop."""

from __future__ import annotations

import torch
from accelerate import Accelerator
from torch import nn

from dxmi.config import Config
from dxmi.diffusion.ddpm import DDPMTrainer
from dxmi.models.factories import build_eps_model, build_schedule
from dxmi.runs.loop import LoopSettings, run_loop


def train_ddpm(
    eps_model: nn.Module,
    data: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    *,
    max_minutes: float = 0.0,
    progress: bool = True,
    desc: str = "teacher",
    acc: Accelerator | None = None,
    **trainer_args,
) -> tuple[nn.Module, list[float]]:
    """Train `eps_model` on `data` (N, D...) in memory; return its EMA copy and the loss of
    every iteration. `trainer_args` are `DDPMTrainer`'s (iterations, batch_size, lr, ema_decay,
    seed, ...); `acc` defaults to an Accelerator on the data's device."""
    if acc is None:
        acc = Accelerator(cpu=data.device.type == "cpu")
    trainer = DDPMTrainer(eps_model, alphas_cumprod, acc, **trainer_args)
    settings = LoopSettings(
        trainer_args["iterations"], max_minutes, log_every=1, desc=desc, progress=progress
    )
    history = run_loop(trainer, data, settings)
    return trainer.teacher, [r["loss"] for r in history]


def train_teacher(
    config: Config,
    data: torch.Tensor,
    *,
    timesteps: list[int] | None = None,
    progress: bool = False,
    acc: Accelerator | None = None,
) -> tuple[torch.nn.Module, list[float]]:
    """A DDPM epsilon network trained on (standardised) `data` with `config.teacher`'s settings;
    `timesteps` restricts training to those noise levels (the DDPM-T baseline)."""
    t = config.teacher
    # The initial weights come from run.seed alone, not from whatever the global RNG has served
    # before (a benchmark worker's earlier jobs made its teachers differ between runs).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.run.seed)
        eps_model = build_eps_model(config, data.shape[1]).to(data.device)
    # teacher-section keys that `train_ddpm` / `DDPMTrainer` take under the same name
    same = ("iterations", "batch_size", "lr", "ema_decay", "max_minutes", "lr_schedule")
    return train_ddpm(
        eps_model,
        data,
        build_schedule(t).alphas_cumprod(),
        **{key: getattr(t, key) for key in same},
        plateau={"every": t.plateau_every, "patience": t.plateau_patience, "tol": t.plateau_tol},
        seed=config.run.seed,
        timesteps=timesteps,
        progress=progress,
        acc=acc,
    )
