"""DxMIDetector inside the tools people combine detectors with: scikit-learn's Pipeline, PyOD's
standardizer and LSCP, SUOD. Each gives the scores the detector gives alone."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from test_detector import anomalies, ring_data

from dxmi.detect.points import DxMIDetector

pytest.importorskip("pyod", reason="PyOD (the dev extra)")

# a few iterations: these tests check the plumbing, test_detector.py the detection
TINY = dict(steps=2, iterations=20, teacher_iterations=20, batch_size=64, hidden=16, layers=2)
TINY |= dict(energy_hidden=16, energy_layers=2, device="cpu")


@pytest.fixture(scope="module")
def data():
    x = ring_data(300, 0) * [3.0, 1.0, 10.0]  # unequal scales, for the scalers to matter
    test = np.concatenate([ring_data(40, 1), anomalies(40, 2)]) * [3.0, 1.0, 10.0]
    alone = DxMIDetector(**TINY, standardize=False).fit(StandardScaler().fit_transform(x))
    return x, test, alone


def test_sklearn_pipeline(data):
    x, test, alone = data
    pipe = make_pipeline(StandardScaler(), DxMIDetector(**TINY, standardize=False)).fit(x)
    scaled = StandardScaler().fit(x).transform(test)
    np.testing.assert_allclose(pipe.decision_function(test), alone.decision_function(scaled))
    np.testing.assert_array_equal(pipe.predict(test), alone.predict(scaled))


def test_pyod_standardizer(data):
    from pyod.utils.utility import standardizer

    x, test, alone = data
    x_norm, test_norm = standardizer(x, test)  # PyOD's z-score of both by the training rows
    det = DxMIDetector(**TINY, standardize=False).fit(x_norm)
    np.testing.assert_allclose(det.decision_function(test_norm), alone.decision_function(test_norm))


def test_pyod_lscp(data):
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.lscp import LSCP

    x, test, alone = data
    x_norm = StandardScaler().fit_transform(x)
    members = [DxMIDetector(**TINY, standardize=False), LOF(), KNN()]
    lscp = LSCP(members, random_state=0).fit(x_norm)
    scores = lscp.decision_function(StandardScaler().fit(x).transform(test))
    assert scores.shape == (len(test),) and np.isfinite(scores).all()
    np.testing.assert_allclose(lscp.detector_list[0].decision_scores_, alone.decision_scores_)


def test_suod(data):
    suod = pytest.importorskip("suod.models.base", reason="SUOD (the dev extra)")
    from pyod.models.lof import LOF

    x, test, alone = data
    x_norm, test_norm = (StandardScaler().fit(x).transform(a) for a in (x, test))
    model = suod.SUOD(
        [DxMIDetector(**TINY, standardize=False), LOF()],
        n_jobs=1,
        rp_flag_global=False,  # no random projection: DxMI sees the rows it was given
        bps_flag=False,
        approx_flag_global=False,
    )
    model.fit(x_norm)
    model.approximate(x_norm)
    scores = model.decision_function(test_norm)  # one column per detector
    np.testing.assert_allclose(scores[:, 0], alone.decision_function(test_norm))
