"""The exported image sampler: a few-step policy on a diffusers UNet, saved as a diffusers
pipeline folder plus ``sampler.json`` (`ImageSampler.save` / `load`, `dxmi sample`)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dxmi.checkpoint import CheckpointError, sha256
from dxmi.diffusion import GaussianPolicy, rollout
from dxmi.diffusion.schedules import Schedule
from dxmi.networks.unet import UNetEpsilon, check_class_labels, load_unet_teacher


def sampling_precision(device: torch.device | str, precision: str):
    """The context in which evaluated samples are drawn (``eval.precision``): "bf16" runs the
    networks under bfloat16 autocast (their outputs are cast back to float32, see
    `UNetEpsilon`), "fp32" as trained."""
    return torch.autocast(
        torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16"
    )


@dataclass
class ImageSampler:
    """A few-step image sampler: the policy (UNet mean, learned sigmas) and the image shape."""

    policy: GaussianPolicy
    shape: tuple[int, int, int]
    schedule: Schedule

    @property
    def device(self) -> torch.device:
        return next(self.policy.parameters()).device

    @property
    def steps(self) -> int:
        return self.policy.steps

    @property
    def num_classes(self) -> int | None:
        """Classes of a class-conditional sampler; None for an unconditional one."""
        return getattr(self.policy.eps_model, "num_classes", None)

    def _labels(self, labels, n: int) -> torch.Tensor | None:
        """`labels` as n class labels on the device: one int for all, or a sequence of n."""
        y = check_class_labels(labels, self.num_classes, "sampler", n)
        return None if y is None else y.to(self.device)

    @torch.no_grad()
    def chain(self, n: int, seed: int = 0, labels=None) -> np.ndarray:
        """Every state of n chains, (T + 1, n, C, H, W): [0] noise, [T] the images."""
        gen = torch.Generator(self.device).manual_seed(seed)
        return self._chain(n, gen, self._labels(labels, n)).cpu().numpy()

    def _chain(self, n: int, gen: torch.Generator, y: torch.Tensor | None) -> torch.Tensor:
        x0 = torch.randn((n, *self.shape), generator=gen, device=self.device)
        return rollout(self.policy.eval(), x0, gen, y)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, batch_size: int = 500, labels=None) -> np.ndarray:
        """n images (n, C, H, W), clipped to [-1, 1]; the same seed and batch size give the same
        images. One generator serves every batch, so draws with different seeds share none.
        A class-conditional sampler needs `labels`: one class for all, or n of them."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        y = self._labels(labels, n)
        gen = torch.Generator(self.device).manual_seed(seed)
        parts = [
            self._chain(min(batch_size, n - i), gen, None if y is None else y[i : i + batch_size])[
                -1
            ]
            .cpu()
            .numpy()
            for i in range(0, n, batch_size)
        ]
        return np.clip(np.concatenate(parts), -1, 1)

    def save(self, folder: str | Path) -> None:
        """`folder`/unet (diffusers layout) and `folder`/sampler.json, replaced atomically; the
        record holds the SHA-256 of the UNet's weights, checked by `load`."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.to_pipeline().save_pretrained(tmp)  # unet/, scheduler/, model_index.json
        record = {
            "format": SAMPLER_FORMAT,
            "shape": list(self.shape),
            "timesteps": [int(t) for t in self.policy.timesteps.tolist()],
            "log_sigma": self.policy.log_sigma.detach().cpu().tolist(),
            "learned_sigmas": int(self.policy.log_sigma_learned.numel()),
            "clip_x0": self.policy.clip_x0,
            "eta": self.policy.eta,
            "schedule": self.schedule.to_dict(),
            "unet_sha256": sha256(tmp / "unet" / UNET_WEIGHTS),
        }
        (tmp / "sampler.json").write_text(json.dumps(record, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.replace(folder)

    def to_pipeline(self):
        """This sampler as a diffusers `DxMIPipeline` (`dxmi.models.pipeline`): the same images
        for the same generator seed."""
        from dxmi.models.pipeline import DxMIPipeline, DxMIScheduler

        p = self.policy
        scheduler = DxMIScheduler(
            **self.schedule.to_dict(),
            timesteps=[int(t) for t in p.timesteps.tolist()],
            sigmas=p.log_sigma.detach().exp().cpu().tolist(),
            clip_x0=float(p.clip_x0),
            eta=float(p.eta),
        )
        return DxMIPipeline(unet=p.eps_model.unet, scheduler=scheduler)

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> ImageSampler:
        """A sampler that `save` (or `dxmi finetune`) wrote; a one-line `CheckpointError` for
        anything else (a record that disagrees with itself or with its UNet included)."""
        folder = Path(folder)
        meta_path = folder / "sampler.json"
        if not meta_path.is_file():
            raise CheckpointError(f"{folder}: no sampler.json - not an exported dxmi sampler")
        try:
            meta = json.loads(meta_path.read_text())
            schedule = Schedule(**meta["schedule"])
            timesteps, log_sigma = list(meta["timesteps"]), list(meta["log_sigma"])
            n_learned, shape = meta["learned_sigmas"], tuple(meta["shape"])
            clip_x0 = float(meta["clip_x0"])
            eta = float(meta.get("eta", 1.0))  # samplers exported before eta existed: posterior
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{meta_path}: unusable sampler record ({err})") from None
        _check_sampler_record(meta_path, meta, schedule, timesteps, log_sigma, n_learned, shape)
        if not 0.0 <= eta <= 1.0:
            raise CheckpointError(f"{meta_path}: eta must be in [0, 1], got {eta}")
        if not (np.isfinite(clip_x0) and clip_x0 >= 0):
            raise CheckpointError(f"{meta_path}: clip_x0 must be >= 0, got {clip_x0}")
        weights = folder / "unet" / UNET_WEIGHTS
        if "unet_sha256" in meta and weights.is_file() and sha256(weights) != meta["unet_sha256"]:
            raise CheckpointError(f"{weights}: corrupt or does not match sampler.json (hash)")
        unet, _ = load_unet_teacher(folder / "unet")
        size = unet.config.sample_size
        size = size if isinstance(size, int) else size[0]
        if shape != (unet.config.in_channels, size, size):
            raise CheckpointError(
                f"{meta_path}: shape {list(shape)}, but its UNet makes "
                f"{[unet.config.in_channels, size, size]}"
            )
        policy = GaussianPolicy(
            UNetEpsilon(unet),
            schedule.alphas_cumprod(),
            timesteps,
            learn_last_sigma=n_learned == len(timesteps),
            clip_x0=clip_x0,
            eta=eta,
        )
        with torch.no_grad():
            values = torch.tensor(log_sigma)
            policy.log_sigma_learned.copy_(values[:n_learned])
            policy.log_sigma_last.copy_(values[n_learned:])
        return cls(policy.to(device).eval(), shape, schedule)  # type: ignore[arg-type]


@dataclass
class SolverSampler:
    """A training-free sampler of a teacher (diffusers' DDIM, DPM-Solver++, UniPC or the
    ancestral DDPM step, `dxmi.diffusion.solvers`) with `ImageSampler`'s `sample`, so that a
    table scores it exactly as it scores DxMI: same noise seeds, batches and classes."""

    eps_model: UNetEpsilon
    shape: tuple[int, int, int]
    schedule: Schedule
    solver: str
    steps: int
    clip_x0: float = 1.0
    spacing: str = "linear"

    @property
    def device(self) -> torch.device:
        return next(self.eps_model.parameters()).device

    @property
    def num_classes(self) -> int | None:
        return self.eps_model.num_classes

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, batch_size: int = 500, labels=None) -> np.ndarray:
        """n images in [-1, 1] from noise seeded `seed` afresh at every call."""
        from dxmi.diffusion.solvers import solver_sample

        y = check_class_labels(labels, self.num_classes, f"{self.solver} sampler", n)
        gen = torch.Generator(self.device).manual_seed(seed)
        parts = []
        for i in range(0, n, batch_size):
            m = min(batch_size, n - i)
            noise = torch.randn((m, *self.shape), generator=gen, device=self.device)
            x = solver_sample(
                self.eps_model.eval(),
                noise,
                self.solver,
                self.steps,
                clip_x0=self.clip_x0,
                spacing=self.spacing,  # type: ignore[arg-type]
                generator=gen,
                labels=None if y is None else y[i : i + m].to(self.device),
                **self.schedule.to_dict(),
            )
            parts.append(x.clamp(-1, 1).cpu().numpy())
        return np.concatenate(parts)


SAMPLER_FORMAT = 2  # 2 added unet_sha256; format 1 records load without the hash check
UNET_WEIGHTS = "diffusion_pytorch_model.safetensors"


def _check_sampler_record(
    path: Path, meta: dict, schedule: Schedule, timesteps, log_sigma, n_learned, shape
) -> None:
    """Types, ranges, order and agreement of a sampler.json: an edited record is refused, not
    sampled (timesteps run from noise to data: strictly decreasing, in [0, num_train_timesteps))."""

    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path}: {why}")

    if meta.get("format") not in (1, SAMPLER_FORMAT):
        raise bad(f"unsupported sampler format {meta.get('format')!r}")
    if meta.get("format") == SAMPLER_FORMAT and not isinstance(meta.get("unet_sha256"), str):
        raise bad("no unet_sha256")
    n = schedule.num_train_timesteps
    if not (isinstance(n, int) and n > 0 and 0 < schedule.beta_start <= schedule.beta_end < 1):
        raise bad(f"unusable schedule {schedule.to_dict()}")
    if not timesteps or not all(isinstance(t, int) and not isinstance(t, bool) for t in timesteps):
        raise bad(f"timesteps must be a non-empty list of integers, got {timesteps}")
    if not all(0 <= t < n for t in timesteps):
        raise bad(f"timesteps must lie in [0, {n}), got {timesteps}")
    if any(a <= b for a, b in zip(timesteps, timesteps[1:])):
        raise bad(f"timesteps must strictly decrease (noise to data), got {timesteps}")
    if len(log_sigma) != len(timesteps):
        raise bad(f"{len(timesteps)} timesteps but {len(log_sigma)} sigmas")
    if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in log_sigma):
        raise bad(f"log_sigma must be finite numbers, got {log_sigma}")
    if not (isinstance(n_learned, int) and n_learned in (len(timesteps) - 1, len(timesteps))):
        raise bad(f"learned_sigmas must be {len(timesteps) - 1} or {len(timesteps)}")
    if not (len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)):
        raise bad(f"shape must be [channels, height, width], got {list(shape)}")
