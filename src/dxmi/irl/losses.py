"""The losses of DxMI and DxDP as pure functions of tensors (method notes, sections 2-4).

Notation (index convention: t = 0 is noise, t = T is the sample):

=============  ====================================================================
x_t            chain state at step t, shape (N, D...)
E(x)           energy; the EBM density is q(x) = exp(-E(x)) / Z. Lower is better.
V(x, t)        value (a cost-to-go, lower is better); V(x, T) = E(x)
sigma_t        std of the policy's step t -> t + 1
s_t^2          scale of the auxiliary reverse step, adapted to the typical step length
RC_t           running cost ||x_{t+1} - x_t||^2 / (2 s_t^2), averaged over dimensions
tau1, tau2     weights of the entropy (log sigma_t) and of the running cost
gamma          weight of the energy-magnitude regulariser
c_t            time-shaping cost of the shared variant
=============  ====================================================================

Costs: the per-step cost is tau2 * RC_t - tau1 * log sigma_t. Entropy enters with a minus sign
because it is a reward (maximum entropy), and log sigma_t is the per-dimension entropy of the
Gaussian step up to a constant (both terms are per-dimension averages, as in the reference).
"""

from __future__ import annotations

import torch


def ebm_loss(
    e_pos: torch.Tensor, e_neg: torch.Tensor, gamma: float, base: torch.Tensor | None = None
) -> torch.Tensor:
    """Contrastive EBM loss: push data energy down, sampler energy up, keep magnitudes bounded.

    L_E = mean E(x+) - mean E(x-) + gamma * (mean R(x+)^2 + mean R(x-)^2)

    R = E, or E minus a fixed base energy (`base`: its values on the positives, then the
    negatives; the Gaussian base of `networks.mlp.GaussianBase`), so that the regulariser
    bounds only the learned part.
    """
    r = torch.cat([e_pos, e_neg])
    r = r if base is None else r - base
    r_pos, r_neg = r[: len(e_pos)], r[len(e_pos) :]
    return e_pos.mean() - e_neg.mean() + gamma * (r_pos.pow(2).mean() + r_neg.pow(2).mean())


def running_cost(x_t: torch.Tensor, x_next: torch.Tensor, s2_t: torch.Tensor) -> torch.Tensor:
    """RC_t = ||x_{t+1} - x_t||^2 / (2 s_t^2), averaged over dimensions; shape (N,).

    `s2_t` is a scalar or per-sample (N,) tensor.
    """
    sq = (x_next - x_t).pow(2).flatten(1).mean(dim=1)
    return sq / (2 * s2_t)


def step_cost(
    x_t: torch.Tensor,
    x_next: torch.Tensor,
    log_sigma_t: torch.Tensor,
    s2_t: torch.Tensor,
    tau1: float,
    tau2: float,
) -> torch.Tensor:
    """Per-sample immediate cost of one policy step: tau2 * RC_t - tau1 * log sigma_t."""
    return tau2 * running_cost(x_t, x_next, s2_t) - tau1 * log_sigma_t


def time_cost(t: torch.Tensor | int, steps: int) -> torch.Tensor:
    """Shared variant's time-shaping cost c_t = sigmoid(T/2 - t) - sigmoid(T/2 - t - 1) > 0.

    Summed from t to T - 1 it makes noisier states cost more, so one time-independent network
    can serve as the value of every step.
    """
    t = torch.as_tensor(t, dtype=torch.float32)
    half = steps / 2
    return torch.sigmoid(half - t) - torch.sigmoid(half - t - 1)


def td_loss(v_pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Temporal-difference regression of V(x_t, t) onto a stop-gradient target."""
    return (v_pred - target.detach()).pow(2).mean()


def policy_loss(
    v_next: torch.Tensor,
    x_t: torch.Tensor,
    x_next: torch.Tensor,
    log_sigma_t: torch.Tensor,
    s2_t: torch.Tensor,
    tau1: float,
    tau2: float,
) -> torch.Tensor:
    """DxDP policy loss: V_{t+1}(x'_{t+1}) + tau2 * RC_t - tau1 * log sigma_t, batch mean.

    x'_{t+1} = mu(x_t) + sigma_t z is reparameterised, so gradients reach mu and sigma through
    one step only (no back-propagation through the chain).
    """
    return (v_next + step_cost(x_t, x_next, log_sigma_t, s2_t, tau1, tau2)).mean()


def update_velocity_scale(
    s2: torch.Tensor, mean_sq_step: torch.Tensor, momentum: float
) -> torch.Tensor:
    """Adaptive velocity regularisation: s_t^2 <- m s_t^2 + (1 - m) mean (x_{t+1} - x_t)^2."""
    return momentum * s2 + (1.0 - momentum) * mean_sq_step
