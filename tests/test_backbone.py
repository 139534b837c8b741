"""The paper's CIFAR-10 recipe runs as shipped: the google/ddpm-cifar10-32 architecture (its
published config.json, random weights here: nothing is downloaded) fine-tuned with
configs/cifar10-ddpm.yaml for two iterations on the CPU, through the command a GPU user runs."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from dxmi.cli import main
from dxmi.models.images import ImageSampler

# google/ddpm-cifar10-32: unet config.json and scheduler_config.json as published
DDPM_CIFAR10_UNET = {
    "_class_name": "UNet2DModel",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 256, 256],
    "center_input_sample": False,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
    "downsample_padding": 0,
    "flip_sin_to_cos": False,
    "freq_shift": 1,
    "in_channels": 3,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-06,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 32,
    "time_embedding_type": "positional",
    "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
}
DDPM_CIFAR10_SCHEDULER = {
    "_class_name": "DDPMScheduler",
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "clip_sample": True,
    "num_train_timesteps": 1000,
    "variance_type": "fixed_small",
}


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    """A teacher folder laid out like the downloaded checkpoint, with random weights."""
    import torch
    from diffusers import UNet2DModel

    folder = tmp_path_factory.mktemp("ddpm-cifar10-32")
    torch.manual_seed(0)
    unet = UNet2DModel.from_config(DDPM_CIFAR10_UNET)
    unet.save_pretrained(folder)
    (folder / "scheduler_config.json").write_text(json.dumps(DDPM_CIFAR10_SCHEDULER))
    return folder, sum(p.numel() for p in unet.parameters())


def _cifar_like_zip(path, n=8):
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
            zf.writestr(f"{('cat', 'dog')[i % 2]}/{i:04d}.jpg", buf.getvalue())
    return path


def test_the_cifar10_recipe_finetunes_the_ddpm_backbone(backbone, tmp_path):
    folder, parameters = backbone
    assert parameters == 35_746_307  # the 35.7M-parameter DDPM CIFAR-10 UNet
    data = _cifar_like_zip(tmp_path / "train.zip")
    sets = [
        "data.name=folder",
        f"data.path={data}",
        "data.holdout_fraction=0.5",
        # the recipe as shipped, cut to two iterations of two chains and a few samples
        "dxmi.iterations=2",
        "dxmi.batch_size=2",
        "eval.n_samples=4",  # k-NN precision / recall need k + 1 = 4
        "eval.batch_size=4",
        "eval.feature_net=cifar10",  # 128-d: FID on 3,072 pixels costs 13 s a score
        "eval.baselines=[]",
        "eval.teacher_steps=0",
        "run.progress=false",
    ]
    args = ["finetune", "--config", "configs/cifar10-ddpm.yaml", "--teacher", str(folder)]
    out = tmp_path / "ft"
    assert main([*args, "--out", str(out), *[a for s in sets for a in ("--set", s)]]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["iterations"] == 2 and m["shape"] == [3, 32, 32]
    sampler = ImageSampler.load(out / "sampler")
    assert sampler.steps == 10 and sampler.shape == (3, 32, 32)
    # the reference's quadratic (FastDPM "VAR") timesteps, from noise to data
    timesteps = sampler.policy.timesteps.tolist()
    assert timesteps[0] == 999 and timesteps == sorted(timesteps, reverse=True)
    assert np.isfinite(sampler.sample(2, seed=0)).all()
