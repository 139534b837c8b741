"""Training and sampling speed of an image config, per precision: how many teacher and DxMI
iterations a time budget buys (the GPU image benchmark is sized from these numbers).

    python benchmarks/speed_images.py --config configs/mnist-gpu.yaml --out OUT

Random images of the configured data's shape and an untrained UNet of its size: speed does
not depend on the weights. Writes OUT/speed.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment  # noqa: E402


def _timed(step, n: int, warmup: int, sync) -> float:
    """Seconds per call of `step`, after `warmup` untimed calls."""
    for _ in range(warmup):
        step()
    sync()
    began = time.perf_counter()
    for _ in range(n):
        step()
    sync()
    return (time.perf_counter() - began) / n


def measure(config, precision: str, iterations: int, warmup: int) -> dict:
    import dataclasses

    import torch
    from accelerate import Accelerator

    from dxmi.diffusion.ddpm import DDPMTrainer
    from dxmi.irl.trainer import DxMITrainer
    from dxmi.models.factories import build_conv_energy, build_image_policy, build_schedule
    from dxmi.networks.unet import UNetEpsilon, build_unet
    from dxmi.runs.images import load_image_run_data

    c, size, _ = load_image_run_data(config).shape  # the shape only: the pixels are random
    from accelerate.state import AcceleratorState

    torch.manual_seed(0)
    AcceleratorState._reset_state(reset_partial_state=True)  # one precision after another
    acc = Accelerator(cpu=config.run.cpu, mixed_precision=precision)
    sync = torch.cuda.synchronize if acc.device.type == "cuda" else (lambda: None)
    u, t = config.unet, config.teacher
    unet = build_unet(
        c, size, u.block_out_channels, u.layers_per_block, u.attention, u.norm_num_groups
    )
    schedule = build_schedule(t)
    data = torch.rand((4000, c, size, size), device=acc.device) * 2 - 1
    teacher = DDPMTrainer(
        UNetEpsilon(unet),
        schedule.alphas_cumprod(),
        acc,
        iterations=iterations + warmup,
        batch_size=t.batch_size,
        lr=t.lr,
        ema_decay=t.ema_decay,
        seed=0,
    )

    def teacher_step() -> None:
        teacher.iteration(data)

    teacher_s = _timed(teacher_step, iterations, warmup, sync)

    out = {"precision": precision, "teacher_s_per_it": teacher_s}
    for steps in (4, 10):
        cfg = dataclasses.replace(config, dxmi=dataclasses.replace(config.dxmi, steps=steps))
        policy = build_image_policy(cfg, unet, schedule)
        trainer = DxMITrainer(policy, build_conv_energy(cfg, c), None, cfg.dxmi, acc, seed=0)
        out[f"dxmi_T{steps}_s_per_it"] = _timed(
            lambda tr=trainer: tr.iteration(data), max(iterations // 2, 1), warmup, sync
        )

        def sample_batch(policy=trainer.policy_m) -> None:
            with torch.no_grad(), acc.autocast():
                x = torch.randn((config.eval.batch_size, c, size, size), device=acc.device)
                for k in range(policy.steps):
                    x = policy.step(x, k, torch.randn_like(x))

        batch_s = _timed(sample_batch, 3, 1, sync)
        out[f"sample_T{steps}_s_per_1000"] = batch_s * 1000 / config.eval.batch_size
    # one network evaluation per step: the 1000-step teacher costs 1000 / 10 of T = 10
    out["sample_T1000_s_per_1000"] = out["sample_T10_s_per_1000"] * 100
    return out


def main() -> None:
    from dxmi.config import ImageConfig, load_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist-gpu.yaml")
    ap.add_argument("--out", default="benchmarks/results/speed-images")
    ap.add_argument("--precisions", nargs="+", default=["no", "bf16"])
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--set", action="append", default=[], help="config override (repeatable)")
    args = ap.parse_args()
    config = load_config(args.config, args.set, cls=ImageConfig)
    import torch

    torch.backends.cudnn.benchmark = True
    rows = [measure(config, p, args.iterations, args.warmup) for p in args.precisions]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment("auto", 1)
    (out / "speed.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=1))
    keys = [k for k in rows[0] if k != "precision"]
    print("| precision | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for r in rows:
        print(f"| {r['precision']} | " + " | ".join(f"{r[k]:.4f}" for k in keys) + " |")
    print(f"{env['command']}; {env['machine']}; {env['date']}")


if __name__ == "__main__":
    main()
