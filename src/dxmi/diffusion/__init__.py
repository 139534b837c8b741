"""Diffusion: schedules, the T-step Gaussian policy, sampling, the DDPM trainer, training-free
solvers.

Index convention: chain step t = 0 is noise, t = T the sample.
"""

from dxmi.diffusion.ddpm import DDPMTrainer, ddpm_loss
from dxmi.diffusion.policy import GaussianPolicy
from dxmi.diffusion.sampling import rollout, sample
from dxmi.diffusion.schedules import Schedule, select_timesteps, step_coefficients
from dxmi.diffusion.solvers import SOLVERS, make_scheduler, solver_sample

__all__ = [
    "DDPMTrainer",
    "SOLVERS",
    "GaussianPolicy",
    "Schedule",
    "ddpm_loss",
    "make_scheduler",
    "rollout",
    "sample",
    "select_timesteps",
    "solver_sample",
    "step_coefficients",
]
