"""Networks: MLPs for points, the UNet epsilon network and the conv energy for images."""

from dxmi.networks.conv_energy import ConvEnergy
from dxmi.networks.mlp import EnergyMLP, EpsilonMLP, SinusoidalEmbedding

__all__ = ["ConvEnergy", "EnergyMLP", "EpsilonMLP", "SinusoidalEmbedding"]
