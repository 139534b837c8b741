import math

import pytest
import torch

from dxmi.irl.losses import (
    ebm_loss,
    policy_loss,
    running_cost,
    step_cost,
    td_loss,
    time_cost,
    update_velocity_scale,
)


def test_ebm_loss_pushes_data_down_and_samples_up():
    e_pos = torch.zeros(4, requires_grad=True)
    e_neg = torch.zeros(4, requires_grad=True)
    ebm_loss(e_pos, e_neg, gamma=1.0).backward()
    assert (e_pos.grad > 0).all()  # gradient descent lowers data energy
    assert (e_neg.grad < 0).all()  # and raises sample energy


def test_ebm_loss_optimum_is_bounded_by_gamma():
    """With the regulariser the optimum is E+ = -1/(2 gamma), E- = +1/(2 gamma)."""
    e = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([e], lr=0.1)
    for _ in range(500):
        opt.zero_grad()
        ebm_loss(e[:1], e[1:], gamma=2.0).backward()
        opt.step()
    torch.testing.assert_close(e.detach(), torch.tensor([-0.25, 0.25]), atol=1e-4, rtol=0)


def test_running_cost_closed_form():
    x = torch.zeros(2, 4)
    y = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 0.0, 0.0, 0.0]])
    rc = running_cost(x, y, torch.tensor(0.5))
    torch.testing.assert_close(rc, torch.tensor([1.0, 1.0]))  # mean sq 1 / (2 * 0.5)


def test_entropy_term_is_the_gaussian_step_entropy():
    """-step_cost's sigma part is tau1 * (per-dimension entropy of N(mu, sigma^2) - constant)."""
    tau1 = 0.3
    x = torch.zeros(1, 3)
    for sigma in [0.1, 1.0, 2.5]:
        log_sigma = torch.tensor([math.log(sigma)])
        cost = step_cost(x, x, log_sigma, torch.tensor(1.0), tau1, tau2=0.0)
        entropy_per_dim = 0.5 * math.log(2 * math.pi * math.e) + math.log(sigma)
        const = 0.5 * math.log(2 * math.pi * math.e)
        assert -cost.item() == pytest.approx(tau1 * (entropy_per_dim - const), rel=1e-6)


def test_time_cost_is_positive_and_telescopes():
    T = 6
    c = torch.stack([time_cost(t, T) for t in range(T)])
    assert (c > 0).all()
    total = torch.sigmoid(torch.tensor(T / 2)) - torch.sigmoid(torch.tensor(T / 2 - T))
    torch.testing.assert_close(c.sum(), total)  # sum_t c_t telescopes


def test_td_on_a_one_step_chain():
    """A one-step chain: V(x_0) regressed onto E(x_1) + cost converges to that target."""
    v = torch.zeros(3, requires_grad=True)
    target = torch.tensor([1.0, -2.0, 0.5])
    opt = torch.optim.SGD([v], lr=0.5)
    for _ in range(200):
        opt.zero_grad()
        td_loss(v, target).backward()
        opt.step()
    torch.testing.assert_close(v.detach(), target)
    # the target is a stop-gradient
    t = torch.ones(3, requires_grad=True)
    td_loss(torch.zeros(3, requires_grad=True), t).backward()
    assert t.grad is None


def test_policy_loss_gradient_in_log_sigma():
    """d/d log sigma of [V + tau2 RC - tau1 log sigma] with V = 0, x' = x + sigma z:
    tau2 * sigma^2 mean(z^2) / s2 - tau1."""
    z = torch.tensor([[1.0, -2.0]])
    log_sigma = torch.tensor([0.3], requires_grad=True)
    x = torch.zeros(1, 2)
    x_next = x + log_sigma.exp().view(-1, 1) * z
    s2, tau1, tau2 = torch.tensor(0.7), 0.1, 0.05
    policy_loss(torch.zeros(1), x, x_next, log_sigma, s2, tau1, tau2).backward()
    sigma2 = math.exp(0.6)
    expected = tau2 * sigma2 * (z**2).mean().item() / 0.7 - tau1
    assert log_sigma.grad.item() == pytest.approx(expected, rel=1e-5)


def test_velocity_scale_update():
    s2 = torch.tensor([1.0, 2.0])
    out = update_velocity_scale(s2, torch.tensor([3.0, 2.0]), 0.99)
    torch.testing.assert_close(out, torch.tensor([1.02, 2.0]))


def test_ebm_regulariser_bounds_only_the_part_above_a_fixed_base():
    e_pos, e_neg = torch.tensor([1.0, 3.0]), torch.tensor([5.0, 7.0])
    b_pos, b_neg = torch.tensor([1.0, 2.0]), torch.tensor([4.0, 4.0])
    plain = ebm_loss(e_pos, e_neg, gamma=0.5)
    based = ebm_loss(e_pos, e_neg, 0.5, torch.cat([b_pos, b_neg]))
    assert plain.item() == pytest.approx(-4 + 0.5 * (5 + 37))  # mean E+^2 = 5, mean E-^2 = 37
    assert based.item() == pytest.approx(-4 + 0.5 * (0.5 + 5))  # residuals (0, 1) and (1, 3)
