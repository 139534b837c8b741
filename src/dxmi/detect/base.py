"""The detector family's base classes: PyOD's conventions (``decision_function`` = energy,
higher is more anomalous; ``threshold_`` from ``contamination``; ``labels_``, ``predict``,
``predict_proba``, ``predict_confidence``) for rows (`EnergyDetector`) and for images
(`ImageEnergyDetector`). The DxMI detectors (`dxmi.detect.points`, `dxmi.detect.images`) and the
Langevin baselines (`dxmi.detect.langevin`) derive from them."""

from __future__ import annotations

import inspect
from numbers import Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from dxmi.checkpoint import CheckpointError, load_checkpoint, load_module_state, save_checkpoint

DETECTOR_STEM = "detector"  # detector.{safetensors,json}: every detector of the family


class EnergyDetector(BaseEstimator):
    """What every energy-scored detector shares: the threshold, scores and labels (PyOD style).

    A subclass implements `fit` (ending with `self._set_threshold(training scores)`) and
    `_energy(X)` on validated rows; for `save` / `load`, `_modules` (its fitted networks),
    `_fitted_record` (what else fit learned, as JSON) and `_rebuild` (the reverse).
    """

    # ---- one save / load format for the family: detector.safetensors + detector.json
    def _modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def _fitted_record(self) -> dict:
        return {"n_features_in": int(self.n_features_in_)}

    def _rebuild(self, record: dict) -> dict[str, nn.Module]:
        """Set the fitted attributes `record` describes; return networks of the fitted shape
        (by `_modules`' names) to load the saved weights into."""
        raise NotImplementedError

    def save(self, directory: str | Path) -> None:
        """`directory`/detector.{safetensors,json}: the fitted networks (safetensors, nothing
        pickled), the parameters, threshold and training scores; written atomically, hashed."""
        check_is_fitted(self, "threshold_")
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()}
        meta = {
            "class": type(self).__name__,
            "params": params,
            "fitted": self._fitted_record(),
            "threshold": self.threshold_,
            "decision_scores": self.decision_scores_.tolist(),
        }
        state = {name: module.state_dict() for name, module in self._modules().items()}
        save_checkpoint(Path(directory) / DETECTOR_STEM, state, meta)

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu"):
        """A detector that `save` wrote; a one-line `CheckpointError` for anything else."""
        stem = Path(directory) / DETECTOR_STEM
        if not stem.with_suffix(".json").is_file():
            raise CheckpointError(f"{directory}: no detector.json - not a saved {cls.__name__}")
        state, meta = load_checkpoint(stem)  # hash-checked: weights and record belong together
        try:
            if meta["class"] != cls.__name__:
                raise ValueError(f"it holds a {meta['class']}, not a {cls.__name__}")
            defaults = cls().get_params()
            params = {
                k: tuple(v) if isinstance(defaults.get(k), tuple) else v
                for k, v in meta["params"].items()
            }
            det = cls(**params)
            threshold = float(meta["threshold"])
            scores = np.asarray(meta["decision_scores"], dtype=np.float64)
            modules = det._rebuild(meta["fitted"])
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{stem}.json: unusable detector record ({err})") from None
        if not np.isfinite(threshold) or scores.ndim != 1 or not np.isfinite(scores).all():
            raise CheckpointError(f"{stem}.json: threshold and decision_scores must be finite")
        for name, module in modules.items():
            if name not in state:
                raise CheckpointError(f"{stem}.safetensors: no weights for '{name}'")
            load_module_state(module, state[name], f"{stem}.safetensors")
            module.to(device).eval().requires_grad_(False)
        det.history_ = []
        det.decision_scores_, det.threshold_ = scores, threshold
        det.labels_ = (scores > threshold).astype(int)
        return det

    def _keep_params(self, params: dict) -> None:
        """Store the `__init__` arguments (``locals()``) under their own names, and nothing
        else: scikit-learn's rule for estimators (`get_params` reads them back)."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _check_numbers(self) -> None:
        """A numeric parameter (its default a number, or "auto" for a number) must be one: a
        string there fails here, naming the parameter, not deep in training."""
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            default, value = param.default, getattr(self, name, None)
            if isinstance(default, bool) or not isinstance(default, (Real, str)):
                continue
            if isinstance(default, str):  # only "auto" standing for a number, e.g. "float | str"
                numeric = any(kind in str(param.annotation) for kind in ("float", "int"))
                if default != "auto" or value == "auto" or not numeric:
                    continue
            if not isinstance(value, Real) or isinstance(value, bool):
                allowed = "'auto' or a number" if default == "auto" else "a number"
                raise ValueError(f"{type(self).__name__}: {name} must be {allowed}, got {value!r}")

    def _check_contamination(self) -> None:
        if not 0 < self.contamination <= 0.5:
            raise ValueError(f"contamination must be in (0, 0.5], got {self.contamination}")

    def _set_threshold(self, scores: np.ndarray) -> None:
        self._check_contamination()
        self.decision_scores_ = np.asarray(scores, dtype=np.float64)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    def _energy(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score of each row: its energy (higher = more anomalous)."""
        check_is_fitted(self, "threshold_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return np.asarray(self._energy(X), dtype=np.float64)

    def score_samples(self, X) -> np.ndarray:
        """scikit-learn's convention: -energy, higher = more normal."""
        return -self.decision_function(X)

    def predict(self, X, return_confidence: bool = False):
        """1 for an outlier (score above `threshold_`), 0 for an inlier; with
        `return_confidence`, also `predict_confidence(X)` (PyOD's signature)."""
        labels = (self.decision_function(X) > self.threshold_).astype(int)
        return (labels, self.predict_confidence(X)) if return_confidence else labels

    def predict_proba(self, X, method: str = "linear", return_confidence: bool = False):
        """(n, 2) probabilities of [inlier, outlier], as PyOD computes them from the training
        scores: ``linear`` min-max scales each score by the training scores' range (clipped to
        [0, 1]); ``unify`` is Kriegel et al. 2011's Gaussian scaling, erf((s - mean) / (std
        sqrt 2)) clipped at 0."""
        check_is_fitted(self, "threshold_")
        scores, train = self.decision_function(X), self.decision_scores_
        if method == "linear":
            span = train.max() - train.min()
            p = (scores - train.min()) / span if span > 0 else (scores > train.max()) * 1.0
            p = np.clip(p, 0.0, 1.0)
        elif method == "unify":
            from scipy.special import erf

            std = train.std() if train.std() > 0 else 1.0
            p = np.clip(erf((scores - train.mean()) / (std * np.sqrt(2))), 0.0, 1.0)
        else:
            raise ValueError(f"method must be 'linear' or 'unify', got {method!r}")
        proba = np.column_stack([1.0 - p, p])
        return (proba, self.predict_confidence(X)) if return_confidence else proba

    def predict_confidence(self, X) -> np.ndarray:
        """Confidence in each `predict` label, in [0, 1] (ExCeeD, Perini et al. 2020, as in
        PyOD): how likely the label stays the same under a resampled training set."""
        from scipy.stats import binom

        check_is_fitted(self, "threshold_")
        scores, train = self.decision_function(X), np.sort(self.decision_scores_)
        n = len(train)
        below = np.searchsorted(train, scores, side="right")  # training scores <= each score
        posterior = (1.0 + below) / (2.0 + n)
        confidence = 1.0 - binom.cdf(n - int(n * self.contamination), n, posterior)
        inlier = scores <= self.threshold_
        confidence[inlier] = 1.0 - confidence[inlier]
        return confidence

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit on X and return its labels (`labels_`)."""
        return self.fit(X).labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class ImageEnergyDetector(EnergyDetector):
    """What the image detectors share: images in, energies out.

    `X` is a batch of square images, (n, H, W) or (n, C, H, W), with pixel values inside
    `pixel_range` (mapped to [-1, 1]). A subclass sets `energy_` (a module on images) in `fit`.
    """

    def _fitted_record(self) -> dict:
        return {"image_shape": [int(v) for v in self.image_shape_]}

    def _image_shape(self, record: dict) -> tuple[int, int, int]:
        shape = tuple(int(v) for v in record["image_shape"])
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"image_shape must be [C, H, W], got {list(shape)}")
        self.image_shape_ = shape
        return shape

    def _validate(self, X, reset: bool) -> np.ndarray:
        """Images as float32 (n, C, H, W) in [-1, 1]; a clear error for anything else."""
        x = np.asarray(X, dtype=np.float32)
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4:
            raise ValueError(f"expected images (n, H, W) or (n, C, H, W), got shape {x.shape}")
        if len(x) < (2 if reset else 1):
            raise ValueError(f"need at least {2 if reset else 1} images, got {len(x)}")
        bad = ~np.isfinite(x)
        if bad.any():
            raise ValueError(f"{int(bad.any(axis=(1, 2, 3)).sum())} image(s) hold NaN/inf")
        low, high = (float(v) for v in self.pixel_range)
        if not high > low:
            raise ValueError(f"pixel_range must be (low, high) with high > low, got {low, high}")
        if x.min() < low - 1e-6 or x.max() > high + 1e-6:
            raise ValueError(
                f"pixel values span [{x.min():.3g}, {x.max():.3g}], outside pixel_range "
                f"{(low, high)}; set pixel_range to the data's range"
            )
        shape = tuple(x.shape[1:])
        if reset:
            if shape[1] != shape[2]:
                raise ValueError(f"images are {shape[1]}x{shape[2]}; the UNet needs square ones")
            self.image_shape_ = shape
        elif shape != self.image_shape_:
            raise ValueError(
                f"images have shape {shape}; the detector was fit on {self.image_shape_}"
            )
        return (x - low) / (high - low) * 2 - 1

    @torch.no_grad()
    def _energy_of(self, x: torch.Tensor, batch: int = 500) -> np.ndarray:
        device = next(self.energy_.parameters()).device
        parts = [self.energy_(x[i : i + batch].to(device)).cpu() for i in range(0, len(x), batch)]
        return torch.cat(parts).double().numpy()

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score of each image: its energy (higher = more anomalous)."""
        check_is_fitted(self, "threshold_")
        return self._energy_of(torch.from_numpy(self._validate(X, reset=False)))
