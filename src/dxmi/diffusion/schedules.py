"""Noise schedules and the choice of T timesteps from a 1000-step teacher.

Index convention for the few-step chain (used everywhere in dxmi): step index t = 0 is pure noise,
t = T is the sample. Chain state x_t sits at teacher timestep ``timesteps[t]`` (descending, e.g.
[999, 749, 499, 249] for T = 4) and x_T is clean data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch


@dataclass(frozen=True)
class Schedule:
    """The DDPM noise schedule of a teacher, point or image, in the terms of diffusers'
    `DDPMScheduler` config (so an image teacher's folder round-trips through it)."""

    num_train_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    beta_schedule: str = "linear"

    def alphas_cumprod(self) -> torch.Tensor:
        """alpha-bar, float64, shape (num_train_timesteps,). The linear schedule (Ho et al.
        2020) is computed here with float64 betas; any other `beta_schedule` through diffusers'
        own DDPMScheduler."""
        if self.beta_schedule == "linear":
            betas = torch.linspace(
                self.beta_start, self.beta_end, self.num_train_timesteps, dtype=torch.float64
            )
            return torch.cumprod(1.0 - betas, dim=0)
        from diffusers import DDPMScheduler

        return DDPMScheduler(**self.to_dict()).alphas_cumprod.double()

    def to_dict(self) -> dict:
        return dict(
            num_train_timesteps=self.num_train_timesteps,
            beta_start=self.beta_start,
            beta_end=self.beta_end,
            beta_schedule=self.beta_schedule,
        )


Spacing = Literal["linear", "quadratic"]


def select_timesteps(
    num_train_timesteps: int, steps: int, spacing: Spacing = "linear"
) -> list[int]:
    """T teacher timesteps, descending, the first always the noisiest (N - 1).

    "linear" is diffusers' "trailing" spacing ([999, 749, 499, 249] for T = 4); "quadratic"
    spaces (t / T)^2, spending more steps near the data.
    """
    if not 1 <= steps <= num_train_timesteps:
        raise ValueError(f"steps must be in [1, {num_train_timesteps}], got {steps}")
    frac = np.arange(steps, 0, -1) / steps  # 1, (T-1)/T, ..., 1/T
    if spacing == "quadratic":
        frac = frac**2
    elif spacing != "linear":
        raise ValueError(f"unknown timestep spacing '{spacing}' (use 'linear' or 'quadratic')")
    ts = np.round(frac * num_train_timesteps).astype(int) - 1
    ts = np.maximum(ts, 0)
    if len(np.unique(ts)) != steps:
        raise ValueError(f"{spacing} spacing gives repeated timesteps for {steps} steps")
    return ts.tolist()


def step_coefficients(
    alphas_cumprod: torch.Tensor, timesteps: list[int], eta: float = 1.0
) -> dict[str, torch.Tensor]:
    """Per-step DDPM posterior coefficients between consecutive chosen timesteps.

    For step t (x_t at timestep s = timesteps[t] to x_{t+1} at the next one, or to data):
    alpha_t = abar(s) / abar(next), beta_t = 1 - alpha_t,
    mean = (x_t - beta_t / sqrt(1 - abar(s)) * eps) / sqrt(alpha_t),
    posterior variance = beta_t (1 - abar(next)) / (1 - abar(s)).
    The same mean in terms of the predicted x0 (used when x0 is clipped):
    mean = x0_coef * x0 + xt_coef * x_t, x0 = (x_t - sqrt(1 - abar(s)) eps) / sqrt(abar(s)).

    ``eta`` < 1 gives the DDIM step of Song et al. (2021) instead: noise std
    s = eta * posterior std, mean = sqrt(abar(next)) x0 + sqrt(1 - abar(next) - s^2) eps, in
    the same x0 / x_t form (``x0_coef``, ``xt_coef``); ``posterior_std`` is then s. eta = 1 is
    the posterior step (the two forms agree), eta = 0 the deterministic DDIM step.
    """
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1], got {eta}")
    ab = alphas_cumprod.double()[timesteps]
    ab_next = torch.cat([ab[1:], ab.new_ones(1)])  # the step after the last lands on data
    alpha = ab / ab_next
    beta = 1.0 - alpha
    std = eta * (beta * (1.0 - ab_next) / (1.0 - ab)).clamp(min=0).sqrt()
    if eta == 1.0:  # the posterior's closed forms, bit for bit as before eta existed
        x0_coef = ab_next.sqrt() * beta / (1.0 - ab)
        xt_coef = alpha.sqrt() * (1.0 - ab_next) / (1.0 - ab)
    else:
        # x_{t+1} = sqrt(abar') x0 + sqrt(1 - abar' - s^2) eps_hat with eps_hat recomputed from
        # x0: eps_hat = (x_t - sqrt(abar) x0) / sqrt(1 - abar). At eta = 1 this reduces to the
        # posterior's sqrt(alpha) (1 - abar') / (1 - abar) (abar' = abar(next))
        xt_coef = (1.0 - ab_next - std**2).clamp(min=0).sqrt() / (1.0 - ab).sqrt()
        x0_coef = ab_next.sqrt() - ab.sqrt() * xt_coef
    return {
        "timesteps": torch.tensor(timesteps, dtype=torch.float32),
        "alphas_cumprod": ab.float(),
        "inv_sqrt_alpha": alpha.rsqrt().float(),
        "eps_coef": (beta / (1.0 - ab).sqrt()).float(),
        "posterior_std": std.float(),
        "beta": beta.float(),
        "x0_coef": x0_coef.float(),
        "xt_coef": xt_coef.float(),
    }
