"""Do replayed past negatives make the image detector's energy a better one-class detector?

One-class MNIST 14x14 as in `benchmarks/anomaly.py --parts mnist14` (the same split per seed),
`ImageDxMIDetector` at its defaults plus a replay buffer (`dxmi.replay_size` past samples,
`dxmi.replay_fraction` of every EBM step's negatives drawn from them; `dxmi.irl.replay`). The
default fit reproduces the benchmark's AUROC exactly (augment_probe.py), so the benchmark's
own per-digit numbers are the comparison. Appends one JSON record per digit to replay.jsonl.

    python benchmarks/results/anomaly-mnist14-detector-probes/replay_probe.py \
        SEED SIZE FRACTION DIGITS...
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, "src")
sys.path.insert(0, "benchmarks")
from anomaly import mnist_task  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from dxmi.image_detector import ImageDxMIDetector  # noqa: E402

HERE = Path(__file__).parent


class ReplayDetector(ImageDxMIDetector):
    """The image detector with a replay buffer in its DxMI config (a probe, not an API)."""

    size = 0
    fraction = 0.5

    def to_config(self):
        config = super().to_config()
        config.dxmi.replay_size, config.dxmi.replay_fraction = self.size, self.fraction
        return config


def main() -> None:
    torch.set_num_threads(1)
    seed, size, fraction, *digits = sys.argv[1:]
    ReplayDetector.size, ReplayDetector.fraction = int(size), float(fraction)
    for digit in map(int, digits):
        train, test, labels = mnist_task(digit, int(seed), pool=2)
        t0 = time.perf_counter()
        det = ReplayDetector(
            random_state=int(seed), device="cpu", energy_channels=(32, 64), iterations=400
        ).fit(train.reshape(-1, 14, 14))
        scores = det.decision_function(test.reshape(-1, 14, 14))
        line = json.dumps(
            dict(
                seed=int(seed),
                replay_size=int(size),
                replay_fraction=float(fraction),
                normal=digit,
                auroc=roc_auc_score(labels, scores),
                seconds=round(time.perf_counter() - t0, 1),
            )
        )
        print(line, flush=True)
        with open(HERE / "replay.jsonl", "a") as f:
            print(line, file=f)


if __name__ == "__main__":
    main()
