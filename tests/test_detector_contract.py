"""One contract for the four detectors (DxMI and Langevin, rows and images): fit, scores,
labels, PyOD's probabilities, one save / load format, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from dxmi.checkpoint import CheckpointError
from dxmi.detect.images import ImageDxMIDetector
from dxmi.detect.langevin import ImageLangevinEBMDetector, LangevinEBMDetector
from dxmi.detect.points import DxMIDetector

IMAGES = dict(pixel_range=(0, 16), batch_size=16, energy_channels=(8, 16))
DETECTORS = {
    "dxmi-rows": lambda: DxMIDetector(
        iterations=5, teacher_iterations=5, hidden=16, energy_hidden=16, batch_size=32
    ),
    "langevin-rows": lambda: LangevinEBMDetector(
        iterations=5, energy_hidden=16, energy_layers=2, langevin_steps=2
    ),
    "dxmi-images": lambda: ImageDxMIDetector(
        iterations=3, steps=2, unet_channels=(8, 16), device="cpu", **IMAGES
    ),
    "langevin-images": lambda: ImageLangevinEBMDetector(iterations=3, langevin_steps=2, **IMAGES),
}


def _data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, test): 3-feature rows, or 8x8 digits with pixels in [0, 16]."""
    if kind.endswith("rows"):
        rng = np.random.default_rng(0)
        return rng.normal(size=(60, 3)).astype(np.float32), rng.normal(size=(10, 3))
    x = load_digits().images.astype(np.float32)
    return x[:40], x[40:50]


@pytest.fixture(scope="module", params=sorted(DETECTORS))
def fitted(request):
    train, test = _data(request.param)
    return request.param, DETECTORS[request.param]().fit(train), test


def test_fit_scores_labels_and_probabilities(fitted):
    _, det, test = fitted
    scores = det.decision_function(test)
    assert scores.shape == (len(test),) and np.isfinite(scores).all()
    assert np.array_equal(det.predict(test), (scores > det.threshold_).astype(int))
    assert set(np.unique(det.labels_)) <= {0, 1} and len(det.decision_scores_) >= 40
    proba = det.predict_proba(test)
    assert proba.shape == (len(test), 2) and np.allclose(proba.sum(axis=1), 1.0)


def test_one_save_and_load_format(fitted, tmp_path):
    name, det, test = fitted
    det.save(tmp_path / "det")
    assert sorted(p.name for p in (tmp_path / "det").iterdir()) == [
        "detector.json",
        "detector.safetensors",
    ]
    loaded = type(det).load(tmp_path / "det")
    np.testing.assert_allclose(loaded.decision_function(test), det.decision_function(test))
    assert loaded.get_params() == det.get_params() and loaded.threshold_ == det.threshold_
    other = next(cls for key, cls in DETECTORS.items() if key != name)().__class__
    with pytest.raises(CheckpointError, match=f"not a {other.__name__}"):
        other.load(tmp_path / "det")  # another member of the family: refused, named
    with pytest.raises(CheckpointError, match="no detector.json"):
        type(det).load(tmp_path)


def test_bad_input_is_a_clear_error(fitted):
    name, det, test = fitted
    bad = test.copy()
    bad[0].flat[0] = np.nan
    with pytest.raises(ValueError, match="NaN|infinity"):
        det.decision_function(bad)
    wrong = test[:, :2] if name.endswith("rows") else test[:, :6, :6]
    with pytest.raises(ValueError, match="features|shape"):
        det.decision_function(wrong)
    with pytest.raises(NotFittedError):
        DETECTORS[name]().decision_function(test)
