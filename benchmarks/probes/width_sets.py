"""Write the point sets of other widths that the teacher probe uses: a 3D swiss roll
(scikit-learn, noise 0.3, divided by 5) and 2spirals embedded in 8D by a random orthonormal
map plus N(0, 0.03^2) noise in every coordinate, 25,000 points each.

    python benchmarks/probes/width_sets.py OUT_DIR    # writes swiss3d.npy and spiral8d.npy
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_swiss_roll

from dxmi.data import sample_toy


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    x, _ = make_swiss_roll(25000, noise=0.3, random_state=0)
    np.save(out / "swiss3d.npy", (x / 5).astype(np.float32))
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    spiral = sample_toy("2spirals", 25000, 5) @ q[:2] + 0.03 * rng.standard_normal((25000, 8))
    np.save(out / "spiral8d.npy", spiral.astype(np.float32))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
