"""Is DxMI's one-class Fashion-MNIST energy an input-complexity score? (a probe of issue 31)

Reads the test scores kept by `anomaly.py --save-scores` and rescores them with the PNG length
of each test image (the complexity estimate of Serra et al. 2020, "Input complexity and
out-of-distribution detection"): AUROC of the energy, of the complexity alone, and of the energy
minus the complexity, both standardised over the test images (no labels used). Run from the
repository root:

    python benchmarks/results/anomaly-fashion-complexity-probe/complexity.py runs/fashion-scores
"""

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import roc_auc_score

sys.path.insert(0, "benchmarks")
from anomaly import one_class_images  # noqa: E402


def png_bits(images: np.ndarray) -> np.ndarray:
    """PNG length in bits of each image (N, 1, H, W) in [0, 1], as 8-bit grey."""
    out = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray((img[0] * 255).round().astype(np.uint8)).save(buf, format="PNG")
        out.append(8 * len(buf.getvalue()))
    return np.asarray(out, float)


def z(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / v.std()


folder = Path(sys.argv[1]) / "scores"
test_images = None
print(
    "| file | energy | complexity alone | energy - complexity (z) | corr(energy, complexity) "
    "| corr(energy, mean pixel) |"
)
print("|---|---|---|---|---|---|")
for f in sorted(folder.glob("fashion-*.npz")):
    d = np.load(f)
    if test_images is None:
        _, test_images, _ = one_class_images("fashion", 0)
        bits = png_bits(test_images)
        brightness = test_images.mean(axis=(1, 2, 3))
    s, y = d["scores"], d["labels"]
    corr = np.corrcoef(s, bits)[0, 1]
    print(
        f"| {f.stem} | {100 * roc_auc_score(y, s):.1f} | {100 * roc_auc_score(y, bits):.1f} "
        f"| {100 * roc_auc_score(y, z(s) - z(bits)):.1f} | {corr:+.2f} "
        f"| {np.corrcoef(s, brightness)[0, 1]:+.2f} |"
    )
