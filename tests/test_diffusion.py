import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from dxmi.diffusion import (
    GaussianPolicy,
    Schedule,
    ddpm_loss,
    rollout,
    sample,
    select_timesteps,
    solver_sample,
    step_coefficients,
)
from dxmi.networks import EpsilonMLP
from dxmi.runs.teachers import train_ddpm


class OracleEps(torch.nn.Module):
    """The exact noise predictor for data N(0, s^2 I).

    E[eps | x_t] = sqrt(1 - ab) x / (ab s^2 + 1 - ab).
    """

    def __init__(self, s: float):
        super().__init__()
        self.s = s
        self.register_buffer("ab", Schedule().alphas_cumprod().float())

    def forward(self, x, t):
        ab = self.ab[t.long()].view((-1,) + (1,) * (x.dim() - 1))
        return (1 - ab).sqrt() * x / (ab * self.s**2 + 1 - ab)


def test_select_timesteps():
    assert select_timesteps(1000, 4) == [999, 749, 499, 249]
    assert select_timesteps(1000, 1) == [999]
    quad = select_timesteps(1000, 4, "quadratic")
    assert quad[0] == 999 and quad == sorted(quad, reverse=True) and quad[-1] < 249
    with pytest.raises(ValueError, match="steps must be in"):
        select_timesteps(1000, 0)


def test_policy_step_is_the_ddpm_posterior_step():
    """Over all 1000 timesteps the policy's mean and std equal diffusers' DDPM step."""
    torch.manual_seed(0)
    eps_model = EpsilonMLP(2, hidden=16, layers=1, time_embedding=8)
    ts = list(range(999, -1, -1))
    policy = GaussianPolicy(eps_model, Schedule().alphas_cumprod(), ts)
    sched = DDPMScheduler(clip_sample=False)
    sched.set_timesteps(1000)
    x = torch.randn(5, 2)
    for t in [0, 10, 500, 998]:
        mean, log_sigma = policy(x, torch.full((5,), t))
        eps = eps_model(x, torch.full((5,), float(ts[t])))
        out = sched.step(eps, ts[t], x, generator=torch.Generator().manual_seed(0))
        # diffusers' prev_sample = posterior mean + std * noise; recover its mean
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
        std = sched._get_variance(ts[t]) ** 0.5
        torch.testing.assert_close(mean, out.prev_sample - std * noise, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(
            log_sigma.exp()[0], torch.as_tensor(std).float(), rtol=1e-3, atol=1e-4
        )


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_policy_with_eta_is_the_ddim_step(eta):
    """With eta < 1 the policy's mean and std equal diffusers' DDIM step at that eta."""
    torch.manual_seed(0)
    eps_model = EpsilonMLP(2, hidden=16, layers=1, time_embedding=8)
    ts = select_timesteps(1000, 4)  # [999, 749, 499, 249]: DDIM's "trailing" spacing
    policy = GaussianPolicy(eps_model, Schedule().alphas_cumprod(), ts, eta=eta)
    sched = DDIMScheduler(clip_sample=False, set_alpha_to_one=True, timestep_spacing="trailing")
    sched.set_timesteps(4)
    assert sched.timesteps.tolist() == ts
    x = torch.randn(5, 2)
    for t in range(3):  # the last step's sigma is the policy's fixed small one
        mean, log_sigma = policy(x, torch.full((5,), t))
        eps = eps_model(x, torch.full((5,), float(ts[t])))
        out = sched.step(eps, ts[t], x, eta=eta, variance_noise=torch.zeros_like(x))
        torch.testing.assert_close(mean, out.prev_sample, atol=1e-4, rtol=1e-4)
        std = eta * sched._get_variance(ts[t], ts[t + 1]) ** 0.5
        assert log_sigma.exp()[0].item() == pytest.approx(max(float(std), 1e-4), rel=1e-3)


def test_ddim_coefficients_reduce_to_the_posterior_at_eta_one():
    """The general DDIM form just below eta = 1 agrees with the posterior's closed form."""
    ts = select_timesteps(1000, 4, "quadratic")
    posterior = step_coefficients(Schedule().alphas_cumprod(), ts, eta=1.0)
    ddim = step_coefficients(Schedule().alphas_cumprod(), ts, eta=1.0 - 1e-9)
    for key in ("x0_coef", "xt_coef", "posterior_std"):
        torch.testing.assert_close(ddim[key], posterior[key], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="eta must be in"):
        step_coefficients(Schedule().alphas_cumprod(), ts, eta=1.5)


def test_policy_sigma_learnable_except_last():
    policy = GaussianPolicy(
        EpsilonMLP(2, hidden=8, layers=1), Schedule().alphas_cumprod(), [999, 499], last_sigma=1e-3
    )
    assert policy.log_sigma_learned.shape == (1,)
    assert policy.log_sigma[-1].exp().item() == pytest.approx(1e-3)
    assert policy.log_sigma[0].exp().item() == pytest.approx(
        policy.posterior_std[0].item(), rel=1e-5
    )
    assert "log_sigma_learned" in dict(policy.named_parameters())


def test_rollout_shapes_and_determinism():
    policy = GaussianPolicy(
        EpsilonMLP(3, hidden=8, layers=1), Schedule().alphas_cumprod(), [999, 666, 333]
    )
    x0 = torch.randn(7, 3)
    a = rollout(policy, x0, torch.Generator().manual_seed(1))
    b = rollout(policy, x0, torch.Generator().manual_seed(1))
    assert a.shape == (4, 7, 3)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a[0], x0)
    s1 = sample(policy, 10, 3, torch.Generator().manual_seed(2), batch_size=4)
    s2 = sample(policy, 10, 3, torch.Generator().manual_seed(2), batch_size=4)
    assert s1.shape == (10, 3) and torch.equal(s1, s2)


