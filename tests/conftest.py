"""Shared fixtures: a tiny config that trains in seconds on 2 CPU cores."""

from __future__ import annotations

import os

import pytest
import torch

from dxmi.config import load_config

# pytest-xdist runs two workers (pyproject addopts), one thread each: the two cores stay busy
# through the single-process tests (subprocess runs, small models) that one 2-thread process
# would leave half idle. A plain `pytest -p no:xdist` run takes both threads.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


@pytest.fixture(autouse=True)
def _private_image_cache(tmp_path_factory, monkeypatch):
    """Decoded image folders go to a per-session temporary cache, never ~/.cache."""
    monkeypatch.setenv("DXMI_CACHE", str(tmp_path_factory.getbasetemp() / "dxmi-cache"))


TINY = [
    "data.n_train=4000",
    "data.n_holdout=1000",
    "teacher.iterations=400",
    "teacher.batch_size=256",
    "sampler.hidden=64",
    "sampler.layers=2",
    "sampler.time_embedding=16",
    "dxmi.steps=2",
    "dxmi.iterations=40",
    "dxmi.batch_size=128",
    "dxmi.sampler_lr=1e-4",
    "dxmi.sigma_lr=1e-3",
    "dxmi.value_lr=1e-3",
    "dxmi.energy.hidden=32",
    "dxmi.energy.layers=2",
    "dxmi.energy.time_embedding=16",
    "eval.n_samples=1000",
    "eval.n_projections=100",
    "eval.grid_size=60",
    "eval.teacher_steps=100",
    "eval.every=20",
    "run.checkpoint_every=20",
    "run.log_every=10",
    "run.progress=false",
]


# A tiny image run on 8x8 digits: a UNet teacher and DxMI in seconds (pixel features).
TINY_IMAGES = [
    "data.name=digits",
    "unet.block_out_channels=[16, 32]",
    "teacher.iterations=300",
    "teacher.batch_size=128",
    "teacher.lr=0.002",
    "teacher.ema_decay=0.99",
    "dxmi.steps=2",
    "dxmi.iterations=120",
    "dxmi.value_warmup=20",
    "dxmi.batch_size=64",
    "dxmi.sampler_lr=1e-5",
    "dxmi.sigma_lr=1e-3",
    "dxmi.value_lr=1e-3",
    "dxmi.sampler_grad_clip=1.0",
    "dxmi.ema_decay=0.99",
    "energy.channels=[16, 32]",
    "eval.n_samples=300",
    "eval.feature_net=pixels",
    "eval.teacher_steps=20",
    "run.checkpoint_every=30",
    "run.log_every=10",
    "run.progress=false",
]


@pytest.fixture
def tiny_overrides() -> list[str]:
    return list(TINY)


@pytest.fixture
def tiny_config(tiny_overrides):
    return load_config(None, tiny_overrides)
