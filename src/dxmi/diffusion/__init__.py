"""Diffusion: schedules, the T-step Gaussian policy, sampling, DDPM training, training-free solvers.

Index convention: chain step t = 0 is noise, t = T the sample.
"""

from dxmi.diffusion.ddpm import ddpm_loss, train_ddpm
from dxmi.diffusion.policy import GaussianPolicy
from dxmi.diffusion.sampling import rollout, sample
from dxmi.diffusion.schedules import linear_alphas_cumprod, select_timesteps, step_coefficients
from dxmi.diffusion.solvers import SOLVERS, make_scheduler, solver_sample

__all__ = [
    "SOLVERS",
    "GaussianPolicy",
    "ddpm_loss",
    "linear_alphas_cumprod",
    "make_scheduler",
    "rollout",
    "sample",
    "select_timesteps",
    "solver_sample",
    "step_coefficients",
    "train_ddpm",
]
