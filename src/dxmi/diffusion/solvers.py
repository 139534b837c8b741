"""Training-free samplers of a 1000-step teacher, through diffusers' schedulers.

These are the baselines DxMI is measured against at the same number of steps. diffusers' DDPM
and DDIM schedulers clip the predicted x0 to [-1, 1] by default, which silently ruins non-image
data: clipping is turned off here. Timesteps are passed explicitly (or, for DDIM and UniPC at linear
spacing, "trailing" spacing, which gives the same ones) so every sampler visits the same noise
levels as the policy, at either of its spacings. Two schedulers take no explicit timesteps:
UniPC's are set the way its own `set_timesteps` sets them (checked against it at linear
spacing in the tests), and DDIM at other spacings runs as first-order DPM-Solver++, which is
DDIM (Lu et al. 2022, DPM-Solver++, section 4) with the clipped x0 in both of its terms.
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

from dxmi.diffusion.schedules import Spacing, select_timesteps

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
    spacing: Spacing = "linear",
):
    """A diffusers scheduler of the teacher's schedule, set to `steps` timesteps at `spacing`.

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
    # all 1000 steps: every spacing is the same (and quadratic would repeat timesteps)
    trailing = steps == num_train_timesteps or spacing == "linear"
    timesteps = select_timesteps(num_train_timesteps, steps, "linear" if trailing else spacing)
    if solver == "ddim" and trailing:
        # DDIMScheduler takes no explicit timesteps; "trailing" spacing gives the linear ones.
        sched = DDIMScheduler(**common, **clip, timestep_spacing="trailing")
        sched.set_timesteps(steps)
        _check_timesteps(sched, timesteps, solver)
    elif solver == "ddim":
        sched = DPMSolverMultistepScheduler(
            **common, **threshold, algorithm_type="dpmsolver++", solver_order=1
        )
        sched.set_timesteps(timesteps=timesteps)
    elif solver == "unipc":
        sched = UniPCMultistepScheduler(**common, **threshold, timestep_spacing="trailing")
        sched.set_timesteps(steps)
        if trailing:
            _check_timesteps(sched, timesteps, solver)
        else:
            _set_unipc_timesteps(sched, timesteps)
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


def _check_timesteps(sched, timesteps: list[int], solver: str) -> None:
    """Guard against a change in diffusers' "trailing" spacing."""
    if sched.timesteps.tolist() != timesteps:
        raise RuntimeError(f"{solver} timesteps {sched.timesteps.tolist()} != {timesteps}")


def _set_unipc_timesteps(sched: UniPCMultistepScheduler, timesteps: list[int]) -> None:
    """Point a UniPC scheduler, already set to len(timesteps) steps, at `timesteps`.

    Its `set_timesteps` takes custom sigmas only for flow-matching models; this sets the two
    arrays it derives from its timesteps (the noise-to-signal ratio at each, then the final
    one) the way it derives them, so its step counter and solver state stay its own.
    """
    ac = sched.alphas_cumprod.double()
    ratio = ((1 - ac) / ac).sqrt()[timesteps]
    if sched.config.final_sigmas_type == "zero":
        last = torch.zeros(1, dtype=torch.float64)
    else:
        last = ((1 - ac[:1]) / ac[:1]).sqrt()
    sched.sigmas = torch.cat([ratio, last]).float()
    sched.timesteps = torch.tensor(timesteps, dtype=torch.int64)


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
    spacing: Spacing = "linear",
    generator: torch.Generator | None = None,
    progress: bool = False,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sample the teacher `eps_model` from `noise` with a diffusers scheduler in `steps` steps
    (with class `labels` (N,) for a class-conditional teacher)."""
    sched = make_scheduler(
        solver, steps, num_train_timesteps, beta_start, beta_end, beta_schedule, clip_x0, spacing
    )
    # deterministic solvers (UniPC) take no generator
    takes_generator = "generator" in inspect.signature(sched.step).parameters
    extra = {"generator": generator} if takes_generator else {}
    x = noise
    for t in tqdm(sched.timesteps, desc=f"{solver}-{steps}", disable=not progress, leave=False):
        t_batch = torch.full((x.shape[0],), float(t), device=x.device)
        eps = eps_model(x, t_batch) if labels is None else eps_model(x, t_batch, labels)
        x = sched.step(eps, t, x, **extra).prev_sample
    return x
