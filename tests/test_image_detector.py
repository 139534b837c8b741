"""ImageDxMIDetector on scikit-learn's 8x8 digits: it learns, follows PyOD conventions, saves,
loads, and rejects bad images with clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from dxmi.checkpoint import CheckpointError
from dxmi.config import ConfigError
from dxmi.detect.images import ImageDxMIDetector

TINY = dict(
    steps=2,
    batch_size=32,
    unet_channels=(8, 16),
    energy_channels=(16, 32),
    pixel_range=(0, 16),  # load_digits' pixel values
    device="cpu",
)


@pytest.fixture(scope="module")
def ones():
    """Digit 1 is normal: 140 training images; test = the other 1s and 400 other digits."""
    x, y = load_digits(return_X_y=True)
    x = x.reshape(-1, 8, 8).astype(np.float32)
    idx = np.flatnonzero(y == 1)
    np.random.default_rng(0).shuffle(idx)
    test = np.concatenate([idx[140:], np.flatnonzero(y != 1)[:400]])
    return x[idx[:140]], x[test], (y[test] != 1).astype(int)


@pytest.fixture(scope="module")
def fitted(ones):
    train, _, _ = ones
    return ImageDxMIDetector(iterations=60, **TINY).fit(train)


def test_training_turns_the_energy_into_a_detector(ones, fitted):
    train, test, labels = ones
    # the conv energy alone (no Gaussian base) at initialisation ranks these digits worse than
    # chance (AUROC about 0.1); 60 DxMI iterations must make it a good detector
    untrained = ImageDxMIDetector(iterations=0, gaussian_base=0.0, **TINY).fit(train)
    trained = ImageDxMIDetector(iterations=60, gaussian_base=0.0, **TINY).fit(train)
    before = roc_auc_score(labels, untrained.decision_function(test))
    after = roc_auc_score(labels, trained.decision_function(test))
    assert after > 0.85 and after > before + 0.3, (before, after)
    # at the defaults (the base under the conv energy) the trained detector is good too
    assert roc_auc_score(labels, fitted.decision_function(test)) > 0.85


def test_pyod_conventions(ones, fitted):
    train, test, _ = ones
    assert fitted.decision_scores_.shape == (len(train),)
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.decision_scores_, 0.9))
    np.testing.assert_array_equal(fitted.labels_, fitted.predict(train))
    assert 0.05 < fitted.labels_.mean() <= 0.1 + 1e-9
    np.testing.assert_allclose(fitted.score_samples(test), -fitted.decision_function(test))
    # (n, H, W) and (n, 1, H, W) are the same images
    np.testing.assert_allclose(
        fitted.decision_function(test[:5]), fitted.decision_function(test[:5, None])
    )
    copy = clone(fitted).set_params(iterations=7)
    assert copy.get_params()["iterations"] == 7 and copy.get_params()["steps"] == 2
    images = fitted.sample(6, seed=1)
    assert images.shape == (6, 1, 8, 8) and images.min() >= 0 and images.max() <= 16


def test_same_seed_same_detector(ones):
    train, test, _ = ones
    a = ImageDxMIDetector(iterations=5, **TINY).fit(train).decision_function(test[:20])
    b = ImageDxMIDetector(iterations=5, **TINY).fit(train).decision_function(test[:20])
    np.testing.assert_array_equal(a, b)


def test_replayed_negatives_reach_the_energy(ones):
    train, test, _ = ones
    plain = ImageDxMIDetector(iterations=8, **TINY).fit(train).decision_function(test[:20])
    replay = ImageDxMIDetector(iterations=8, replay_size=64, **TINY).fit(train)
    assert replay.to_config().dxmi.replay_size == 64
    # from the second iteration on, half of every energy step's negatives are replayed
    assert not np.allclose(replay.decision_function(test[:20]), plain)
    with pytest.raises(ConfigError, match="replay_fraction"):
        ImageDxMIDetector(replay_size=64, replay_fraction=1.5, **TINY).fit(train)


def test_save_and_load(ones, fitted, tmp_path):
    _, test, _ = ones
    fitted.save(tmp_path / "det")
    loaded = ImageDxMIDetector.load(tmp_path / "det")
    np.testing.assert_allclose(loaded.decision_function(test), fitted.decision_function(test))
    assert loaded.threshold_ == fitted.threshold_ and loaded.get_params() == fitted.get_params()
    with pytest.raises(CheckpointError, match="no detector.json"):
        ImageDxMIDetector.load(tmp_path / "nothing")
    np.testing.assert_allclose(loaded.sample(4, seed=1), fitted.sample(4, seed=1), atol=1e-6)


def test_bad_images(ones, fitted):
    train, test, _ = ones
    with pytest.raises(NotFittedError):
        ImageDxMIDetector(**TINY).decision_function(test)
    nan = test[:4].copy()
    nan[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="1 image\\(s\\) hold NaN/inf"):
        fitted.decision_function(nan)
    with pytest.raises(ValueError, match="shape \\(1, 4, 16\\); the detector was fit on"):
        fitted.decision_function(test[:4].reshape(4, 1, 4, 16))
    with pytest.raises(ValueError, match="expected images"):
        fitted.decision_function(test[:4].reshape(4, 64))
    with pytest.raises(ValueError, match="outside pixel_range"):
        fitted.decision_function(test[:4] * 10)
    with pytest.raises(ValueError, match="square"):
        ImageDxMIDetector(**TINY).fit(train.reshape(-1, 4, 16))
    with pytest.raises(ValueError, match="at least 2 images"):
        ImageDxMIDetector(**TINY).fit(train[:1])
    with pytest.raises(ValueError, match="unet_channels"):
        ImageDxMIDetector(**{**TINY, "unet_channels": (8, 16, 16, 16, 16)}).fit(train)
    with pytest.raises(ValueError, match="contamination"):
        ImageDxMIDetector(**{**TINY, "contamination": 0.7}).fit(train)


def test_langevin_image_detector_learns_with_the_same_conventions(ones):
    from dxmi.detect.langevin import ImageLangevinEBMDetector

    train, test, labels = ones
    det = ImageLangevinEBMDetector(
        iterations=100, batch_size=32, energy_channels=(16, 32), pixel_range=(0, 16)
    ).fit(train)
    assert roc_auc_score(labels, det.decision_function(test)) > 0.85
    assert det.decision_scores_.shape == (len(train),) and len(det.history_) > 0
    with pytest.raises(ValueError, match="the detector was fit on"):
        det.decision_function(test[:3].reshape(3, 1, 4, 16))


def test_gaussian_base_under_the_conv_energy(ones, tmp_path):
    from sklearn.covariance import LedoitWolf

    train, test, _ = ones
    det = ImageDxMIDetector(iterations=3, gaussian_base=2.0, **TINY).fit(train)
    base = det.energy_.base
    assert base.weight == pytest.approx(2.0 * det.tau1 / 64)  # in units of tau1 / pixels
    # the base is the Gaussian fit of the training pixels, mapped to [-1, 1] as the nets see them
    rows = lambda x: (x.reshape(len(x), -1) / 16 * 2 - 1).astype(np.float64)  # noqa: E731
    want = base.weight / 2 * LedoitWolf().fit(rows(train)).mahalanobis(rows(test[:10]))
    x = torch.from_numpy(rows(test[:10]).reshape(10, 1, 8, 8)).float()
    np.testing.assert_allclose(base(x).numpy(), want, rtol=1e-3)
    with torch.no_grad():  # the conv net's part is added on top
        det.energy_.base = None
        conv = det.energy_(x).numpy()
        det.energy_.base = base
    np.testing.assert_allclose(det.decision_function(test[:10]), conv + want, rtol=1e-3, atol=1e-5)
    det.save(tmp_path / "det")  # the fitted base is saved with the weights
    loaded = ImageDxMIDetector.load(tmp_path / "det")
    np.testing.assert_array_equal(loaded.decision_function(test), det.decision_function(test))
    with pytest.raises(ConfigError, match="energy.gaussian_base"):
        ImageDxMIDetector(gaussian_base=-1.0, **TINY).fit(train)
