"""The T-step Gaussian policy: x_{t+1} ~ N(mu_theta(x_t, t), sigma_t^2 I).

The mean is the DDPM posterior step of an epsilon network (a teacher, or random weights) between
consecutive chosen timesteps (method notes, section 6). Each step's log sigma is learnable,
initialised from the posterior std, except the last step's, fixed at a small value (or, with
`learn_last_sigma`, learnable from that value: a departure from the reference). As in the
reference, learning sigma changes only the injected noise; the mean keeps the schedule's.

With `eta` < 1 the mean is the DDIM step instead (schedules.step_coefficients), with the noise
scaled by eta: less noise injected between steps, the deterministic DDIM sampler at eta = 0.

With `clip_x0` > 0 the mean is computed from the predicted x0 clipped to [-clip_x0, clip_x0],
as DDPM image samplers do. Without it, a few-step chain of a small image teacher amplifies the
epsilon error of the noisiest steps (by 1 / sqrt(alpha_t), about 45 at t = 999 for T = 2) into
pixels far outside [-1, 1].
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dxmi.diffusion.schedules import step_coefficients


class GaussianPolicy(nn.Module):
    """A few-step diffusion sampler as a Gaussian policy over T steps."""

    def __init__(
        self,
        eps_model: nn.Module,
        alphas_cumprod: torch.Tensor,
        timesteps: list[int],
        *,
        last_sigma: float = 1e-3,
        learn_last_sigma: bool = False,
        clip_x0: float = 0.0,
        eta: float = 1.0,
    ) -> None:
        super().__init__()
        self.eps_model = eps_model
        self.steps = len(timesteps)
        self.clip_x0 = clip_x0
        self.eta = eta
        for name, value in step_coefficients(alphas_cumprod, timesteps, eta).items():
            self.register_buffer(name, value)
        init = torch.cat(
            [self.posterior_std[:-1].clamp(min=1e-4).log(), torch.tensor([math.log(last_sigma)])]
        )
        n_learned = self.steps if learn_last_sigma else self.steps - 1
        self.log_sigma_learned = nn.Parameter(init[:n_learned].clone())  # steps 0..n_learned-1
        self.register_buffer("log_sigma_last", init[n_learned:].clone())  # the fixed rest

    @property
    def log_sigma(self) -> torch.Tensor:
        """log sigma_t for t = 0..T-1, shape (T,)."""
        return torch.cat([self.log_sigma_learned, self.log_sigma_last])

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log sigma of pi(x_{t+1} | x_t) for step indices t (N,) -> (N, D), (N,);
        `labels` (N,) for a class-conditional epsilon network."""
        ts = self.timesteps[t]
        eps = self.eps_model(x, ts) if labels is None else self.eps_model(x, ts, labels)
        return step_mean(self, t, x, eps, self.clip_x0, self.eta), self.log_sigma[t]

    def step(
        self,
        x: torch.Tensor,
        t: int | torch.Tensor,
        noise: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One reparameterised step x_{t+1} = mu(x_t, t) + sigma_t * noise."""
        if isinstance(t, int):
            t = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        mean, log_sigma = self(x, t, labels)
        return mean + log_sigma.exp().view((-1,) + (1,) * (x.dim() - 1)) * noise


def step_mean(
    c, t: torch.Tensor, x: torch.Tensor, eps: torch.Tensor, clip_x0: float, eta: float
) -> torch.Tensor:
    """The mean of step t (N,) from x_t and the predicted eps; `c` holds the tensors of
    `step_coefficients`. Shared by the policy and the diffusers scheduler
    (`dxmi.models.pipeline`)."""
    shape = (-1,) + (1,) * (x.dim() - 1)
    if clip_x0 > 0 or eta != 1.0:
        ab = c.alphas_cumprod[t].view(shape)
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        if clip_x0 > 0:
            x0 = x0.clamp(-clip_x0, clip_x0)
        return c.x0_coef[t].view(shape) * x0 + c.xt_coef[t].view(shape) * x
    return (x - c.eps_coef[t].view(shape) * eps) * c.inv_sqrt_alpha[t].view(shape)
