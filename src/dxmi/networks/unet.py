"""diffusers `UNet2DModel` as dxmi's image epsilon network, and loading a teacher from disk.

A teacher is any local directory that diffusers can read as a `UNet2DModel`: the ``teacher/``
folder that ``dxmi pretrain`` writes, a ``save_pretrained`` UNet, or a `DDPMPipeline` folder
(e.g. a downloaded google/ddpm-cifar10-32) whose UNet sits in ``unet/``. The noise schedule is
read from the folder's ``scheduler_config.json`` (or ``scheduler/``) when there is one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from diffusers import UNet2DModel
from torch import nn

from dxmi.checkpoint import CheckpointError
from dxmi.data.images import ClassLabelError
from dxmi.diffusion.schedules import Schedule


def unet_classes(unet: UNet2DModel) -> int | None:
    """How many classes a class-conditional `UNet2DModel` knows (its ``num_class_embeds``);
    None for an unconditional one. A UNet with another ``class_embed_type`` is refused."""
    cfg = unet.config
    if getattr(cfg, "class_embed_type", None) is not None:
        raise ClassLabelError(
            f"UNet2DModel class_embed_type {cfg.class_embed_type!r}: dxmi supports class "
            "conditioning through num_class_embeds (an embedding table) only"
        )
    n = getattr(cfg, "num_class_embeds", None)
    return int(n) if n else None


def check_class_labels(
    labels, num_classes: int | None, where: str, n: int | None = None
) -> torch.Tensor | None:
    """Labels (N,) as a long tensor, checked against a model with `num_classes` (None:
    unconditional); a one-line `ClassLabelError` naming `where` otherwise. With `n` (the number
    of images asked for), one int stands for n equal labels and any other count is refused."""
    if labels is not None and n is not None and np.ndim(labels) == 0:
        labels = np.full(n, int(labels))
    if labels is None:
        if num_classes is not None:
            raise ClassLabelError(
                f"{where}: the model is class-conditional ({num_classes} classes): give class "
                "labels (dxmi sample --class K; the pipeline's class_labels=)"
            )
        return None
    if num_classes is None:
        raise ClassLabelError(f"{where}: the model is unconditional; it takes no class labels")
    y = torch.as_tensor(labels)
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.dim() != 1:
        raise ClassLabelError(f"{where}: class labels must be integers of shape (N,)")
    if n is not None and len(y) != n:
        raise ClassLabelError(f"{where}: {len(y)} class labels for {n} images")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise ClassLabelError(
            f"{where}: class label {bad} out of range for {num_classes} classes [0, "
            f"{num_classes - 1}]"
        )
    return y.long()


class UNetEpsilon(nn.Module):
    """Wraps a `UNet2DModel` as eps(x, t[, labels]): (N, C, H, W), (N,) -> (N, C, H, W).

    A class-conditional UNet (``num_class_embeds``) takes labels (N,); the callers check them
    once, at the entry points (`check_class_labels`), not at every step.
    """

    def __init__(self, unet: UNet2DModel) -> None:
        super().__init__()
        self.unet = unet
        self.num_classes = unet_classes(unet)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        # float32 out also under bf16 autocast (eval.precision), so that the schedulers' and the
        # policy's arithmetic on x stays in float32
        return self.unet(x, t, class_labels=labels).sample.float()


def build_unet(
    channels: int,
    size: int,
    block_out_channels: list[int],
    layers_per_block: int,
    attention: bool,
    norm_num_groups: int,
    num_class_embeds: int = 0,
) -> UNet2DModel:
    """A `UNet2DModel` for (channels, size, size) images; attention at the lowest resolution;
    `num_class_embeds` > 0 adds a class embedding (added to the time embedding)."""
    n = len(block_out_channels)
    if size % 2 ** (n - 1):
        raise ValueError(
            f"image size {size} must be divisible by 2^{n - 1} for {n} UNet levels "
            f"(unet.block_out_channels has {n} entries)"
        )
    down = ["DownBlock2D"] * n
    up = ["UpBlock2D"] * n
    if attention:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(
        sample_size=size,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=tuple(block_out_channels),
        layers_per_block=layers_per_block,
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        norm_num_groups=norm_num_groups,
        num_class_embeds=num_class_embeds or None,
    )


def _read_schedule(folder: Path) -> Schedule:
    for candidate in (
        folder / "scheduler_config.json",
        folder / "scheduler" / "scheduler_config.json",
        folder.parent / "scheduler" / "scheduler_config.json",
    ):
        if candidate.is_file():
            try:
                cfg = json.loads(candidate.read_text())
            except json.JSONDecodeError as err:
                raise CheckpointError(f"{candidate}: not valid JSON ({err})") from None
            if cfg.get("prediction_type", "epsilon") != "epsilon":
                raise CheckpointError(
                    f"{candidate}: prediction_type {cfg['prediction_type']!r}; dxmi needs an "
                    "epsilon-prediction teacher"
                )
            return Schedule(
                int(cfg.get("num_train_timesteps", 1000)),
                float(cfg.get("beta_start", 1e-4)),
                float(cfg.get("beta_end", 0.02)),
                str(cfg.get("beta_schedule", "linear")),
            )
    return Schedule()


def load_unet_teacher(path: str | Path) -> tuple[UNet2DModel, Schedule]:
    """A `UNet2DModel` and its schedule from a local folder; a clear error if it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: teacher folder not found")
    folder = path / "unet" if (path / "unet" / "config.json").is_file() else path
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise CheckpointError(
            f"{path}: not a diffusers UNet2DModel folder (no config.json here or in unet/)"
        )
    try:
        cls_name = json.loads(config_file.read_text()).get("_class_name")
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{config_file}: not valid JSON ({err})") from None
    if cls_name != "UNet2DModel":
        raise CheckpointError(f"{config_file}: a {cls_name}, dxmi needs a UNet2DModel teacher")
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.safetensors.index.json")):
        found = sorted(p.name for p in folder.glob("*.bin")) or ["no weights"]
        raise CheckpointError(
            f"{folder}: no safetensors weights ({', '.join(found)}); dxmi never unpickles a "
            "file: convert them once with UNet2DModel.from_pretrained(...).save_pretrained(...)"
        )
    try:
        unet = UNet2DModel.from_pretrained(folder, use_safetensors=True)
    except (OSError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{folder}: cannot load the UNet2DModel ({first})") from None
    return unet, _read_schedule(path if folder == path else path)
