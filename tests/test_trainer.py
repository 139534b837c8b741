import math

import pytest
import torch
from accelerate import Accelerator

from dxmi.config import ConfigError, load_config
from dxmi.irl.trainer import (
    DxMITrainer,
    TrainingDiverged,
    iteration_generator,
    lr_factor,
    policy_ramp,
    tau1_at,
)
from dxmi.models.factories import build_energy, build_eps_model, build_policy, build_value


def _trainer(config, seed=0):
    torch.manual_seed(seed)
    policy = build_policy(config, build_eps_model(config, 2))
    return DxMITrainer(
        policy,
        build_energy(config, 2),
        build_value(config, 2),
        config.dxmi,
        Accelerator(cpu=True),
        seed=seed,
    )


def _data():
    return torch.randn(512, 2, generator=torch.Generator().manual_seed(0)) * 0.3 + 1.0


def _flat(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


@pytest.mark.parametrize("variant", ["shared", "separate"])
def test_iteration_updates_every_part(tiny_overrides, variant):
    config = load_config(None, tiny_overrides + [f"dxmi.variant={variant}", "dxmi.ema_decay=0.9"])
    tr = _trainer(config)
    before = {
        n: _flat(m).clone()
        for n, m in [("policy", tr.policy_m), ("energy", tr.energy_m), ("value", tr.value_m)]
    }
    s2_before = tr.s2.clone()
    sigma_before = tr.policy_m.log_sigma.detach().clone()
    stats = tr.iteration(_data())
    for name, module in [("policy", tr.policy_m), ("energy", tr.energy_m), ("value", tr.value_m)]:
        assert not torch.equal(before[name], _flat(module)), name
    assert not torch.equal(s2_before, tr.s2)
    assert tr.policy_m.log_sigma[0] != sigma_before[0]  # learnable sigma moved
    assert tr.policy_m.log_sigma[-1] == sigma_before[-1]  # the last one is fixed
    assert tr.iteration_count == 1 and tr.ema is not None
    assert {"loss_energy", "loss_value", "loss_policy", "e_data", "e_sample"} <= set(stats)
    assert (tr.value_m is tr.energy_m) == (variant == "shared")


def test_variant_needs_matching_networks(tiny_config):
    policy = build_policy(tiny_config, build_eps_model(tiny_config, 2))
    with pytest.raises(ValueError, match="separate variant needs a value network"):
        tiny_config.dxmi.variant = "separate"
        DxMITrainer(
            policy, build_energy(tiny_config, 2), None, tiny_config.dxmi, Accelerator(cpu=True)
        )


def test_same_seed_same_result_and_state_round_trip(tiny_config):
    a, b = _trainer(tiny_config), _trainer(tiny_config)
    for _ in range(3):
        a.iteration(_data())
        b.iteration(_data())
    assert torch.equal(_flat(a.policy_m), _flat(b.policy_m))
    c = _trainer(tiny_config, seed=0)
    c.load_state_dict(a.state_dict())
    a.iteration(_data())
    c.iteration(_data())
    assert torch.equal(_flat(a.policy_m), _flat(c.policy_m))
    assert torch.equal(_flat(a.energy_m), _flat(c.energy_m))


def test_divergence_is_reported(tiny_config):
    tr = _trainer(tiny_config)
    data = _data()
    data[:] = float("inf")
    with pytest.raises(TrainingDiverged, match="iteration 0: energy loss"):
        tr.iteration(data)


class Bowl(torch.nn.Module):
    """A fixed energy bowl around (2, 2) (its one parameter never moves: lr 0)."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x, t=None):
        return self.scale * ((x - 2.0) ** 2).sum(1)


def test_policy_descends_the_energy(tiny_overrides):
    """With a fixed energy the policy steps must lower the sampler's mean energy."""
    config = load_config(
        None,
        tiny_overrides
        + [
            "dxmi.value_lr=0",
            "dxmi.sampler_lr=1e-3",
            "dxmi.sampler_grad_clip=0",
        ],
    )
    torch.manual_seed(0)
    policy = build_policy(config, build_eps_model(config, 2))
    bowl = Bowl()
    tr = DxMITrainer(policy, bowl, None, config.dxmi, Accelerator(cpu=True))

    def mean_energy():
        gen = torch.Generator().manual_seed(5)
        return (
            bowl(tr.sampler.step(torch.randn(2000, 2, generator=gen), 1, torch.zeros(2000, 2)))
            .mean()
            .item()
        )

    start = mean_energy()
    for _ in range(60):
        tr.iteration(_data())
    assert bowl.scale.item() == 1.0
    end = mean_energy()
    assert end < 0.8 * start, (start, end)


def test_value_warmup_holds_the_policy(tiny_overrides):
    config = load_config(None, tiny_overrides + ["dxmi.variant=separate", "dxmi.value_warmup=2"])
    tr = _trainer(config)
    start = _flat(tr.policy_m).clone()
    value_start = _flat(tr.value_m).clone()
    for _ in range(2):
        stats = tr.iteration(_data())
    assert torch.equal(start, _flat(tr.policy_m)) and "loss_policy" not in stats
    assert not torch.equal(value_start, _flat(tr.value_m))
    stats = tr.iteration(_data())
    assert not torch.equal(start, _flat(tr.policy_m)) and "loss_policy" in stats


def test_policy_warmup_ramps_only_the_sampler_after_the_value_warmup(tiny_overrides):
    """dxmi.policy_warmup: the sampler's (and sigma's) learning rates rise linearly from 0 after
    the value warm-up; the value's stay at their own."""
    overrides = ["dxmi.variant=separate", "dxmi.value_warmup=2", "dxmi.policy_warmup=4"]
    config = load_config(None, tiny_overrides + overrides + ["dxmi.sampler_lr=1e-3"])
    assert [policy_ramp(config.dxmi, i) for i in range(7)] == [0, 0, 0.25, 0.5, 0.75, 1, 1]
    tr = _trainer(config)
    seen = []
    for _ in range(4):
        tr.iteration(_data())
        seen.append(tr.opt_policy.param_groups[0]["lr"])
    assert seen == pytest.approx([0, 0, 0.25e-3, 0.5e-3])
    assert tr.opt_policy.param_groups[1]["lr"] == pytest.approx(0.5 * config.dxmi.sigma_lr)
    assert tr.opt_value.param_groups[0]["lr"] == pytest.approx(config.dxmi.value_lr)
    # a smaller first step than without the ramp, same rollouts and gradients otherwise
    plain = load_config(None, tiny_overrides + overrides[:2] + ["dxmi.sampler_lr=1e-3"])
    a, b = _trainer(config), _trainer(plain)
    start = _flat(a.policy_m).clone()
    for _ in range(3):
        a.iteration(_data())
        b.iteration(_data())
    moved_a = (_flat(a.policy_m) - start).norm()
    moved_b = (_flat(b.policy_m) - start).norm()
    assert 0 < moved_a < 0.5 * moved_b, (moved_a, moved_b)
    with pytest.raises(ConfigError, match="policy_warmup"):
        load_config(None, tiny_overrides + ["dxmi.policy_warmup=-1"])


def test_cosine_schedule_decays_every_learning_rate_and_resumes_exactly(tiny_overrides):
    config = load_config(
        None,
        tiny_overrides
        + ["dxmi.variant=separate", "dxmi.iterations=5", "dxmi.lr_schedule=cosine"]
        + ["dxmi.lr_final_ratio=0.2", "dxmi.sampler_lr=1e-3", "dxmi.energy_lr=2e-3"],
    )
    assert lr_factor(config.dxmi, 0) == 1.0
    assert lr_factor(config.dxmi, 4) == pytest.approx(0.2)
    assert lr_factor(config.dxmi, 2) == pytest.approx(0.6)  # half way on the cosine
    assert lr_factor(config.dxmi, 99) == pytest.approx(0.2)  # stays at the end value
    tr = _trainer(config)
    for _ in range(5):
        stats = tr.iteration(_data())
    assert stats["lr_factor"] == pytest.approx(0.2)
    assert tr.opt_policy.param_groups[0]["lr"] == pytest.approx(0.2e-3)
    assert tr.opt_energy.param_groups[0]["lr"] == pytest.approx(0.4e-3)
    assert tr.opt_value.param_groups[0]["lr"] == pytest.approx(0.2 * config.dxmi.value_lr)
    # A trainer resumed from iteration 2 takes the same steps as one that never stopped.
    a, b = _trainer(config), _trainer(config)
    for _ in range(2):
        a.iteration(_data())
    b.load_state_dict(a.state_dict())
    a.iteration(_data())
    b.iteration(_data())
    assert torch.equal(_flat(a.policy_m), _flat(b.policy_m))
    constant = load_config(None, tiny_overrides)
    assert all(lr_factor(constant.dxmi, i) == 1.0 for i in range(10))


def test_entropy_weight_anneals_by_a_cosine_and_changes_the_policy_step(tiny_overrides):
    annealed = load_config(
        None, tiny_overrides + ["dxmi.iterations=5", "dxmi.tau1_final_ratio=0.2"]
    ).dxmi
    assert tau1_at(annealed, 0) == annealed.tau1
    assert tau1_at(annealed, 4) == pytest.approx(0.2 * annealed.tau1)
    assert tau1_at(annealed, 2) == pytest.approx(0.6 * annealed.tau1)
    constant = load_config(None, tiny_overrides).dxmi  # the default: tau1 throughout
    assert all(tau1_at(constant, i) == constant.tau1 for i in range(10))
    with pytest.raises(ConfigError, match="tau1_final_ratio"):
        load_config(None, tiny_overrides + ["dxmi.tau1_final_ratio=1.5"])
    # From iteration 1 on, the annealed weight gives another policy step than the constant one.
    sets = ["dxmi.iterations=3", "dxmi.tau1=1.0"]
    a = _trainer(load_config(None, tiny_overrides + sets))
    b = _trainer(load_config(None, tiny_overrides + [*sets, "dxmi.tau1_final_ratio=0.0"]))
    a.iteration(_data())
    b.iteration(_data())
    assert torch.equal(_flat(a.policy_m), _flat(b.policy_m))  # iteration 0: the same weight
    a.iteration(_data())
    b.iteration(_data())
    assert not torch.equal(_flat(a.policy_m), _flat(b.policy_m))


def test_energy_ema_is_the_scoring_energy_and_resumes_exactly(tiny_overrides):
    config = load_config(None, tiny_overrides + ["dxmi.energy_ema_decay=0.5"])
    tr = _trainer(config)
    assert tr.scoring_energy is tr.energy_m  # nothing averaged yet: the live weights
    iterates = []
    for _ in range(3):
        tr.iteration(_data())
        iterates.append(_flat(tr.energy_m).clone())
    # AveragedModel's first update copies the weights; update n >= 1 keeps a fraction
    # d = min(0.5, (1 + n) / (10 + n)) of the average (the warm-up in ema.py)
    expected = iterates[0]
    for n, w in enumerate(iterates[1:], start=1):
        d = min(0.5, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * w
    averaged = _flat(tr.scoring_energy)
    assert torch.allclose(averaged, expected, atol=1e-6)
    assert not torch.allclose(averaged, iterates[-1])
    # the average travels with the state: a resumed trainer averages on identically
    b = _trainer(config, seed=0)
    b.load_state_dict(tr.state_dict())
    tr.iteration(_data())
    b.iteration(_data())
    assert torch.equal(_flat(tr.scoring_energy), _flat(b.scoring_energy))
    off = _trainer(load_config(None, tiny_overrides))
    off.iteration(_data())
    assert off.scoring_energy is off.energy_m


def test_replay_mixes_past_negatives_and_resumes_exactly(tiny_overrides):
    sets = ["dxmi.replay_size=100", "dxmi.replay_fraction=0.5", "dxmi.variant=separate"]
    config = load_config(None, tiny_overrides + sets)
    tr = _trainer(config)
    tr.iteration(_data())
    assert tr.replay is not None and len(tr.replay) == min(100, config.dxmi.batch_size)
    for _ in range(2):
        tr.iteration(_data())
    b = _trainer(config, seed=0)
    b.load_state_dict(tr.state_dict())
    tr.iteration(_data())
    b.iteration(_data())
    assert torch.equal(_flat(tr.energy_m), _flat(b.energy_m))
    assert torch.equal(tr.replay.rows, b.replay.rows)
    # the replayed negatives change the energy's step: not the run without them
    plain = _trainer(load_config(None, tiny_overrides + sets[2:]))
    for _ in range(4):
        plain.iteration(_data())
    assert not torch.equal(_flat(plain.energy_m), _flat(tr.energy_m))
    assert plain.replay is None


def test_uniform_sampler_average_from_its_start_and_resumes_exactly(tiny_overrides):
    config = load_config(None, tiny_overrides + ["dxmi.average_start=2"])
    tr = _trainer(config)
    iterates = []
    for _ in range(5):
        tr.iteration(_data())
        iterates.append(_flat(tr.policy_m).clone())
        if len(iterates) <= 2:  # iterations 0 and 1 come before the start: the live policy
            assert tr.sampler is tr.policy_m
    # the plain mean of the weights after iterations 2, 3 and 4, each weighed alike
    expected = torch.stack(iterates[2:]).mean(0)
    assert torch.allclose(_flat(tr.sampler), expected, atol=1e-6)
    assert not torch.allclose(_flat(tr.sampler), iterates[-1])
    b = _trainer(config, seed=0)
    b.load_state_dict(tr.state_dict())
    tr.iteration(_data())
    b.iteration(_data())
    assert torch.equal(_flat(tr.sampler), _flat(b.sampler))
    with pytest.raises(ValueError, match="not both"):
        load_config(None, tiny_overrides + ["dxmi.average_start=2", "dxmi.ema_decay=0.9"])


@pytest.mark.parametrize("variant", ["shared", "separate"])
def test_td_update_mean_takes_one_value_step_per_iteration(tiny_overrides, variant):
    steps = {}
    for mode in ("per_step", "mean"):
        config = load_config(
            None, tiny_overrides + [f"dxmi.variant={variant}", f"dxmi.td_update={mode}"]
        )
        tr = _trainer(config)
        stats = tr.iteration(_data())
        param = next(tr.value_m.parameters())
        steps[mode] = int(tr.opt_value.state[param]["step"])
        assert stats["value_grad_norm"] > 0
    T = config.dxmi.steps
    ebm = 1 if variant == "shared" else 0  # shared: the EBM step uses the same optimiser
    assert steps == {"per_step": T + ebm, "mean": 1 + ebm}


def test_shared_td_in_one_pass_is_the_per_step_loss(tiny_overrides):
    """The shared variant's TD losses from one pass over every state (td_update mean / none)
    are E(x_t) against E(x_{t+1}) + c_t for each t, as one pass per step computes them; the
    mean's gradient step then matches a step on the per-step losses' mean."""
    from dxmi.irl.losses import time_cost

    config = load_config(None, tiny_overrides + ["dxmi.td_update=mean", "dxmi.steps=3"])
    tr = _trainer(config)
    chains = torch.randn(4, 8, 2, generator=torch.Generator().manual_seed(1))  # (T + 1, B, D)
    net = tr.energy_m
    with torch.no_grad():
        expected = torch.stack(
            [
                (net(chains[t]) - net(chains[t + 1]) - time_cost(t, 3)).pow(2).mean()
                for t in range(3)
            ]
        )
    reference = _trainer(config)
    td, norm = tr._shared_td(chains, None, torch.Generator())
    torch.testing.assert_close(td.detach(), expected)
    # the same step taken by hand on the per-step losses, from the same weights
    opt = reference.opt_value
    opt.zero_grad()
    n = reference.energy_m
    per_step = [
        (n(chains[t]) - (n(chains[t + 1]).detach() + time_cost(t, 3))).pow(2).mean()
        for t in range(3)
    ]
    torch.stack(per_step).mean().backward()
    torch.testing.assert_close(norm, torch.nn.utils.clip_grad_norm_(n.parameters(), float("inf")))
    opt.step()
    torch.testing.assert_close(_flat(tr.energy_m), _flat(reference.energy_m))


def test_td_batch_draws_transitions_and_steps_on_their_mean(tiny_overrides):
    """With dxmi.td_batch k the TD losses are those of k transitions (t, b) drawn from the
    rollout's T x B, each E(x_t) against E(x_{t+1}) + c_t; one value step on their mean. Only
    the shared variant with td_update mean takes it (a named config error otherwise)."""
    from dxmi.irl.losses import time_cost

    sets = ["dxmi.td_update=mean", "dxmi.steps=3", "dxmi.td_batch=5"]
    config = load_config(None, tiny_overrides + sets)
    tr = _trainer(config)
    chains = torch.randn(4, 8, 2, generator=torch.Generator().manual_seed(1))  # (T + 1, B, D)
    net = tr.energy_m
    with torch.no_grad():
        costs = time_cost(torch.arange(3), 3)[:, None]
        every = (
            net(chains[:-1].flatten(0, 1)).view(3, 8)
            - net(chains[1:].flatten(0, 1)).view(3, 8)
            - costs
        ).pow(2)
    idx = torch.randint(24, (5,), generator=torch.Generator().manual_seed(7))
    before = _flat(net)
    td, norm = tr._shared_td(chains, None, torch.Generator().manual_seed(7))
    torch.testing.assert_close(td.detach(), every[idx // 8, idx % 8])
    assert norm > 0 and not torch.equal(_flat(net), before)
    # a whole iteration with it runs, and one value step is taken on the shared network
    tr = _trainer(config)
    stats = tr.iteration(_data())
    assert math.isfinite(stats["loss_value"]) and stats["value_grad_norm"] > 0
    for bad in (["dxmi.td_update=per_step"], ["dxmi.variant=separate"]):
        with pytest.raises(ConfigError, match="td_batch needs the shared variant"):
            load_config(None, tiny_overrides + sets + bad)


def test_td_update_none_leaves_the_shared_network_to_the_ebm_step(tiny_overrides):
    """With no TD step the shared network takes the EBM step alone; the TD loss is still logged."""
    config = load_config(None, tiny_overrides + ["dxmi.td_update=none"])
    tr = _trainer(config)
    before = _flat(tr.energy_m)
    stats = tr.iteration(_data())
    param = next(tr.energy_m.parameters())
    assert int(tr.opt_energy.state[param]["step"]) == 1  # the EBM step only
    assert stats["value_grad_norm"] == 0 and stats["loss_value"] > 0  # logged, not stepped
    assert not torch.equal(_flat(tr.energy_m), before)
    with pytest.raises(ConfigError, match="td_update: none needs the shared"):
        load_config(None, tiny_overrides + ["dxmi.td_update=none", "dxmi.variant=separate"])


def test_noise_negatives_are_the_chains_starts(tiny_overrides):
    sets = ["dxmi.noise_negatives=0.25", "dxmi.variant=separate"]
    config = load_config(None, tiny_overrides + sets)
    tr = _trainer(config)
    seen = []
    tr.energy_m.register_forward_hook(lambda m, args, out: seen.append(args[0].detach().clone()))
    tr.iteration(_data())
    B = config.dxmi.batch_size
    k = round(0.25 * B)
    # the rollout's starts: the first draw of the iteration's generator
    x0 = torch.randn((B, 2), generator=iteration_generator(0, 0, 0, "cpu"))
    negatives = seen[0][B:]  # the EBM step's one forward: data rows, then negatives
    assert k > 0 and torch.equal(negatives[:k], x0[:k])
    assert not torch.isclose(negatives[k:], x0[k:]).all(dim=1).any()  # the rest are samples
    with pytest.raises(ConfigError, match="noise_negatives"):
        load_config(None, tiny_overrides + ["dxmi.noise_negatives=1"])
