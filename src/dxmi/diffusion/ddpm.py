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


class Plateau:
    """The teacher's budget from its own progress (a ReduceLROnPlateau with a fixed probe).

    Every `every` iterations it scores the EMA weights on one fixed probe set of (x0, t, noise)
    triples, so that two checks differ only by the weights. When the best probe loss has not
    improved by a relative `tol` for `patience` checks, the learning rate drops `factor`-fold;
    after `drops` such drops the next plateau ends training. An easy set stops early, a set
    with thin structure trains on (up to the iteration cap).
    """

    factor = 0.1
    drops = 2

    def __init__(
        self,
        data: torch.Tensor,
        alphas_cumprod: torch.Tensor,
        pool: torch.Tensor,
        *,
        every: int,
        patience: int,
        tol: float,
        seed: int,
        size: int = 8192,
    ) -> None:
        gen = torch.Generator(data.device).manual_seed(seed + 7919)  # not the training stream
        idx = torch.randint(len(data), (size,), generator=gen, device=data.device)
        t = pool[torch.randint(len(pool), (size,), generator=gen, device=data.device)]
        noise = torch.randn((size,) + data.shape[1:], generator=gen, device=data.device)
        ab = alphas_cumprod[t].float().view((-1,) + (1,) * (data.dim() - 1))
        self.x_t, self.t, self.noise = ab.sqrt() * data[idx] + (1 - ab).sqrt() * noise, t, noise
        self.every, self.patience, self.tol = every, patience, tol
        self.best, self.since, self.dropped = float("inf"), 0, 0
        self.history: list[float] = []

    @torch.no_grad()
    def probe_loss(self, model: nn.Module) -> float:
        was = model.training
        model.eval()
        loss = (
            sum(
                float(
                    (
                        (
                            model(self.x_t[i : i + 4096], self.t[i : i + 4096].float())
                            - self.noise[i : i + 4096]
                        )
                        ** 2
                    ).sum()
                )
                for i in range(0, len(self.t), 4096)
            )
            / self.noise.numel()
        )
        model.train(was)
        return loss

    def step(self, iteration: int, model: nn.Module, opt: torch.optim.Optimizer) -> bool:
        """Check at every `every`-th iteration; True when training should stop."""
        if iteration % self.every:
            return False
        loss = self.probe_loss(model)
        self.history.append(loss)
        if loss < self.best * (1 - self.tol):
            self.best, self.since = loss, 0
            return False
        self.best = min(self.best, loss)
        self.since += 1
        if self.since < self.patience:
            return False
        if self.dropped == self.drops:
            return True
        self.dropped, self.since = self.dropped + 1, 0
        for group in opt.param_groups:
            group["lr"] *= self.factor
        return False


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
    lr_schedule: str = "constant",
    plateau: dict | None = None,
) -> tuple[nn.Module, list[float]]:
    """Train `eps_model` on `data` (N, D) and return its EMA copy and the loss per iteration.

    `timesteps` restricts training to those noise levels (the DDPM-T baseline); by default every
    timestep of the schedule is used. `lr_schedule`: "constant"; "cosine" decays the rate to 0
    over `iterations`; "plateau" lets `Plateau` (built with the `plateau` keyword arguments)
    lower the rate and end training before `iterations`, which is then the cap.
    """
    device = data.device
    alphas_cumprod = alphas_cumprod.to(device)
    pool = torch.arange(len(alphas_cumprod), device=device)
    if timesteps is not None:
        pool = torch.as_tensor(list(timesteps), device=device)
    gen = torch.Generator(device).manual_seed(seed)
    opt = torch.optim.Adam(eps_model.parameters(), lr=lr)
    sched, stopper = None, None
    if lr_schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(iterations, 1))
    elif lr_schedule == "plateau":
        stopper = Plateau(data, alphas_cumprod, pool, seed=seed, **(plateau or {}))
    elif lr_schedule != "constant":
        raise ValueError(f"lr_schedule must be constant, cosine or plateau, not {lr_schedule!r}")
    ema = make_ema(eps_model, ema_decay)
    losses = []
    began = time.perf_counter()
    bar = tqdm(range(iterations), desc=desc, disable=not progress, leave=False)
    for it in bar:
        idx = torch.randint(len(data), (batch_size,), generator=gen, device=device)
        loss = ddpm_loss(eps_model, data[idx], alphas_cumprod, pool, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        ema.update_parameters(eps_model)
        losses.append(loss.item())
        if stopper is not None and stopper.step(it + 1, ema.module, opt):
            break
        if 0 < max_minutes < (time.perf_counter() - began) / 60:
            break
    bar.close()
    return copy.deepcopy(ema.module).eval(), losses
