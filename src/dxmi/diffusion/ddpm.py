"""DDPM epsilon-prediction training (Ho et al. 2020): the teacher and the DDPM-T baseline."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from dxmi.ema import make_ema


def ddpm_loss(
    eps_model: nn.Module,
    x0: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    timesteps: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean squared error of the predicted noise at timesteps drawn uniformly from `timesteps`."""
    idx = torch.randint(len(timesteps), (x0.shape[0],), generator=generator, device=x0.device)
    t = timesteps[idx]
    ab = alphas_cumprod[t].float().view((-1,) + (1,) * (x0.dim() - 1))
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    return ((eps_model(x_t, t.float()) - noise) ** 2).mean()


def train_ddpm(
    eps_model: nn.Module,
    data: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    *,
    iterations: int,
    batch_size: int,
    lr: float,
    ema_decay: float,
    seed: int,
    timesteps: Sequence[int] | None = None,
    progress: bool = True,
    desc: str = "teacher",
    max_minutes: float = 0.0,
) -> tuple[nn.Module, list[float]]:
    """Train `eps_model` on `data` (N, D) and return its EMA copy and the loss per iteration.

    `timesteps` restricts training to those noise levels (the DDPM-T baseline); by default every
    timestep of the schedule is used.
    """
    device = data.device
    alphas_cumprod = alphas_cumprod.to(device)
    pool = torch.arange(len(alphas_cumprod), device=device)
    if timesteps is not None:
        pool = torch.as_tensor(list(timesteps), device=device)
    gen = torch.Generator(device).manual_seed(seed)
    opt = torch.optim.Adam(eps_model.parameters(), lr=lr)
    ema = make_ema(eps_model, ema_decay)
    losses = []
    began = time.perf_counter()
    for _ in tqdm(range(iterations), desc=desc, disable=not progress, leave=False):
        idx = torch.randint(len(data), (batch_size,), generator=gen, device=device)
        loss = ddpm_loss(eps_model, data[idx], alphas_cumprod, pool, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update_parameters(eps_model)
        losses.append(loss.item())
        if 0 < max_minutes < (time.perf_counter() - began) / 60:
            break
    return copy.deepcopy(ema.module).eval(), losses