def test_policy_clip_x0_matches_diffusers_clipped_step():
    """With clip_x0 the policy's mean is diffusers' DDPM step with clip_sample=True, and it
    equals the unclipped mean wherever the predicted x0 stays inside the range."""
    torch.manual_seed(0)
    eps_model = EpsilonMLP(2, hidden=16, layers=1, time_embedding=8)
    ts = select_timesteps(1000, 4)
    clipped = GaussianPolicy(eps_model, Schedule().alphas_cumprod(), ts, clip_x0=1.0)
    free = GaussianPolicy(eps_model, Schedule().alphas_cumprod(), ts)
    sched = DDPMScheduler(clip_sample=True)
    sched.set_timesteps(timesteps=ts)
    x = 3 * torch.randn(64, 2)
    n_inside = n_outside = 0
    for t in range(4):
        mean, _ = clipped(x, torch.full((64,), t))
        eps = eps_model(x, torch.full((64,), float(ts[t])))
        out = sched.step(eps, ts[t], x, generator=torch.Generator().manual_seed(0))
        std = sched._get_variance(ts[t]) ** 0.5 if t < 3 else 0.0
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(mean, out.prev_sample - std * noise, atol=1e-4, rtol=1e-4)
        ab = clipped.alphas_cumprod[t]
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        inside = (x0.abs() < 1).all(dim=1)
        n_inside, n_outside = n_inside + int(inside.sum()), n_outside + int((~inside).sum())
        torch.testing.assert_close(mean[inside], free(x, torch.full((64,), t))[0][inside])
        x = 0.3 * torch.randn(64, 2)  # later steps: states near the data, x0 often in range
    assert n_inside > 0 and n_outside > 0


@pytest.mark.parametrize("solver", ["ddim", "dpmsolver++", "unipc", "ancestral"])
def test_solvers_recover_a_gaussian_with_the_exact_score(solver):
    """With the exact noise predictor for N(0, s^2), every solver lands near std s at 100
    steps (few-step discretisation error aside). s = 3 also checks that nothing clips x0."""
    s = 3.0
    noise = torch.randn(20000, 2, generator=torch.Generator().manual_seed(0))
    x = solver_sample(OracleEps(s), noise, solver, 100, generator=torch.Generator().manual_seed(1))
    assert x.std().item() == pytest.approx(s, rel=0.05)
    assert x.abs().max().item() > 3  # not clipped


