"""Probe: how much of a DxMI sampler's FID gain is its learned sigmas, how much its UNet?

Scores four samplers per run: the tuned UNet with its learned sigmas (the run's sampler), the
tuned UNet with the start's sigmas, the teacher's UNet with the learned sigmas, and the start
(teacher's UNet, start's sigmas), each on the same noise, against the table's reference.

    python benchmarks/results/cifar10-cpu/sigma_swap.py --table benchmarks/results/cifar10-cpu \
        --steps 10 --seeds 0 1 2 [--n 1000]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ for images._scorer

from images import _scorer  # noqa: E402

from dxmi.config import ImageConfig, load_config  # noqa: E402
from dxmi.models.images import ImageSampler  # noqa: E402
from dxmi.networks.unet import load_unet_teacher  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--sampler", default="sampler-best", help="sampler-best or sampler")
    args = ap.parse_args()
    torch.set_num_threads(1)
    # every seed's run scores against the same reference with the same teacher
    config = load_config(
        args.table / f"dxmi-T{args.steps}-s{args.seeds[0]}" / "config.yaml",
        [f"eval.feature_cache={args.table / 'features'}"],
        cls=ImageConfig,
    )
    _, scorer = _scorer(config)
    teacher_unet, _ = load_unet_teacher(args.table / "teacher" / "teacher")
    rows = []
    for seed in args.seeds:
        tuned = ImageSampler.load(args.table / f"dxmi-T{args.steps}-s{seed}" / args.sampler)
        start = copy.deepcopy(tuned)
        start.policy.eps_model.unet.load_state_dict(teacher_unet.state_dict())
        init_sigma = type(tuned.policy)(
            start.policy.eps_model,
            tuned.schedule.alphas_cumprod(),
            tuned.policy.timesteps.tolist(),
            learn_last_sigma=tuned.policy.log_sigma_learned.numel() == tuned.steps,
            clip_x0=tuned.policy.clip_x0,
            eta=tuned.policy.eta,
        ).log_sigma.detach()
        learned_sigma = tuned.policy.log_sigma.detach().clone()
        variants = {
            "tuned UNet, learned sigmas": (tuned, learned_sigma),
            "tuned UNet, start sigmas": (tuned, init_sigma),
            "teacher UNet, learned sigmas": (start, learned_sigma),
            "teacher UNet, start sigmas": (start, init_sigma),
        }
        for name, (sampler, log_sigma) in variants.items():
            n_learned = sampler.policy.log_sigma_learned.numel()
            with torch.no_grad():
                sampler.policy.log_sigma_learned.copy_(log_sigma[:n_learned])
            images = sampler.sample(args.n, seed=1234)
            row = {"seed": seed, "variant": name, "fid": scorer.fid(images), "n": args.n}
            row["sigmas"] = [round(v, 4) for v in log_sigma.exp().tolist()]
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = args.table / f"sigma-swap-T{args.steps}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
