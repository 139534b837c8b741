"""The point-data networks: Fourier features of the energy MLP."""

import math

import numpy as np
import torch

from dxmi.config import load_config
from dxmi.irl.losses import ebm_loss
from dxmi.models.points import DxMIModel
from dxmi.networks import EnergyMLP
from dxmi.networks.mlp import FourierFeatures
from dxmi.runs.points import fit_points


def test_fourier_features_keep_x_and_draw_the_same_frequencies():
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    ff = FourierFeatures(3, 8, scale=2.0)
    out = ff(x)
    assert out.shape == (5, 3 + 16)
    assert torch.equal(out[:, :3], x)
    z = x @ ff.B
    assert torch.allclose(out[:, 3:11], torch.sin(z)) and torch.allclose(out[:, 11:], torch.cos(z))
    assert torch.equal(FourierFeatures(3, 8, scale=2.0).B, ff.B)  # fixed draw, not the global RNG
    assert abs(ff.B.std().item() - 2.0) < 1.0
    assert "B" in ff.state_dict()  # saved with the weights


def _modes_and_ring(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Eight tight modes on the unit circle, and points spread evenly along the same circle."""
    k = torch.randint(8, (n,), generator=gen).float()
    a = k * (2 * math.pi / 8) + 0.05 * torch.randn(n, generator=gen)
    modes = torch.stack([a.cos(), a.sin()], 1)
    b = torch.rand(n, generator=gen) * 2 * math.pi
    return modes, torch.stack([b.cos(), b.sin()], 1)


def _energy_gap(net: EnergyMLP, steps: int = 300) -> float:
    """Train `net` contrastively (modes positive, the ring negative); mean E(ring) - E(modes)
    on fresh points."""
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(steps):
        pos, neg = _modes_and_ring(256, gen)
        loss = ebm_loss(net(pos), net(neg), gamma=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    pos, neg = _modes_and_ring(4000, gen)
    with torch.no_grad():
        return (net(neg).mean() - net(pos).mean()).item()


def test_fourier_features_let_the_energy_tell_modes_from_their_ring():
    # The reason the option exists: on 8gaussians the plain MLP energy stayed a ring
    # (benchmarks/results/density-probes-8gaussians).
    torch.manual_seed(0)
    plain = _energy_gap(EnergyMLP(2, hidden=64, layers=2))
    torch.manual_seed(0)
    fourier = _energy_gap(EnergyMLP(2, hidden=64, layers=2, fourier_features=32, fourier_scale=3))
    assert fourier > 0.05
    assert fourier > 3 * max(plain, 0.0)


def test_fourier_energy_is_saved_and_loaded_with_its_frequencies(tmp_path, tiny_overrides):
    sets = ["dxmi.iterations=5", "teacher.iterations=20", "dxmi.energy.fourier_features=4"]
    config = load_config(None, tiny_overrides + sets)
    x = np.random.default_rng(0).normal(size=(300, 2))
    model, _ = fit_points(config, x)
    with torch.no_grad():  # a B that differs from the seeded draw must come back from the file
        model.energy_net.fourier.B.mul_(1.5)
    model.save(tmp_path)
    loaded = DxMIModel.load(tmp_path)
    assert torch.equal(loaded.energy_net.fourier.B, model.energy_net.fourier.B)
    np.testing.assert_array_equal(loaded.energy(x[:20]), model.energy(x[:20]))


def test_gaussian_base_is_the_fitted_gaussians_energy_and_is_saved(tmp_path, tiny_overrides):
    from sklearn.covariance import LedoitWolf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)) @ np.array([[2.0, 0, 0], [1.0, 0.5, 0], [0, 0, 0.2]]) + 3.0
    net = EnergyMLP(3, hidden=8, layers=1, base_weight=0.5)
    assert torch.equal(net.base(torch.ones(2, 3)), torch.zeros(2))  # zero until fitted
    net.fit_base(torch.from_numpy(x).float())
    fit = LedoitWolf().fit(x)
    xt = torch.from_numpy(x[:10]).float()
    want = 0.25 * fit.mahalanobis(x[:10])  # weight / 2 * squared Mahalanobis distance
    np.testing.assert_allclose(net.base(xt).detach().numpy(), want, rtol=1e-4)
    with torch.no_grad():  # the MLP's part is added on top
        np.testing.assert_allclose(net(xt), net.net(xt)[:, 0] + net.base(xt), rtol=1e-6)

    # through a run: the weight is gaussian_base x tau1 / D, the fitted base comes back on load
    sets = ["dxmi.iterations=3", "teacher.iterations=10", "dxmi.energy.gaussian_base=2"]
    config = load_config(None, tiny_overrides + sets)
    model, _ = fit_points(config, x[:, :2])
    base = model.energy_net.base
    assert base.weight == 2 * config.dxmi.tau1 / 2
    assert base.precision.abs().sum() > 0  # fitted on the standardised rows
    model.save(tmp_path)
    loaded = DxMIModel.load(tmp_path)
    assert torch.equal(loaded.energy_net.base.precision, base.precision)
    np.testing.assert_array_equal(loaded.energy(x[:20, :2]), model.energy(x[:20, :2]))
