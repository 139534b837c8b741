"""Test AUROC of DxMIDetector's energy along training, on one ODDS set (a probe, not a table).

The detector's score is the energy of a game between an EBM and a sampler: this prints where
along the game the energy ranks the test rows well, for one split and fit seed, one JSON line:

    python benchmarks/odds_trajectory.py --set shuttle --seed 0 --every 100
    python benchmarks/odds_trajectory.py --set shuttle --seed 0 --param teacher_iterations=0 \
        --param replay_size=10000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
from anomaly import ODDS_SETS, odds_task  # noqa: E402

from dxmi.detect.points import DxMIDetector  # noqa: E402
from dxmi.runs.points import point_trainer  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="satellite", choices=ODDS_SETS)
    p.add_argument("--seed", type=int, default=0, help="the split's and the fit's")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a DxMIDetector parameter (repeatable)",
    )
    p.add_argument("--every", type=int, default=100, help="iterations between scores")
    p.add_argument("--mlbench", default=None, help="folder of mlbench's R files")
    args = p.parse_args()
    torch.set_num_threads(1)
    params = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.param)}
    config = DxMIDetector(random_state=args.seed, device="cpu", **params).to_config()
    train, test, labels = odds_task(args.set, args.seed, args.mlbench)

    start = time.time()
    trainer, scaler, x = point_trainer(config, train)
    x_test = torch.from_numpy(scaler.transform(test)).to(x.device)
    trajectory = []
    for it in range(config.dxmi.iterations + 1):
        if it % args.every == 0 or it == config.dxmi.iterations:
            with torch.no_grad():
                energy = trainer.scoring_energy(x_test).numpy()
            trajectory.append(
                {
                    "iteration": it,
                    "auroc": 100 * roc_auc_score(labels, energy),
                    "energy_abs_max": float(np.abs(energy).max()),
                }
            )
        if it < config.dxmi.iterations:
            trainer.iteration(x)
    print(
        json.dumps(
            {
                "set": args.set,
                "seed": args.seed,
                "params": params,
                "seconds": round(time.time() - start, 1),
                "trajectory": trajectory,
            }
        )
    )


if __name__ == "__main__":
    main()
