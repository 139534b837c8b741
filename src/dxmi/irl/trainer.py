"""One DxMI trainer for both DxDP variants (method notes, sections 4 and 5).

`DxMITrainer.iteration` is one iteration of the method, in the notes' numbered stages:
rollout (no grad), adaptive s_t^2, EBM step, value steps t = T-1 .. 0, policy step(s).
The *shared* variant uses one time-independent network as energy and value; the *separate*
variant an energy E(x) and a time-conditioned value V(x, t). Devices, DDP and mixed precision
come from accelerate: the same code runs on a CPU, one GPU or several.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel

from dxmi.config import DxMIConfig
from dxmi.diffusion.policy import GaussianPolicy
from dxmi.diffusion.sampling import rollout
from dxmi.ema import make_ema
from dxmi.irl.losses import (
    ebm_loss,
    policy_loss,
    step_cost,
    td_loss,
    time_cost,
    update_velocity_scale,
)
from dxmi.irl.replay import ReplayBuffer
from dxmi.networks.mlp import base_energy


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the iteration and the loss."""


def iteration_generator(seed: int, process: int, iteration: int, device) -> torch.Generator:
    """A generator seeded by (seed, process, iteration): exact resume needs no RNG state."""
    key = np.random.SeedSequence([seed, process, iteration])
    return torch.Generator(device).manual_seed(int(key.generate_state(1)[0]))


def _optimizer(kind: str, groups: list[dict]) -> torch.optim.Optimizer:
    return torch.optim.RAdam(groups) if kind == "radam" else torch.optim.Adam(groups)


def cosine_factor(iterations: int, iteration: int, final_ratio: float) -> float:
    """A cosine from 1 at iteration 0 to `final_ratio` at the last of `iterations`, then flat.

    A pure function of the iteration, so resuming needs no scheduler state.
    """
    if iterations <= 1 or final_ratio == 1.0:
        return 1.0
    progress = min(iteration / (iterations - 1), 1.0)
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + float(np.cos(np.pi * progress)))


def lr_factor(config: DxMIConfig, iteration: int) -> float:
    """The multiplier of every learning rate at `iteration` (0-based) under `lr_schedule`."""
    if config.lr_schedule == "constant":
        return 1.0
    return cosine_factor(config.iterations, iteration, config.lr_final_ratio)


def policy_ramp(config: DxMIConfig, iteration: int) -> float:
    """The sampler's learning-rate multiplier on top of `lr_factor`: 0 during value_warmup,
    then rising linearly to 1 over policy_warmup iterations."""
    started = iteration - config.value_warmup + 1  # policy steps taken, this one included
    if config.policy_warmup <= 0:
        return 1.0
    return min(max(started, 0) / config.policy_warmup, 1.0)


def tau1_at(config: DxMIConfig, iteration: int) -> float:
    """The entropy weight at `iteration`: tau1, annealed to tau1 * tau1_final_ratio."""
    return config.tau1 * cosine_factor(config.iterations, iteration, config.tau1_final_ratio)


