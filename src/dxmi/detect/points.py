"""`DxMIDetector`: the DxMI energy as an anomaly detector, with PyOD / scikit-learn conventions.

It is fit on normal data only. The score of a row is its energy E(x): higher means more
anomalous (PyOD's convention for `decision_function`); `score_samples` returns -E(x), higher
means more normal (scikit-learn's). `predict` gives 1 for an outlier and 0 for an inlier
(PyOD), against the threshold that marks a `contamination` fraction of the training rows.

The energy is trained with the *separate* DxDP variant (an energy E(x) and a time-conditioned
value V(x, t); method notes, section 4), the variant the paper uses for anomaly detection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from sklearn.utils.validation import check_is_fitted, validate_data

from dxmi.config import (
    Config,
    ConfigError,
    DataConfig,
    DxMIConfig,
    EnergyNetworkConfig,
    NetworkConfig,
    RunConfig,
    TeacherConfig,
    coerce_value,
    read_yaml_mapping,
    validate,
)
from dxmi.data import Standardizer
from dxmi.detect.base import EnergyDetector
from dxmi.models.points import DxMIModel


def auto_settings(n_features: int | None) -> dict[str, float]:
    """The "auto" energy settings for rows of `n_features` (None: not yet known, as for wide
    rows). Measured reasons: docs/results/anomaly.md.

    2D points: Fourier features and the energy regulariser (gamma 1). Without them a plain MLP
    on coordinates draws a tilted plane where the data has rings (spectral bias) and,
    unregularised, grows until the sampler collapses onto one blob: mean AUROC against uniform
    noise on the eight built-in 2D sets 56.8 -> 79.4. The sampler's epsilon MLP gets Fourier
    features too (and its teacher a cosine rate): a plain one draws a blob, whose coarse
    negatives leave the energy coarse. A fifth of the energy's negatives are the chains'
    N(0, I) starts: once the sampler matches the data it gives the energy no contrast where
    the uniform noise lies, and these do. Under the energy, the points' Gaussian fit (weight 1,
    as on rows): where neither data nor negatives reach, the Fourier-feature energy is
    arbitrary (a mottled void with stray wells); the base makes it rise away from the data's
    bulk.

    Wider rows: the energy is the rows' Gaussian fit plus a learned part bounded by gamma 1, in
    nats (tau1 = n_features: the sampler is drawn to exp(-E), `energy_temperature`). The
    unanchored, unregularised energy (the reference's separate variant) learns only where the
    sampler's samples differ from the data, so its ranking swung with the seed and along one
    fit: on six ODDS sets its AUROC spread over 3 seeds reached 56 points (shuttle).
    """
    if n_features == 2:
        return {
            "energy_fourier_features": 64,
            "sampler_fourier_features": 64,
            "gamma": 1.0,
            "gaussian_base": 1.0,
            "tau1": 0.1,
            "noise_negatives": 0.2,
        }
    width = float(n_features) if n_features else 1.0
    return {
        "energy_fourier_features": 0,
        "sampler_fourier_features": 0,
        "gamma": 1.0,
        "gaussian_base": 1.0,
        "tau1": width,
        "noise_negatives": 0.0,
    }


def separate_dxmi_config(det, **extra) -> DxMIConfig:
    """The DxMI section (separate variant) from a DxMI detector's parameters, shared by
    `DxMIDetector` and `ImageDxMIDetector`; also checks `contamination` and `device`, so that a
    bad value fails before training."""
    det._check_contamination()
    if det.device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {det.device!r}")
    if int(det.iterations) < 0:  # 0 is allowed: the untrained baseline a test compares with
        raise ValueError(f"iterations must be >= 0, got {det.iterations}")
    for name in ("sampler_lr", "sigma_lr", "energy_lr", "value_lr"):
        value = float(getattr(det, name))
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return DxMIConfig(
        variant="separate",
        steps=int(det.steps),
        iterations=int(det.iterations),
        batch_size=int(det.batch_size),
        tau1=float(extra.pop("tau1", det.tau1)),
        tau2=float(det.tau2),
        gamma=float(extra.pop("gamma", det.gamma)),
        sampler_lr=float(det.sampler_lr),
        sigma_lr=float(det.sigma_lr),
        energy_lr=float(det.energy_lr),
        value_lr=float(det.value_lr),
        ema_decay=float(det.ema_decay),
        replay_size=int(det.replay_size),
        replay_fraction=float(det.replay_fraction),
        **extra,
    )


class DxMIDetector(EnergyDetector):
    """Anomaly detector whose score is the energy of a DxMI-trained EBM (MLP networks).

    Parameters mirror the config (`dxmi.config`). The energy settings marked "auto" read the
    width of the rows (`auto_settings`): on 2D points Fourier features and gamma 1; on other
    rows a Gaussian fit of the rows under a learned part bounded by gamma 1, in nats. The
    learning rates, EMA and learnable last sigma are those of `configs/8gaussians.yaml`.

    A fit on a few hundred rows of tens of features takes about a minute on one CPU core.
    Benchmarks and their limits: README, "Anomaly detection and EBM density"; what the seed
    does to the fit, and what was tried: docs/results/anomaly.md.

    Parameters
    ----------
    steps : sampler steps T.
    iterations : DxMI iterations (each: one energy step, T value steps, one sampler step).
    teacher_iterations : DDPM teacher iterations before DxMI (0: start from random weights).
    batch_size : chains (and data rows) per iteration.
    hidden, layers : width and depth of the sampler's epsilon MLP.
    sampler_fourier_features, sampler_fourier_scale : random Fourier features in front of the
        epsilon MLP (0: none); with them its teacher's rate follows a cosine, which the fine
        structure they resolve needs (docs/results/point-teacher.md). "auto": 64 on 2D points,
        none on wider rows.
    energy_hidden, energy_layers : width and depth of the energy and value MLPs.
    energy_fourier_features, energy_fourier_scale : random Fourier features of the
        (standardised) rows in front of the energy and value MLPs (0: none;
        `networks.mlp.FourierFeatures`), so that the energy can follow thin structure.
        "auto": 64 on 2D points, none on wider rows (`auto_settings`).
    gaussian_base : weight of a fixed Gaussian energy fitted to the training rows, added to the
        energy and value MLPs (in units of the sampler's temperature; 0: none;
        `networks.mlp.GaussianBase`). "auto": 1.
    tau1, tau2, gamma : entropy weight, running-cost weight, energy regulariser (gamma "auto":
        1; tau1 "auto": 0.1 on 2D points, the number of features on other rows, so that the
        energy is in nats).
    sampler_lr, sigma_lr, energy_lr, value_lr : learning rates.
    energy_grad_clip : max gradient norm of the energy step (0 disables).
    ema_decay : EMA of the sampler weights.
    energy_ema : EMA decay of the energy weights used for scoring (0: the last iterate). The
        energy chases the sampler; its average is steadier across fit seeds (on ODDS glass,
        5 fit seeds: AUROC spread 9.7 -> 4.8 points; on 2D points +0.7 to +1.9 on three sets).
    noise_negatives : fraction of every energy step's negatives that are the chains' N(0, I)
        starts instead of their samples (in standardised units), so that the energy keeps its
        contrast away from the data once the sampler matches it. "auto": 0.2 on 2D points, 0 on
        wider rows (`auto_settings`).
    replay_size, replay_fraction : a reservoir of this many of the sampler's past samples, from
        which `replay_fraction` of every energy step's negatives are drawn (0: none).
    standardize : scale each feature to zero mean, unit variance (from the training rows).
    contamination : expected fraction of outliers in the training rows; sets `threshold_`.
    random_state : seed of everything random in `fit`.
    device : "cpu", "cuda", or "auto" (a GPU when there is one).
    verbose : show progress bars.
    """

    def __init__(
        self,
        *,
        steps: int = 4,
        iterations: int = 1000,
        teacher_iterations: int = 2000,
        batch_size: int = 128,
        hidden: int = 256,
        layers: int = 3,
        sampler_fourier_features: int | str = "auto",
        sampler_fourier_scale: float = 4.0,
        energy_hidden: int = 256,
        energy_layers: int = 3,
        energy_fourier_features: int | str = "auto",
        energy_fourier_scale: float = 4.0,
        gaussian_base: float | str = "auto",
        tau1: float | str = "auto",
        tau2: float = 0.01,
        gamma: float | str = "auto",
        sampler_lr: float = 1e-4,
        sigma_lr: float = 1e-3,
        energy_lr: float = 1e-3,
        value_lr: float = 1e-3,
        energy_grad_clip: float = 0.1,
        ema_decay: float = 0.995,
        energy_ema: float = 0.99,
        noise_negatives: float | str = "auto",
        replay_size: int = 0,
        replay_fraction: float = 0.5,
        standardize: bool = True,
        contamination: float = 0.1,
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self._keep_params(locals())

    # ------------------------------------------------------------------------------------------
    def resolved(self, name: str, n_features: int | None) -> float:
        """Parameter `name` (one of `auto_settings`' keys) on rows of `n_features`,
        "auto" resolved by `auto_settings` (None: the data not yet known, as for wide rows)."""
        value = getattr(self, name)
        if value == "auto":
            return auto_settings(n_features)[name]
        if isinstance(value, str) or not float(value) >= 0:
            raise ValueError(f"{name} must be 'auto' or a number >= 0, got {value!r}")
        return value

    def to_config(self, n_features: int | None = None) -> Config:
        """The training config these parameters stand for on rows of `n_features` (separate
        variant, in-memory data)."""
        self._check_numbers()
        dxmi = separate_dxmi_config(
            self,
            gamma=float(self.resolved("gamma", n_features)),
            tau1=float(self.resolved("tau1", n_features)),
            energy_grad_clip=float(self.energy_grad_clip),
            energy_ema_decay=float(self.energy_ema),
            noise_negatives=float(self.resolved("noise_negatives", n_features)),
            learn_last_sigma=True,
            last_sigma=0.05,
            energy=EnergyNetworkConfig(
                hidden=int(self.energy_hidden),
                layers=int(self.energy_layers),
                fourier_features=int(self.resolved("energy_fourier_features", n_features)),
                fourier_scale=float(self.energy_fourier_scale),
                gaussian_base=float(self.resolved("gaussian_base", n_features)),
            ),
        )
        teacher = self.teacher_iterations > 0
        sampler_ff = int(self.resolved("sampler_fourier_features", n_features))
        config = Config(
            data=DataConfig(name="array", standardize=bool(self.standardize)),
            teacher=TeacherConfig(
                init="teacher" if teacher else "random",
                iterations=int(self.teacher_iterations),
                batch_size=int(self.batch_size),
                lr_schedule="cosine" if sampler_ff else "constant",
            ),
            sampler=NetworkConfig(
                hidden=int(self.hidden),
                layers=int(self.layers),
                fourier_features=sampler_ff,
                fourier_scale=float(self.sampler_fourier_scale),
            ),
            dxmi=dxmi,
            run=RunConfig(seed=int(self.random_state), cpu=self.device == "cpu", progress=False),
        )
        # a bad parameter fails here, before training, naming the config key it sets
        validate(config, f"{type(self).__name__} parameters")
        return config

    def fit(self, X, y=None) -> DxMIDetector:
        """Train on normal rows X (n_samples, n_features); `y` is ignored (unsupervised)."""
        from dxmi.runs.points import fit_points  # training pulls in accelerate and tensorboard

        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        config = self.to_config(X.shape[1])
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ValueError("device='cuda' but no GPU is available")
        self.model_, self.history_ = fit_points(config, X, progress=bool(self.verbose))
        self._set_threshold(self.model_.energy(X))
        return self

    def _energy(self, X: np.ndarray) -> np.ndarray:
        return self.model_.energy(X)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n draws from the fitted sampler, in the units of X."""
        check_is_fitted(self, "model_")
        return self.model_.sample(n, seed=seed)

    # ---- save / load (`EnergyDetector.save`, `load`)
    def _modules(self) -> dict:
        return {"policy": self.model_.policy, "energy": self.model_.energy_net}

    def _fitted_record(self) -> dict:
        return {**super()._fitted_record(), "standardizer": self.model_.standardizer.to_dict()}

    def _rebuild(self, record: dict) -> dict:
        from dxmi.models.factories import build_energy, build_eps_model, build_policy

        n = int(record["n_features_in"])
        config = self.to_config(n)
        policy = build_policy(config, build_eps_model(config, n))
        standardizer = Standardizer.from_dict(record["standardizer"])
        if len(standardizer.mean) != n:
            raise ValueError(f"{n} features but a standardiser of {len(standardizer.mean)}")
        self.model_ = DxMIModel(config, policy, build_energy(config, n), standardizer)
        self.n_features_in_ = n
        return self._modules()


def detector_from_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    cls: type[EnergyDetector] | None = None,
) -> EnergyDetector:
    """A detector (`cls`, default `DxMIDetector`; e.g. `ImageDxMIDetector`) from a YAML mapping
    of its parameters plus ``key=value`` overrides; an unknown key or a wrong type is a
    `ConfigError` naming it and the file. Tuple parameters are written as lists."""
    cls = cls or DxMIDetector
    where = str(path) if path is not None else "defaults"
    data = read_yaml_mapping(path) if path is not None else {}
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override '{item}': expected key=value")
        data[key] = yaml.safe_load(raw) if raw else None
    defaults = cls().get_params()
    params = {}
    for key, value in data.items():
        if key not in defaults:
            raise ConfigError(
                f"{where}: unknown key '{key}' (known keys: {', '.join(sorted(defaults))})"
            )
        default = defaults[key]
        if default == "auto":  # "auto" or a number
            auto = value == "auto"
            params[key] = value if auto else coerce_value(value, float, f"{where}: {key}")
        elif isinstance(default, tuple):  # e.g. channels: a list of the items' type
            tp = list[type(default[0])] if default else list
            params[key] = tuple(coerce_value(value, tp, f"{where}: {key}"))
        else:
            params[key] = coerce_value(value, type(default), f"{where}: {key}")
    det = cls(**params)
    try:
        det.to_config()
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    return det
