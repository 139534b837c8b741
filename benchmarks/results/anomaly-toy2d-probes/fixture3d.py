"""DxMIDetector on tests/test_detector.py's 3D ring (anomalies far outside it and above its
plane) with the test's small settings plus KEY=VALUE parameters: far-outlier AUROC.

    python benchmarks/results/anomaly-toy2d-probes/fixture3d.py gamma=1.0 energy_fourier_features=64
"""

import sys

import yaml

sys.path.insert(0, "tests")  # run from the repository root
from test_detector import FAST, _auroc, ring_data  # noqa: E402

from dxmi.detect.points import DxMIDetector  # noqa: E402

params = {k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in sys.argv[1:])}
x = ring_data(1000, 0)
print(params, _auroc(DxMIDetector(contamination=0.05, **{**FAST, **params}).fit(x)))
