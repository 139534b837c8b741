"""Networks. They know no noise schedule and no training algorithm."""

from dxmi.networks.mlp import EnergyMLP, EpsilonMLP, SinusoidalEmbedding

__all__ = ["EnergyMLP", "EpsilonMLP", "SinusoidalEmbedding"]
