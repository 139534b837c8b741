"""The trained point artifact: a few-step sampler plus its energy, in data units, saved and
loaded (`DxMIModel`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dxmi.checkpoint import CheckpointError, load_checkpoint, load_module_state, save_checkpoint
from dxmi.config import Config, ConfigError, from_dict, to_dict
from dxmi.data import DataError, Standardizer, check_points
from dxmi.diffusion import GaussianPolicy, rollout
from dxmi.models.factories import build_energy, build_eps_model, build_policy

MODEL_STEM = "model"


@dataclass
class DxMIModel:
    """A trained DxMI sampler and energy. Inputs and outputs are in data units."""

    config: Config
    policy: GaussianPolicy
    energy_net: nn.Module
    standardizer: Standardizer

    @property
    def dim(self) -> int:
        return len(self.standardizer.mean)

    @property
    def device(self) -> torch.device:
        return next(self.energy_net.parameters()).device

    @torch.no_grad()
    def chain(self, n: int, seed: int = 0) -> np.ndarray:
        """Every state of n chains, (T + 1, n, D) in data units: [0] noise, [T] the samples."""
        gen = torch.Generator(self.device).manual_seed(seed)
        return self.standardizer.inverse(self._chain(n, gen).cpu().numpy())

    def _chain(self, n: int, gen: torch.Generator) -> torch.Tensor:
        x0 = torch.randn((n, self.dim), generator=gen, device=self.device)
        return rollout(self.policy.eval(), x0, gen)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, batch_size: int = 8192) -> np.ndarray:
        """n samples (n, D); the same seed and batch size give the same samples. One generator
        serves every batch, so draws with different seeds share no rows."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        gen = torch.Generator(self.device).manual_seed(seed)
        parts = [
            self.standardizer.inverse(self._chain(min(batch_size, n - i), gen)[-1].cpu().numpy())
            for i in range(0, n, batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    @torch.no_grad()
    def energy(
        self, x: np.ndarray, batch_size: int = 65536, source: str = "energy input"
    ) -> np.ndarray:
        """E(x) for points (N, D) in data units; lower energy means more likely.

        `source` names the input in errors (e.g. the file the points came from).
        """
        x = check_points(x, source, min_rows=1)
        if x.shape[1] != self.dim:
            raise DataError(f"{source}: {x.shape[1]} features, the model expects {self.dim}")
        z = torch.from_numpy(self.standardizer.transform(x)).to(self.device)
        self.energy_net.eval()
        return (
            torch.cat(
                [self.energy_net(z[i : i + batch_size]) for i in range(0, len(z), batch_size)]
            )
            .cpu()
            .numpy()
        )

    def save(self, run_dir: str | Path) -> None:
        """Write model.safetensors / model.json into `run_dir` (atomically)."""
        state = {"policy": self.policy.state_dict(), "energy": self.energy_net.state_dict()}
        meta = {"config": to_dict(self.config), "standardizer": self.standardizer.to_dict()}
        save_checkpoint(Path(run_dir) / MODEL_STEM, state, meta)

    @classmethod
    def load(cls, run_dir: str | Path, device: str | torch.device = "cpu") -> DxMIModel:
        """Load the model a finished run exported (``dxmi train`` writes it at the end)."""
        stem = Path(run_dir) / MODEL_STEM
        if not stem.with_suffix(".json").is_file():
            raise CheckpointError(
                f"{run_dir}: no exported model (model.json) - is this a finished dxmi run?"
            )
        state, meta = load_checkpoint(stem)
        try:
            record = dict(meta["config"])
            sampler = record.get("sampler")
            if isinstance(sampler, dict) and "fourier_features" not in sampler:
                # written before the point sampler had Fourier features: it had none
                record["sampler"] = {**sampler, "fourier_features": 0}
            config = from_dict(Config, record, f"{stem}.json:config")
            standardizer = Standardizer.from_dict(meta["standardizer"])
        except (KeyError, TypeError, ValueError, ConfigError) as err:  # DataError is a ValueError
            raise CheckpointError(f"{stem}.json: unusable model record ({err})") from None
        dim = len(standardizer.mean)
        policy = build_policy(config, build_eps_model(config, dim))
        energy = build_energy(config, dim)
        load_module_state(policy, state["policy"], f"{stem}.safetensors")
        load_module_state(energy, state["energy"], f"{stem}.safetensors")
        return cls(config, policy.to(device).eval(), energy.to(device).eval(), standardizer)
