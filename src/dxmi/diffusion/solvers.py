"""Training-free samplers of a 1000-step teacher, through diffusers' schedulers.

These are the baselines DxMI is measured against at the same number of steps. diffusers' DDPM
and DDIM schedulers clip the predicted x0 to [-1, 1] by default, which silently ruins non-image
data: clipping is turned off here. Timesteps are passed explicitly (or, for DDIM, "trailing"
spacing, which gives the same ones) so every sampler visits the same noise levels as the policy.
"""

from __future__ import annotations

import inspect
from typing import Literal

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    UniPCMultistepScheduler,
)
from torch import nn
from tqdm.auto import tqdm

from dxmi.diffusion.schedules import select_timesteps

Solver = Literal["ddim", "dpmsolver++", "unipc", "ancestral"]
SOLVERS: tuple[str, ...] = ("ddim", "dpmsolver++", "unipc", "ancestral")


def make_scheduler(
    solver: str,
    steps: int,
    num_train_timesteps: int,
    beta_start: float,
    beta_end: float,
    beta_schedule: str = "linear",
    clip_x0: float = 0.0,
):
    """A diffusers scheduler of the teacher's schedule, set to `steps` timesteps.

    `clip_x0` > 0 clips every predicted x0 to [-clip_x0, clip_x0], as image samplers do (DDPM
    and DDIM: `clip_sample`; DPM-Solver++ and UniPC: `thresholding` with `sample_max_value`,
    whose dynamic threshold is then held at exactly that value). 0 turns clipping off (points).
    """
    common = dict(
        num_train_timesteps=num_train_timesteps,
        beta_start=beta_start,
        beta_end=beta_end,
        beta_schedule=beta_schedule,
    )
    clip = dict(clip_sample=clip_x0 > 0, clip_sample_range=clip_x0 or 1.0)
    threshold = dict(thresholding=clip_x0 > 0, sample_max_value=clip_x0 or 1.0)
    timesteps = select_timesteps(num_train_timesteps, steps, "linear")
    if solver in ("ddim", "unipc"):
        # Neither accepts explicit timesteps; "trailing" spacing gives the same ones.
        if solver == "ddim":
            sched = DDIMScheduler(**common, **clip, timestep_spacing="trailing")
        else:
            sched = UniPCMultistepScheduler(**common, **threshold, timestep_spacing="trailing")
        sched.set_timesteps(steps)
        if sched.timesteps.tolist() != timesteps:  # guard against a change in diffusers' spacing
            raise RuntimeError(f"{solver} timesteps {sched.timesteps.tolist()} != {timesteps}")
    elif solver == "dpmsolver++":
        sched = DPMSolverMultistepScheduler(
            **common, **threshold, algorithm_type="dpmsolver++", solver_order=2
        )
        sched.set_timesteps(timesteps=timesteps)
    elif solver == "ancestral":
        sched = DDPMScheduler(**common, **clip)
        if steps == num_train_timesteps:
            sched.set_timesteps(steps)
        else:
            sched.set_timesteps(timesteps=timesteps)
    else:
        raise ValueError(f"unknown solver '{solver}' (choose from {', '.join(SOLVERS)})")
    return sched


@torch.no_grad()
def solver_sample(
    eps_model: nn.Module,
    noise: torch.Tensor,
    solver: str,
    steps: int,
    *,
    num_train_timesteps: int = 1000,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    beta_schedule: str = "linear",
    clip_x0: float = 0.0,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Sample the teacher `eps_model` from `noise` with a diffusers scheduler in `steps` steps."""
    sched = make_scheduler(
        solver, steps, num_train_timesteps, beta_start, beta_end, beta_schedule, clip_x0
    )
    # deterministic solvers (UniPC) take no generator
    takes_generator = "generator" in inspect.signature(sched.step).parameters
    extra = {"generator": generator} if takes_generator else {}
    x = noise
    for t in tqdm(sched.timesteps, desc=f"{solver}-{steps}", disable=not progress, leave=False):
        t_batch = torch.full((x.shape[0],), float(t), device=x.device)
        eps = eps_model(x, t_batch)
        x = sched.step(eps, t, x, **extra).prev_sample
    return x
