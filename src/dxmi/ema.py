"""Exponential moving average of weights, with the usual warm-up.

The decay used at update n is min(decay, (1 + n) / (10 + n)), so a short run is not dominated by
its random initial weights (a plain 0.999 EMA still weighs them 74% after 300 updates).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def make_ema(module: nn.Module, decay: float) -> AveragedModel:
    """An `AveragedModel` copy of `module`; call `.update_parameters(module)` after each step."""

    @torch.no_grad()
    def ema_update(averaged: list, current: list, num_averaged) -> None:
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        torch._foreach_lerp_(averaged, current, 1.0 - d)

    return AveragedModel(module, multi_avg_fn=ema_update)
