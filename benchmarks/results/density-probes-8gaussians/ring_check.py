"""Can the energy MLP tell 8gaussians from the ring it lies on? A check outside the trainer.

Run from the repository root:

    python benchmarks/results/density-probes-8gaussians/ring_check.py GAMMA [FOURIER_SCALE]

Trains a fresh energy (128 x 3 SiLU MLP, as the density benchmark's) with DxMI's EBM loss for
3,000 Adam steps (lr 1e-3, batch 512): positives are 8gaussians points, negatives the same points
moved to a uniformly random angle at the same radius, so the two differ only in angle. With
FOURIER_SCALE the MLP first sees 64 random Fourier features of x of that frequency std. Prints
the last batch's mean E(data) and E(negatives), and the grid KL of exp(-E / 0.05) (against
ring negatives alone the energy learns no radial shape, so that KL is not a density result).
"""

from __future__ import annotations

import sys

import torch

sys.path.insert(0, "src")
from dxmi.config import load_config  # noqa: E402
from dxmi.data import Standardizer, sample_toy  # noqa: E402
from dxmi.evaluation import density_metrics  # noqa: E402
from dxmi.irl.losses import ebm_loss  # noqa: E402
from dxmi.networks import EnergyMLP  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    gamma = float(sys.argv[1])
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    config = load_config("configs/8gaussians.yaml", [])
    points = sample_toy("8gaussians", 20000, 0)
    std = Standardizer.fit(points, config.data.standardize)
    data = torch.from_numpy(std.transform(points)).float()
    gen = torch.Generator().manual_seed(0)
    radius = data.norm(dim=1, keepdim=True)
    angle = torch.rand(len(data), 1, generator=gen) * 2 * torch.pi
    ring = torch.cat([radius * angle.cos(), radius * angle.sin()], 1)
    torch.manual_seed(0)
    fourier = {"fourier_features": 64, "fourier_scale": scale} if scale else {}
    energy = EnergyMLP(2, hidden=128, layers=3, **fourier)
    opt = torch.optim.Adam(energy.parameters(), 1e-3)
    for _ in range(3000):
        pos = data[torch.randint(len(data), (512,), generator=gen)]
        neg = ring[torch.randint(len(ring), (512,), generator=gen)]
        e = energy(torch.cat([pos, neg]))
        loss = ebm_loss(e[:512], e[512:], gamma)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def energy_fn(x):
        with torch.no_grad():
            return energy(torch.from_numpy(std.transform(x)).float()).double().numpy()

    kl = density_metrics(energy_fn, "8gaussians", config.eval, 0.05)["ebm_kl"]
    e = e.detach()
    print(f"gamma {gamma} fourier scale {scale or 'off'}: E(data) {e[:512].mean():.4f}")
    print(f"E(ring) {e[512:].mean():.4f}, grid KL {kl:.3f}")


if __name__ == "__main__":
    main()
