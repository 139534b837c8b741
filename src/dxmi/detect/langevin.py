"""The MCMC-trained EBM that DxMI is compared with: short-run Langevin contrastive divergence.

Negatives come from K steps of Langevin dynamics on the current energy,
``x <- x - step * grad E(x) + sqrt(2 step) * noise``, started from a replay buffer (with a
fraction of fresh N(0, I) starts), as in Du & Mordatch (2019, IGEBM) and Nijkamp et al. (2019).
The loss is the same as DxMI's EBM step, E(data) - E(negatives) + gamma (E(data)^2 + E(neg)^2),
so the two differ only in where the negatives come from. Data are standardised by the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils.validation import validate_data
from torch import nn
from tqdm.auto import tqdm

from dxmi.data import Standardizer
from dxmi.detect.base import EnergyDetector, ImageEnergyDetector
from dxmi.irl.losses import ebm_loss
from dxmi.networks import EnergyMLP
from dxmi.networks.conv_energy import ConvEnergy
from dxmi.networks.mlp import base_energy


@dataclass
class LangevinConfig:
    iterations: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    # energy-magnitude regulariser, as in DxMI's EBM step. 0.1: on 8gaussians (90 s of CPU) it
    # gave grid KL 0.45 at temperature 1, against 1.14 with 1.0, which squashes the energy.
    gamma: float = 0.1
    langevin_steps: int = 20  # K, Langevin steps per iteration
    step_size: float = 0.01  # epsilon; the noise is sqrt(2 epsilon) (temperature 1)
    buffer_size: int = 10000
    reinit: float = 0.05  # fraction of chains restarted from N(0, I) each iteration
    grad_clip: float = 1.0  # max gradient norm of the energy step (0 disables)
    max_seconds: float = 0.0  # stop after this much wall-clock time (0: no limit)


def langevin(
    energy: nn.Module, x: torch.Tensor, steps: int, step_size: float, gen: torch.Generator
) -> torch.Tensor:
    """`steps` steps of unadjusted Langevin dynamics on exp(-E); returns detached samples."""
    x = x.detach().clone()
    for _ in range(steps):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(x).sum(), x)
        noise = torch.randn(x.shape, generator=gen, device=x.device)
        x = (x - step_size * grad + (2 * step_size) ** 0.5 * noise).detach()
    return x


def train_langevin_ebm(
    energy: nn.Module,
    data: torch.Tensor,
    config: LangevinConfig,
    *,
    seed: int = 0,
    log_every: int = 25,
    progress: bool = False,
) -> list[dict]:
    """Train `energy` on `data` (N, D...) in place; returns logged scalars, like DxMI's history:
    iteration, seconds, loss_energy, e_data, e_sample."""
    cfg = config
    device = data.device
    gen = torch.Generator(device).manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(energy.parameters(), lr=cfg.lr)
    shape = (cfg.buffer_size, *data.shape[1:])
    buffer = torch.randn(shape, generator=gen, device=device)
    history: list[dict] = []
    start = time.perf_counter()
    for it in tqdm(range(cfg.iterations), desc="langevin ebm", disable=not progress, leave=False):
        idx = torch.randint(cfg.buffer_size, (cfg.batch_size,), generator=gen, device=device)
        x0 = buffer[idx]
        fresh = torch.rand(cfg.batch_size, generator=gen, device=device) < cfg.reinit
        x0[fresh] = torch.randn(x0[fresh].shape, generator=gen, device=device)
        x_neg = langevin(energy, x0, cfg.langevin_steps, cfg.step_size, gen)
        buffer[idx] = x_neg
        x_pos = data[torch.randint(len(data), (cfg.batch_size,), generator=gen, device=device)]
        x = torch.cat([x_pos, x_neg])
        e = energy(x)
        e_pos, e_neg = e[: cfg.batch_size], e[cfg.batch_size :]
        # gamma bounds the learned part only, not a fixed Gaussian base
        loss = ebm_loss(e_pos, e_neg, cfg.gamma, base_energy(energy, x))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"langevin ebm: loss is {loss.item()} at iteration {it}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(energy.parameters(), cfg.grad_clip)
        opt.step()
        elapsed = time.perf_counter() - start
        done = cfg.max_seconds > 0 and elapsed >= cfg.max_seconds
        if (it + 1) % log_every == 0 or it + 1 == cfg.iterations or done:
            history.append(
                {
                    "iteration": it + 1,
                    "seconds": elapsed,
                    "loss_energy": loss.item(),
                    "e_data": e_pos.mean().item(),
                    "e_sample": e_neg.mean().item(),
                }
            )
        if done:
            break
    energy.eval()
    return history


def energy_numpy(energy: nn.Module, z: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """E(z) for standardised points as a float64 array (no grad)."""
    device = next(energy.parameters()).device
    with torch.no_grad():
        t = torch.from_numpy(np.asarray(z, np.float32)).to(device)
        out = [energy(t[i : i + batch_size]) for i in range(0, len(t), batch_size)]
    return torch.cat(out).cpu().numpy().astype(np.float64)


def _langevin_config(det, **extra) -> LangevinConfig:
    """The training settings of a Langevin detector, from its parameters."""
    det._check_numbers()
    return LangevinConfig(
        iterations=det.iterations,
        batch_size=det.batch_size,
        lr=det.lr,
        gamma=det.gamma,
        langevin_steps=det.langevin_steps,
        step_size=det.step_size,
        max_seconds=det.max_seconds,
        **extra,
    )


class LangevinEBMDetector(EnergyDetector):
    """The Langevin-trained EBM as a detector, with `DxMIDetector`'s conventions and energy MLP.

    Rows are standardised per feature (from the training rows) before the energy sees them.
    `energy_fourier_features` > 0 puts Fourier features of that many frequencies (std
    `energy_fourier_scale`) in front of the MLP, the energy `DxMIDetector` uses on 2D points;
    `gaussian_base` > 0 adds the rows' Gaussian fit with that weight (in nats: the Langevin
    chains run at temperature 1), the base `DxMIDetector` uses on wider rows.
    """

    def __init__(
        self,
        *,
        iterations: int = 2000,
        batch_size: int = 128,
        energy_hidden: int = 256,
        energy_layers: int = 3,
        energy_fourier_features: int = 0,
        energy_fourier_scale: float = 4.0,
        gaussian_base: float = 0.0,
        lr: float = 1e-3,
        gamma: float = 0.1,
        langevin_steps: int = 20,
        step_size: float = 0.01,
        max_seconds: float = 0.0,
        standardize: bool = True,
        contamination: float = 0.1,
        random_state: int = 0,
        verbose: bool = False,
    ) -> None:
        self._keep_params(locals())

    def fit(self, X, y=None) -> LangevinEBMDetector:
        """Train on normal rows X; `y` is ignored."""
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        self.standardizer_ = Standardizer.fit(X, bool(self.standardize))
        torch.manual_seed(self.random_state)
        self.energy_ = self._energy_net(X.shape[1])
        config = _langevin_config(self)
        data = torch.from_numpy(self.standardizer_.transform(X))
        self.energy_.fit_base(data)
        self.history_ = train_langevin_ebm(
            self.energy_, data, config, seed=self.random_state, progress=bool(self.verbose)
        )
        self._set_threshold(self._energy(X))
        return self

    def _energy_net(self, n_features: int) -> EnergyMLP:
        return EnergyMLP(
            n_features,
            hidden=int(self.energy_hidden),
            layers=int(self.energy_layers),
            fourier_features=int(self.energy_fourier_features),
            fourier_scale=float(self.energy_fourier_scale),
            base_weight=float(self.gaussian_base),
        )

    def _energy(self, X: np.ndarray) -> np.ndarray:
        return energy_numpy(self.energy_, self.standardizer_.transform(X))

    def _modules(self) -> dict[str, nn.Module]:
        return {"energy": self.energy_}

    def _fitted_record(self) -> dict:
        return {**super()._fitted_record(), "standardizer": self.standardizer_.to_dict()}

    def _rebuild(self, record: dict) -> dict[str, nn.Module]:
        n = int(record["n_features_in"])
        self.standardizer_ = Standardizer.from_dict(record["standardizer"])
        if len(self.standardizer_.mean) != n:
            raise ValueError(f"{n} features but a standardiser of {len(self.standardizer_.mean)}")
        self.n_features_in_ = n
        self.energy_ = self._energy_net(n)
        return self._modules()


class ImageLangevinEBMDetector(ImageEnergyDetector):
    """The Langevin-trained EBM on images: `ImageDxMIDetector`'s conv energy and conventions,
    negatives from short-run Langevin chains (in [-1, 1] pixel units) instead of a sampler."""

    def __init__(
        self,
        *,
        iterations: int = 1000,
        batch_size: int = 64,
        energy_channels: tuple[int, ...] = (32, 64, 128),
        lr: float = 1e-3,
        gamma: float = 1.0,  # as ImageDxMIDetector: the two differ only in their negatives
        langevin_steps: int = 20,
        step_size: float = 0.01,
        max_seconds: float = 0.0,
        pixel_range: tuple[float, float] = (0.0, 1.0),
        contamination: float = 0.1,
        random_state: int = 0,
        verbose: bool = False,
    ) -> None:
        self._keep_params(locals())

    def fit(self, X, y=None) -> ImageLangevinEBMDetector:
        """Train on normal images X; `y` is ignored."""
        self._check_contamination()
        x = torch.from_numpy(self._validate(X, reset=True))
        torch.manual_seed(self.random_state)
        self.energy_ = ConvEnergy(self.image_shape_[0], [int(c) for c in self.energy_channels])
        config = _langevin_config(self, buffer_size=min(10000, 10 * len(x)))
        self.history_ = train_langevin_ebm(
            self.energy_, x, config, seed=self.random_state, progress=bool(self.verbose)
        )
        self.energy_.requires_grad_(False)
        self._set_threshold(self._energy_of(x))
        return self

    def _modules(self) -> dict[str, nn.Module]:
        return {"energy": self.energy_}

    def _rebuild(self, record: dict) -> dict[str, nn.Module]:
        shape = self._image_shape(record)
        self.energy_ = ConvEnergy(shape[0], [int(c) for c in self.energy_channels])
        return self._modules()