class DxMITrainer:
    """Holds the sampler, the energy (and value), their optimisers and s_t^2; runs iterations.

    `value` is None for the shared variant (the energy network is the value). `labels` (N,),
    aligned with the data given to `iteration`, makes the run class-conditional: each rollout
    draws its chains' classes from them (the data's label frequencies) and the policy sees them;
    the energy and value see them too only when they are class-conditional (``num_classes``).
    """

    finished = False  # DxMI runs its full budget (`run_loop` asks every trainer)

    def __init__(
        self,
        policy: GaussianPolicy,
        energy: nn.Module,
        value: nn.Module | None,
        config: DxMIConfig,
        accelerator: Accelerator,
        seed: int = 0,
        labels: torch.Tensor | None = None,
    ) -> None:
        if (config.variant == "separate") != (value is not None):
            raise ValueError("the separate variant needs a value network; the shared one none")
        self.labels = None if labels is None else labels.to(accelerator.device)
        self.energy_labels = getattr(energy, "num_classes", None) is not None
        # Bayes' class head (networks.conv_energy): the EBM step trains the marginal energy and
        # the classifier (cross-entropy on the data) in one pass; the rest read E(x, y)
        self.energy_classifier = bool(getattr(energy, "bayes_head", False))
        if self.energy_labels and (labels is None or config.replay_size > 0):
            raise ValueError("a class-conditional energy needs labels and no replay buffer")
        self.config = config
        self.acc = accelerator
        self.seed = seed
        self.iteration_count = 0
        self.steps = policy.steps

        policy_groups = [
            {"params": list(policy.eps_model.parameters()), "lr": config.sampler_lr},
            {"params": [policy.log_sigma_learned], "lr": config.sigma_lr},
        ]
        opt_policy = _optimizer(config.optimizer, policy_groups)
        if value is None:
            # Shared: one network, one optimiser (value_lr) for the EBM and the TD steps, as in
            # the reference. Two Adam optimisers on the same weights would normalise each loss's
            # step separately and upset the balance between them (measured: it diverges).
            opt_energy = _optimizer(
                config.optimizer, [{"params": energy.parameters(), "lr": config.value_lr}]
            )
            (self.policy, self.energy, self.opt_policy, self.opt_energy) = accelerator.prepare(
                policy, energy, opt_policy, opt_energy
            )
            self.value, self.opt_value = self.energy, self.opt_energy
        else:
            opt_energy = _optimizer(
                config.optimizer, [{"params": energy.parameters(), "lr": config.energy_lr}]
            )
            opt_value = _optimizer(
                config.optimizer, [{"params": value.parameters(), "lr": config.value_lr}]
            )
            (
                self.policy,
                self.energy,
                self.value,
                self.opt_policy,
                self.opt_energy,
                self.opt_value,
            ) = accelerator.prepare(policy, energy, value, opt_policy, opt_energy, opt_value)
        # Base learning rate of every parameter group, for the schedule (lr_factor); keyed by
        # identity because the shared variant's energy and value optimisers are one object.
        self._optimizers = {id(o): o for o in (self.opt_policy, self.opt_energy, self.opt_value)}
        self._base_lrs = {
            key: [g["lr"] for g in opt.param_groups] for key, opt in self._optimizers.items()
        }
        # Unwrapped modules: used for no-grad evaluation and for frozen targets, so that DDP
        # never waits for gradients that a step does not compute.
        self.policy_m: GaussianPolicy = accelerator.unwrap_model(self.policy)
        self.energy_m: nn.Module = accelerator.unwrap_model(self.energy)
        self.value_m: nn.Module = accelerator.unwrap_model(self.value)
        # s_t^2 starts at the schedule's forward-step variance beta_t (notes, section 3).
        self.s2 = self.policy_m.beta.detach().clone().clamp(min=1e-8)
        self.ema = None  # the sampler's average: an EMA, or uniform from average_start
        if config.ema_decay > 0:
            self.ema = make_ema(self.policy_m, config.ema_decay)
        elif config.average_start > 0:
            self.ema = AveragedModel(self.policy_m)  # no avg_fn: the running mean
        self.energy_ema = None
        if config.energy_ema_decay > 0:
            self.energy_ema = make_ema(self.energy_m, config.energy_ema_decay)
        self.replay = ReplayBuffer(config.replay_size) if config.replay_size > 0 else None

    # ------------------------------------------------------------------------------------------
    @property
    def shared(self) -> bool:
        return self.config.variant == "shared"

    @property
    def sampler(self) -> GaussianPolicy:
        """The policy used for sampling and evaluation: its average (EMA or uniform) when on."""
        if self.ema is not None and int(self.ema.n_averaged) > 0:
            return self.ema.module
        return self.policy_m

    @property
    def scoring_energy(self) -> nn.Module:
        """The energy to export and evaluate: the EMA copy when enabled, else the last iterate."""
        if self.energy_ema is not None and int(self.energy_ema.n_averaged) > 0:
            return self.energy_ema.module
        return self.energy_m

    def _generator(self) -> torch.Generator:
        return iteration_generator(
            self.seed, self.acc.process_index, self.iteration_count, self.acc.device
        )

    def _net(self, net: nn.Module, x: torch.Tensor, y, t: torch.Tensor | None = None):
        """An energy or value network at x (and chain index t), with the classes y when it
        is class-conditional."""
        args = (x,) if t is None else (x, t)
        return net(*args, labels=y) if self.energy_labels else net(*args)

    def _value_next(self, x_next: torch.Tensor, t_next: torch.Tensor, y=None) -> torch.Tensor:
        """V(x_{t+1}, t+1) with V(., T) = E, from the unwrapped (frozen) networks."""
        if self.shared:
            return self._net(self.energy_m, x_next, y)
        v = self._net(self.value_m, x_next, y, t_next.clamp(max=self.steps - 1))
        return torch.where(t_next == self.steps, self._net(self.energy_m, x_next, y), v)

    def _step(self, loss: torch.Tensor, opt, params, clip: float) -> torch.Tensor:
        """One optimiser step; returns the gradient norm as a tensor (no host sync)."""
        opt.zero_grad(set_to_none=True)
        self.acc.backward(loss, inputs=params)
        # max_norm = inf measures the norm without clipping, so the logs always show it
        norm = self.acc.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
        opt.step()
        return norm.detach()

    def _scalars(self, losses: dict[str, torch.Tensor], others: dict[str, torch.Tensor]):
        """Every logged scalar in one device-to-host copy (one sync per iteration, which
        matters on a GPU); a non-finite loss raises, naming the first one in stage order."""
        names = [*losses, *others]
        values = torch.stack(
            [v.detach().float().reshape(()) for v in [*losses.values(), *others.values()]]
        ).tolist()
        out = dict(zip(names, values))
        for name in losses:
            if not np.isfinite(out[name]):
                stage = name.removeprefix("loss_")
                raise TrainingDiverged(
                    f"iteration {self.iteration_count}: {stage} loss is {out[name]}; "
                    "lower the learning rates or raise dxmi.gamma / dxmi.tau1"
                )
        return out

    def _shared_td(
        self, states: torch.Tensor, y, g: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The shared variant's TD losses on their mean: one network pass over every state
        x_0 .. x_T, whose x_1 .. x_T values (detached) plus c_t are the targets of x_0 .. x_{T-1}'s.
        The same numbers as one pass per step, in T + 1 passes of B instead of 2T. With
        ``td_batch`` k, k transitions (t, b) drawn at random instead: k losses, the same mean
        in expectation."""
        T, B, k = self.steps, states.shape[1], self.config.td_batch
        if k:
            return self._sampled_td(states, y, g, k)
        y_all = None if y is None else y.repeat(T + 1)  # row t*B + b holds chain b
        learn = self.config.td_update == "mean"
        with torch.set_grad_enabled(learn), self.acc.autocast():
            e = self._net(self.value, states.flatten(0, 1), y_all).float().view(T + 1, B)
        cost = time_cost(torch.arange(T), T).to(e.device)[:, None]
        td = (e[:-1] - (e[1:].detach() + cost)).pow(2).mean(dim=1)
        if not learn:  # the TD loss is still logged: how far E is from a value
            return td, torch.zeros((), device=e.device)
        return td, self._step(td.mean(), self.opt_value, list(self.value_m.parameters()), 0.0)

    def _sampled_td(self, states: torch.Tensor, y, g: torch.Generator, k: int):
        """TD losses (k,) of k transitions x_t -> x_{t+1} drawn uniformly from the rollout's
        T x B (each t weighs 1/T, as in the full mean), and one value step on their mean."""
        T, B = self.steps, states.shape[1]
        idx = torch.randint(T * B, (k,), generator=g, device=states.device)
        t, b = idx // B, idx % B
        y_k = None if y is None else y[b]
        with torch.no_grad(), self.acc.autocast():
            target = self._net(self.value, states[t + 1, b], y_k).float()
        target = target + time_cost(t, T).to(target.device)
        with self.acc.autocast():
            td = (self._net(self.value, states[t, b], y_k).float() - target).pow(2)
        return td, self._step(td.mean(), self.opt_value, list(self.value_m.parameters()), 0.0)

    def _stepwise_td(self, states: torch.Tensor, y, tau1: float, g: torch.Generator):
        """TD losses (T,) step by step, t = T-1 down to 0: the separate variant's soft Bellman
        targets on re-sampled next states, or the shared variant's with a step per t."""
        cfg, T, acc = self.config, self.steps, self.acc
        B = states.shape[1]
        log_sigma = self.policy_m.log_sigma.detach()
        value_params = list(self.value_m.parameters())
        td, td_norms = [], []
        for t in reversed(range(T)):
            t_vec = torch.full((B,), t, device=acc.device, dtype=torch.long)
            with torch.no_grad(), acc.autocast():
                if self.shared:
                    # Shared: target E(x_{t+1}) + c_t on the stored next state.
                    target = self._net(self.energy_m, states[t + 1], y).float()
                    target = target + time_cost(t, T).to(acc.device)
                else:
                    # Separate: full soft Bellman target on a re-sampled next state.
                    noise = torch.randn(states[t].shape, generator=g, device=acc.device)
                    x_next = self.policy_m.step(states[t], t, noise, y)
                    target = self._value_next(x_next, t_vec + 1, y).float() + step_cost(
                        states[t], x_next, log_sigma[t], self.s2[t], tau1, cfg.tau2
                    )
            with acc.autocast():
                v = self._net(self.value, states[t], y, None if self.shared else t_vec)
                loss_v = td_loss(v.float(), target)
            if cfg.td_update == "per_step":
                td_norms.append(self._step(loss_v, self.opt_value, value_params, 0.0))
            td.append(loss_v)
        td = torch.stack(td)
        if cfg.td_update == "mean":
            td_norms.append(self._step(td.mean(), self.opt_value, value_params, 0.0))
        return td, torch.stack(td_norms).max()

    # ------------------------------------------------------------------------------------------
    def iteration(self, data: torch.Tensor) -> dict[str, float]:
        """One DxMI iteration on training data (N, D...); returns scalars for logging."""
        cfg, T, acc = self.config, self.steps, self.acc
        g = self._generator()
        B = cfg.batch_size
        factor = lr_factor(cfg, self.iteration_count)
        tau1 = tau1_at(cfg, self.iteration_count)
        ramp = policy_ramp(cfg, self.iteration_count)
        for key, opt in self._optimizers.items():
            scale = factor * ramp if opt is self.opt_policy else factor
            for group, base in zip(opt.param_groups, self._base_lrs[key]):
                group["lr"] = base * scale
        policy_params = list(self.policy_m.parameters())
        energy_params = list(self.energy_m.parameters())
        losses: dict[str, torch.Tensor] = {}  # checked for finiteness, in stage order
        stats: dict[str, torch.Tensor] = {}

        # 1. Rollout with the current sampler, no grad: states[t], t = 0 (noise) .. T (sample).
        x0 = torch.randn((B, *data.shape[1:]), generator=g, device=acc.device)
        y = None  # the chains' classes, drawn from the data's (class-conditional runs)
        if self.labels is not None:
            y = self.labels[torch.randint(len(self.labels), (B,), generator=g, device=acc.device)]
        states = rollout(self.policy_m, x0, g, y)

        # 2. Adaptive velocity: s_t^2 tracks the typical squared step length (all processes).
        mean_sq = (states[1:] - states[:-1]).pow(2).flatten(2).mean(dim=(1, 2))  # (T,)
        mean_sq = acc.reduce(mean_sq, reduction="mean")
        self.s2 = update_velocity_scale(self.s2, mean_sq, cfg.velocity_momentum)

        # 3. EBM step: data are positives, the sampler's x_T negatives (one forward for DDP);
        #    with a replay buffer, replay_fraction of the negatives are earlier samples; with
        #    noise_negatives, that fraction are the chains' N(0, I) starts.
        pos = torch.randint(len(data), (B,), generator=g, device=acc.device)
        x_pos, x_neg = data[pos], states[-1]
        y_e = torch.cat([self.labels[pos], y]) if self.energy_labels else None
        class_ce = None
        if self.replay is not None:
            k = round(cfg.replay_fraction * B) if len(self.replay) else 0
            if k:
                x_neg = torch.cat([x_neg[k:], self.replay.sample(k, g)])
            self.replay.add(states[-1], g)
        k = round(cfg.noise_negatives * B)
        if k:  # the first k chains' starts x_0 ~ N(0, I) stand in for their samples
            x_neg = torch.cat([states[0][:k], x_neg[k:]])
        x_e = torch.cat([x_pos, x_neg])
        with acc.autocast():
            if self.energy_classifier:
                e, class_logits = self.energy(x_e, logits=True)
                class_ce = F.cross_entropy(class_logits[:B].float(), self.labels[pos])
            else:
                e = self._net(self.energy, x_e, y_e)
            e_pos, e_neg = e[:B].float(), e[B:].float()
            base = base_energy(self.energy_m, x_e)  # a fixed part gamma leaves alone
            loss_e = ebm_loss(e_pos, e_neg, cfg.gamma, None if base is None else base.float())
            if class_ce is not None:
                loss_e = loss_e + class_ce
        losses["loss_energy"] = loss_e
        stats["energy_grad_norm"] = self._step(
            loss_e, self.opt_energy, energy_params, cfg.energy_grad_clip
        )
        stats.update(e_data=e_pos.mean(), e_sample=e_neg.mean())
        if class_ce is not None:  # the classifier's cross-entropy on the batch's data
            stats["class_ce"] = class_ce.detach()

        # 4. Value steps (TD), t = T-1 down to 0: one optimiser step each (the reference), one
        #    step on their mean (td_update = "mean"), or none (shared only; see the config field).
        if self.shared and cfg.td_update != "per_step":
            td, td_norm = self._shared_td(states, y, g)
        else:
            td, td_norm = self._stepwise_td(states, y, tau1, g)
        losses["loss_value"] = td.detach().mean()
        stats["value_grad_norm"] = td_norm

        # 5. Policy step(s) on minibatches of stored states, fresh reparameterised noise
        #    (none during the value warm-up, so a fresh value network can fit first).
        flat = states[:-1].flatten(0, 1)  # (T*B, D...), state of step t at rows t*B .. t*B+B-1
        updates = cfg.policy_updates if self.iteration_count >= cfg.value_warmup else 0
        for _ in range(updates):
            idx = torch.randint(T * B, (B,), generator=g, device=acc.device)
            x_t, t_idx = flat[idx], idx // B
            y_t = None if y is None else y[idx % B]  # row t*B + b holds chain b
            z = torch.randn(x_t.shape, generator=g, device=acc.device)
            with acc.autocast():
                mean, log_sig = self.policy(x_t, t_idx, y_t)
                x_next = mean + log_sig.exp().view((-1,) + (1,) * (x_t.dim() - 1)) * z
                v_next = self._value_next(x_next, t_idx + 1, y_t).float()
                loss_p = policy_loss(v_next, x_t, x_next, log_sig, self.s2[t_idx], tau1, cfg.tau2)
            stats["policy_grad_norm"] = self._step(
                loss_p, self.opt_policy, policy_params, cfg.sampler_grad_clip
            )
            losses["loss_policy"] = loss_p

        stats["sample_abs_max"] = states[-1].abs().max()
        stats["sigma_first"] = self.policy_m.log_sigma[0].exp()
        stats["sigma_last"] = self.policy_m.log_sigma[-1].exp()  # the blur added to the output
        stats["lr_factor"] = torch.tensor(factor, device=acc.device)
        scalars = self._scalars(losses, stats)  # raises before the EMA sees a diverged step
        if self.ema is not None and self.iteration_count >= cfg.average_start:
            self.ema.update_parameters(self.policy_m)
        if self.energy_ema is not None:
            self.energy_ema.update_parameters(self.energy_m)
        self.iteration_count += 1
        return scalars

    # ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to resume exactly (the RNG is derived from the iteration count)."""
        state = {
            "iteration": self.iteration_count,
            "s2": self.s2.detach().cpu().clone(),
            "policy": self.policy_m.state_dict(),
            "energy": self.energy_m.state_dict(),
            "opt_policy": self.opt_policy.state_dict(),
            "opt_energy": self.opt_energy.state_dict(),
        }
        if not self.shared:
            state["value"] = self.value_m.state_dict()
            state["opt_value"] = self.opt_value.state_dict()
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        if self.energy_ema is not None:
            state["energy_ema"] = self.energy_ema.state_dict()
        if self.replay is not None:
            state["replay"] = self.replay.state_dict()
        return copy.deepcopy(state)

    def load_state_dict(self, state: dict) -> None:
        self.iteration_count = int(state["iteration"])
        self.s2 = state["s2"].to(self.acc.device)
        self.policy_m.load_state_dict(state["policy"])
        self.energy_m.load_state_dict(state["energy"])
        self.opt_policy.load_state_dict(state["opt_policy"])
        self.opt_energy.load_state_dict(state["opt_energy"])
        if not self.shared:
            self.value_m.load_state_dict(state["value"])
            self.opt_value.load_state_dict(state["opt_value"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        if self.energy_ema is not None:
            self.energy_ema.load_state_dict(state["energy_ema"])
        if self.replay is not None:
            self.replay.load_state_dict(state["replay"], self.acc.device)
