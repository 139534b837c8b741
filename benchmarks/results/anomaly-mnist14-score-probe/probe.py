"""Would another score from the same DxMI energy detect better? One-class MNIST 14x14 (a question).

Run from the repository root:

    python benchmarks/results/anomaly-mnist14-score-probe/probe.py SEED DIGIT ...

For each digit: the benchmark's split for SEED and its `ImageDxMIDetector` fit (the defaults,
`random_state=SEED`), then the AUROC of scores computed from that one fitted energy E:
- energy: E(x), the detector's `decision_function` (the benchmark's score);
- grad: the input-gradient norm |dE/dx| (a normal digit should sit near a minimum);
- energy+grad: the sum of the two, each standardised on the training digits (no test data);
- smoothed: the mean of E(x + 0.1 z) over 8 draws of Gaussian noise z (pixels in [-1, 1]).
Appends one JSON record per digit to probe.jsonl in this folder.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

sys.path.insert(0, "src")
sys.path.insert(0, "benchmarks")
from anomaly import mnist_task  # noqa: E402

from dxmi.image_detector import ImageDxMIDetector  # noqa: E402

HERE = Path(__file__).parent


def gradient_norm(det: ImageDxMIDetector, images: np.ndarray) -> np.ndarray:
    """|dE/dx| per image, x in the detector's [-1, 1] pixel scale."""
    x = torch.from_numpy(det._validate(images, reset=False)).requires_grad_(True)
    (grad,) = torch.autograd.grad(det.energy_(x).sum(), x)
    return grad.flatten(1).norm(dim=1).double().numpy()


@torch.no_grad()
def smoothed_energy(det: ImageDxMIDetector, images: np.ndarray, draws: int = 8) -> np.ndarray:
    """Mean energy over noisy copies (fixed noise seed)."""
    x = torch.from_numpy(det._validate(images, reset=False))
    g = torch.Generator().manual_seed(0)
    return np.mean(
        [det._energy_of(x + 0.1 * torch.randn(x.shape, generator=g)) for _ in range(draws)], axis=0
    )


def main() -> None:
    torch.set_num_threads(1)
    seed, *digits = (int(a) for a in sys.argv[1:])
    for digit in digits:
        train, test, labels = mnist_task(digit, seed, pool=2)
        train, test = train.reshape(-1, 14, 14), test.reshape(-1, 14, 14)
        t0 = time.perf_counter()
        det = ImageDxMIDetector(
            random_state=seed, device="cpu", energy_channels=(32, 64), iterations=400
        ).fit(train)
        seconds = round(time.perf_counter() - t0, 1)
        scores = {
            name: (fn(det, train), fn(det, test))
            for name, fn in (
                ("energy", ImageDxMIDetector.decision_function),
                ("grad", gradient_norm),
                ("smoothed", smoothed_energy),
            )
        }
        auroc = {name: roc_auc_score(labels, te) for name, (_, te) in scores.items()}
        (e_tr, e_te), (g_tr, g_te) = scores["energy"], scores["grad"]
        combined = (e_te - e_tr.mean()) / e_tr.std() + (g_te - g_tr.mean()) / g_tr.std()
        auroc["energy+grad"] = roc_auc_score(labels, combined)
        record = {"seed": seed, "normal": digit, "auroc": auroc, "fit_seconds": seconds}
        print(json.dumps(record), flush=True)
        with open(HERE / "probe.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
