"""The factories: a config in, the networks and policy of a run out (points and images alike).

Plain functions, no string registry: the one place that knows which config key builds what.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dxmi.config import Config, EnergyNetworkConfig, ImageConfig, TeacherConfig
from dxmi.diffusion import GaussianPolicy, Schedule, select_timesteps
from dxmi.networks import EnergyMLP, EpsilonMLP
from dxmi.networks.conv_energy import ConvEnergy
from dxmi.networks.mlp import fit_bases
from dxmi.networks.unet import UNetEpsilon


def build_schedule(teacher: TeacherConfig) -> Schedule:
    """The noise schedule a teacher section describes (points and images)."""
    return Schedule(teacher.num_train_timesteps, teacher.beta_start, teacher.beta_end)


def build_eps_model(config: Config, dim: int) -> EpsilonMLP:
    net = config.sampler
    return EpsilonMLP(
        dim,
        hidden=net.hidden,
        layers=net.layers,
        time_embedding=net.time_embedding,
        fourier_features=net.fourier_features,
        fourier_scale=net.fourier_scale,
    )


def build_policy(config: Config, eps_model: nn.Module) -> GaussianPolicy:
    t = config.teacher
    alphas_cumprod = build_schedule(t).alphas_cumprod()
    timesteps = select_timesteps(
        t.num_train_timesteps, config.dxmi.steps, config.dxmi.timestep_spacing
    )
    return GaussianPolicy(
        eps_model,
        alphas_cumprod,
        timesteps,
        last_sigma=config.dxmi.last_sigma,
        learn_last_sigma=config.dxmi.learn_last_sigma,
        clip_x0=config.dxmi.clip_x0,
        eta=config.dxmi.eta,
    )


def build_energy(config: Config, dim: int) -> EnergyMLP:
    return EnergyMLP(dim, **energy_mlp_kwargs(config.dxmi.energy, config.dxmi.tau1, dim))


def energy_mlp_kwargs(net: EnergyNetworkConfig, tau1: float = 0.0, dim: int = 1) -> dict:
    """The `EnergyMLP` arguments of an energy network section (no time embedding). The
    Gaussian base's weight is `net.gaussian_base` times the sampler's temperature tau1 / dim
    (the sampler is drawn to exp(-E dim / tau1): `runs.evaluation.energy_temperature`); with
    tau1 0, as for the Langevin EBM (temperature 1), the weight is in nats."""
    return {
        "hidden": net.hidden,
        "layers": net.layers,
        "fourier_features": net.fourier_features,
        "fourier_scale": net.fourier_scale,
        "base_weight": base_weight(net.gaussian_base, tau1, dim),
    }


def base_weight(gaussian_base: float, tau1: float, dim: int) -> float:
    """The Gaussian base's weight: `gaussian_base` x tau1 / dim (nats when tau1 is 0)."""
    return gaussian_base * (tau1 if tau1 > 0 else 1.0) / max(dim, 1)


def build_value(config: Config, dim: int) -> EnergyMLP | None:
    """The time-conditioned value V(x, t) of the separate variant; None for the shared one."""
    if config.dxmi.variant == "shared":
        return None
    net = config.dxmi.energy
    kwargs = energy_mlp_kwargs(net, config.dxmi.tau1, dim)
    return EnergyMLP(dim, **kwargs, time_embedding=net.time_embedding)


def build_image_policy(config: ImageConfig, unet: nn.Module, schedule: Schedule) -> GaussianPolicy:
    """The T-step policy whose mean is the teacher's DDPM posterior step (notes, section 6)."""
    timesteps = select_timesteps(
        schedule.num_train_timesteps, config.dxmi.steps, config.dxmi.timestep_spacing
    )
    return GaussianPolicy(
        UNetEpsilon(unet),
        schedule.alphas_cumprod(),
        timesteps,
        last_sigma=config.dxmi.last_sigma,
        learn_last_sigma=config.dxmi.learn_last_sigma,
        clip_x0=config.dxmi.clip_x0,
        eta=config.dxmi.eta,
    )


def build_conv_energy(
    config: ImageConfig,
    channels: int,
    value: bool = False,
    num_classes: int | None = None,
    pixels: int = 0,
) -> ConvEnergy:
    """The energy E(x), or (value=True) the separate variant's value V(x, t); E(x, y) with the
    classes of a class-conditional teacher when ``energy.class_conditional`` is set. `pixels`
    (C * H * W) sizes the Gaussian base of ``energy.gaussian_base``, weighted as on rows
    (`energy_mlp_kwargs`)."""
    e = config.energy
    classes = num_classes if (e.class_conditional and num_classes) else 0
    return ConvEnergy(
        channels,
        e.channels,
        time_embedding=e.time_embedding if value else 0,
        num_classes=classes,
        class_head=e.class_head,
        class_weight=e.class_weight,
        pixels=pixels,
        base_weight=base_weight(e.gaussian_base, config.dxmi.tau1, pixels),
    )


def conv_energy_networks(
    config: ImageConfig,
    shape: tuple[int, ...],
    train_x: torch.Tensor | None = None,
    num_classes: int | None = None,
) -> tuple[ConvEnergy, ConvEnergy | None]:
    """The energy and value nets of an image run (value None in the shared variant), their
    Gaussian bases (``energy.gaussian_base``) fitted to `train_x` when given (a fit; a saved
    model's bases come with its weights). `shape` is (C, H, W)."""
    pixels = math.prod(shape)
    energy = build_conv_energy(config, shape[0], num_classes=num_classes, pixels=pixels)
    value = (
        build_conv_energy(config, shape[0], value=True, num_classes=num_classes, pixels=pixels)
        if config.dxmi.variant == "separate"
        else None
    )
    if train_x is not None:
        fit_bases(train_x, energy, value)
    return energy, value
