"""Does the image detector overfit its 400 training digits? A shift-augmentation probe.

One-class MNIST 14x14 as in `benchmarks/anomaly.py --parts mnist14` (the same split per seed),
`ImageDxMIDetector` at its defaults, with VARIANT:
- `default`: unchanged (the benchmark's own fit for that seed);
- `shift`: every iteration the positives (training digits) are shifted by a random whole
  pixel in each direction (-1, 0 or +1 per image, background filled in), so the energy sees
  each digit at nine positions. The sampler is trained on that energy, so it learns shifts too.
Records per digit: AUROC, and the energy of the training digits, the held-out normal digits
and the anomalies (mean, and the held-out normals' mean in units of the training std: an
overfit energy puts held-out normals far above the training ones).

    python benchmarks/results/anomaly-mnist14-detector-probes/augment_probe.py SEED VARIANT DIGITS
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, "src")
sys.path.insert(0, "benchmarks")
from anomaly import mnist_task  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from dxmi.image_detector import ImageDxMIDetector  # noqa: E402
from dxmi.irl.trainer import DxMITrainer  # noqa: E402

HERE = Path(__file__).parent


def shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Each image moved by (dy, dx) in {-1, 0, 1}^2, the border filled with -1 (background)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1), value=-1.0)
    dy, dx = torch.randint(0, 3, (2, n), generator=g)
    out = torch.empty_like(x)
    for i in range(3):
        for j in range(3):
            m = (dy == i) & (dx == j)
            out[m] = padded[m, :, i : i + h, j : j + w]
    return out


def patch_shift(seed: int) -> None:
    plain = DxMITrainer.iteration

    def iteration(self, data):
        g = torch.Generator().manual_seed(seed * 100_003 + self.iteration_count)
        return plain(self, shift(data.cpu(), g).to(data.device))

    DxMITrainer.iteration = iteration


def main() -> None:
    torch.set_num_threads(1)
    seed, variant, *digits = sys.argv[1:]
    seed = int(seed)
    if variant == "shift":
        patch_shift(seed)
    elif variant != "default":
        raise SystemExit(f"unknown variant {variant!r}: default or shift")
    for digit in map(int, digits):
        train, test, labels = mnist_task(digit, seed, pool=2)
        train, test = train.reshape(-1, 14, 14), test.reshape(-1, 14, 14)
        t0 = time.perf_counter()
        det = ImageDxMIDetector(
            random_state=seed, device="cpu", energy_channels=(32, 64), iterations=400
        ).fit(train)
        e_train, e_test = det.decision_function(train), det.decision_function(test)
        normal, anomaly = e_test[labels == 0], e_test[labels == 1]
        record = {
            "seed": seed,
            "variant": variant,
            "normal": digit,
            "auroc": roc_auc_score(labels, e_test),
            "e_train": float(e_train.mean()),
            "e_heldout_normal": float(normal.mean()),
            "e_anomaly": float(anomaly.mean()),
            "heldout_gap_in_train_std": float((normal.mean() - e_train.mean()) / e_train.std()),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(json.dumps(record), flush=True)
        with open(HERE / "augment.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
