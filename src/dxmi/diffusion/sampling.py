"""Sampling from a policy: pure functions of the policy, the initial noise and a generator."""

from __future__ import annotations

import torch

from dxmi.diffusion.policy import GaussianPolicy


@torch.no_grad()
def rollout(
    policy: GaussianPolicy,
    x0: torch.Tensor,
    generator: torch.Generator | None = None,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run the chain from noise x0 (with class `labels` (N,) for a conditional policy); every
    state, (T + 1, N, ...): [0] noise, [T] the sample."""
    states = [x0]
    x = x0
    for t in range(policy.steps):
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x = policy.step(x, t, noise, labels)
        states.append(x)
    return torch.stack(states)


@torch.no_grad()
def sample(
    policy: GaussianPolicy,
    n: int,
    dim: int,
    generator: torch.Generator | None = None,
    batch_size: int = 8192,
) -> torch.Tensor:
    """n samples x_T, (n, dim), in batches; the same generator seed gives the same samples."""
    device = next(policy.buffers()).device
    out = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        x0 = torch.randn((m, dim), generator=generator, device=device)
        out.append(rollout(policy, x0, generator)[-1])
    return torch.cat(out)
