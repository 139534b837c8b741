"""DDPM epsilon-prediction training (Ho et al. 2020): the teacher and the DDPM-T baseline."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from dxmi.ema import make_ema


def ddpm_loss(
    eps_model: nn.Module,
    x0: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    timesteps: torch.Tensor,
    generator: torch.Generator | None = None,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared error of the predicted noise at timesteps drawn uniformly from `timesteps`
    (`labels` (N,): the class of each x0, for a class-conditional model)."""
    idx = torch.randint(len(timesteps), (x0.shape[0],), generator=generator, device=x0.device)
    t = timesteps[idx]
    ab = alphas_cumprod[t].float().view((-1,) + (1,) * (x0.dim() - 1))
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    eps = eps_model(x_t, t.float()) if labels is None else eps_model(x_t, t.float(), labels)
    return ((eps - noise) ** 2).mean()


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

    def state_dict(self) -> dict:
        best = None if self.best == float("inf") else self.best  # JSON has no infinity
        return {"best": best, "since": self.since, "dropped": self.dropped, "history": self.history}

    def load_state_dict(self, state: dict) -> None:
        self.best = float("inf") if state["best"] is None else float(state["best"])
        self.since, self.dropped = int(state["since"]), int(state["dropped"])
        self.history = [float(v) for v in state["history"]]

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


class DDPMTrainer:
    """DDPM epsilon-prediction training one iteration at a time: `dxmi.runs.loop.run_loop` drives
    it for the point teachers, the image teachers and the DDPM-T baseline, in memory or in a
    resumable run directory (`state_dict` holds the RNG, optimiser and schedule states).

    `timesteps` restricts training to those noise levels (the DDPM-T baseline); by default every
    timestep of the schedule is used. `lr_schedule`: "constant"; "cosine" decays the rate to 0
    over `iterations`; "plateau" lets `Plateau` (built with the `plateau` keyword arguments)
    lower the rate and end training before `iterations` (`finished`), which is then the cap.
    The model is prepared by `acc`; the EMA copy (`ema.module`) is the teacher. `labels` (N,),
    aligned with the data given to `iteration`, trains a class-conditional model.
    """

    def __init__(
        self,
        eps_model: nn.Module,
        alphas_cumprod: torch.Tensor,
        acc,
        *,
        iterations: int,
        batch_size: int,
        lr: float,
        ema_decay: float,
        seed: int,
        timesteps: Sequence[int] | None = None,
        lr_schedule: str = "constant",
        plateau: dict | None = None,
        labels: torch.Tensor | None = None,
    ) -> None:
        if plateau is not None and labels is not None:
            raise ValueError("the plateau budget probes an unconditional model only")
        if lr_schedule not in ("constant", "cosine", "plateau"):
            raise ValueError(f"lr_schedule must be constant, cosine or plateau: {lr_schedule!r}")
        self.acc, device = acc, acc.device
        self.alphas_cumprod = alphas_cumprod.to(device)
        self.pool = torch.arange(len(alphas_cumprod), device=device)
        if timesteps is not None:
            self.pool = torch.as_tensor(list(timesteps), device=device)
        # one stream per process, its state checkpointed: exact resume, and the in-memory
        # teacher draws what the stream seeded by `seed` gives
        self.gen = torch.Generator(device).manual_seed(seed + _PROCESS_STRIDE * acc.process_index)
        self.seed, self.batch_size = seed, batch_size
        self.labels = None if labels is None else labels.to(device)
        self.ema = make_ema(eps_model, ema_decay)
        self.model, self.opt = acc.prepare(
            eps_model, torch.optim.Adam(eps_model.parameters(), lr=lr)
        )
        self.sched = None
        if lr_schedule == "cosine":
            self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                self.opt, T_max=max(iterations, 1)
            )
        self.plateau = plateau if lr_schedule == "plateau" else None
        self.stopper: Plateau | None = None
        self._plateau_state: dict | None = None  # a resumed stopper's, until it is built
        self.iteration_count = 0
        self.finished = False  # the plateau check ended training

    def iteration(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step on a batch drawn from `x` (N, ...); the loss stays on the device (no host
        sync: `run_loop` reads it when it logs)."""
        if self.plateau is not None and self.stopper is None:  # its probe set is drawn from x
            self.stopper = Plateau(
                x, self.alphas_cumprod, self.pool, seed=self.seed, **self.plateau
            )
            if self._plateau_state is not None:
                self.stopper.load_state_dict(self._plateau_state)
        idx = torch.randint(len(x), (self.batch_size,), generator=self.gen, device=x.device)
        with self.acc.autocast():
            y = None if self.labels is None else self.labels[idx]
            loss = ddpm_loss(self.model, x[idx], self.alphas_cumprod, self.pool, self.gen, y)
        self.opt.zero_grad(set_to_none=True)
        self.acc.backward(loss)
        self.opt.step()
        if self.sched is not None:
            self.sched.step()
        self.ema.update_parameters(self.acc.unwrap_model(self.model))
        self.iteration_count += 1
        if self.stopper is not None:
            self.finished = self.stopper.step(self.iteration_count, self.ema.module, self.opt)
        return {"loss": loss.detach()}

    @property
    def teacher(self) -> nn.Module:
        """A copy of the EMA weights, in eval mode."""
        return copy.deepcopy(self.ema.module).eval()

    def state_dict(self) -> dict:
        state = {
            "iteration": self.iteration_count,
            "model": self.acc.unwrap_model(self.model).state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "rng": self.gen.get_state(),
        }
        if self.sched is not None:
            state["sched"] = self.sched.state_dict()
        if self.stopper is not None:
            state["plateau"] = self.stopper.state_dict()
        return copy.deepcopy(state)

    def load_state_dict(self, state: dict) -> None:
        self.iteration_count = int(state["iteration"])
        self.acc.unwrap_model(self.model).load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["rng"].cpu())
        if self.sched is not None:
            self.sched.load_state_dict(state["sched"])
        self._plateau_state = state.get("plateau")


_PROCESS_STRIDE = 1_000_003  # keeps the streams of different processes apart