def test_ddpm_training_learns_the_noise():
    torch.manual_seed(0)
    data = torch.randn(2000, 2) * 0.5 + 1.0
    model = EpsilonMLP(2, hidden=64, layers=2, time_embedding=16)
    ac = Schedule().alphas_cumprod()
    pool = torch.arange(1000)
    before = np.mean(
        [
            ddpm_loss(model, data, ac, pool, torch.Generator().manual_seed(i)).item()
            for i in range(5)
        ]
    )
    ema, losses = train_ddpm(
        model,
        data,
        ac,
        iterations=300,
        batch_size=256,
        lr=2e-3,
        ema_decay=0.9,
        seed=0,
        progress=False,
    )
    after = np.mean(
        [ddpm_loss(ema, data, ac, pool, torch.Generator().manual_seed(i)).item() for i in range(5)]
    )
    assert after < 0.7 * before
    assert len(losses) == 300


@pytest.mark.parametrize("solver", ["ddim", "dpmsolver++", "unipc", "ancestral"])
def test_solvers_clip_x0_keeps_samples_in_range(solver):
    """With clip_x0 every solver's predicted x0 is clipped: samples of N(0, 9) end in [-1, 1].
    (Images: diffusers' thresholding needs (N, C, H, W).)"""
    noise = torch.randn(500, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    x = solver_sample(
        OracleEps(3.0), noise, solver, 10, clip_x0=1.0, generator=torch.Generator().manual_seed(1)
    )
    assert x.abs().max().item() <= 1.0 + 0.05


def test_unipc_explicit_timesteps_are_set_the_way_diffusers_sets_its_own():
    """At linear spacing, pointing UniPC at explicit timesteps reproduces diffusers' own
    "trailing" timesteps and noise levels, so the same code is trusted at quadratic spacing."""
    from dxmi.diffusion.solvers import _set_unipc_timesteps, make_scheduler

    own = make_scheduler("unipc", 10, 1000, 1e-4, 0.02)
    ours = make_scheduler("unipc", 10, 1000, 1e-4, 0.02)
    _set_unipc_timesteps(ours, select_timesteps(1000, 10, "linear"))
    assert ours.timesteps.tolist() == own.timesteps.tolist()
    torch.testing.assert_close(ours.sigmas, own.sigmas)
    quad = make_scheduler("unipc", 10, 1000, 1e-4, 0.02, spacing="quadratic")
    assert quad.timesteps.tolist() == select_timesteps(1000, 10, "quadratic")


def test_ddim_at_quadratic_spacing_is_the_ddim_update():
    """DDIM at quadratic spacing (first-order DPM-Solver++) equals the deterministic DDIM
    update written out: x' = sqrt(ab') x0 + sqrt(1 - ab') eps, ab' = 1 after the last step."""
    eps_model, ab = OracleEps(2.0), Schedule().alphas_cumprod().float()
    noise = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    ts = select_timesteps(1000, 6, "quadratic")
    x = noise
    for i, t in enumerate(ts):
        eps = eps_model(x, torch.full((x.shape[0],), t))
        x0 = (x - (1 - ab[t]).sqrt() * eps) / ab[t].sqrt()
        ab_next = ab[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0)
        x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
    ours = solver_sample(eps_model, noise, "ddim", 6, spacing="quadratic")
    torch.testing.assert_close(ours, x, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("solver", "rel"), [("ddim", 0.12), ("dpmsolver++", 0.02), ("unipc", 0.02), ("ancestral", 0.2)]
)
def test_solvers_at_quadratic_spacing_recover_a_gaussian(solver, rel):
    """The quadratic-spacing samplers visit the right noise levels: with the exact noise
    predictor for N(0, s^2) they land near std s at 20 steps, the first-order ones (DDIM,
    ancestral: error O(1 / steps), about 9% and 15% here) less near than the others."""
    noise = torch.randn(20000, 2, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    x = solver_sample(OracleEps(3.0), noise, solver, 20, spacing="quadratic", generator=gen)
    assert x.std().item() == pytest.approx(3.0, rel=rel)
