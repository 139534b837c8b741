"""Point data: user files (.npy, .csv), toy sets, the held-out split and standardisation."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dxmi.data.toy2d import TOY_DATASETS, sample_toy


class DataError(ValueError):
    """Data that cannot be used; the message names the file and the problem."""


def check_points(x: np.ndarray, source: str, min_rows: int = 2) -> np.ndarray:
    """Validate an N x D array (N >= `min_rows`) of finite numbers and return it as float32.

    A 1-D array is read as N points in one dimension.
    """
    x = np.asarray(x)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{source}: expected numbers, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(
            f"{source}: complex numbers are not points (dtype {x.dtype}); pass real parts"
        )
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise DataError(f"{source}: expected an N x D array of points, got shape {x.shape}")
    if x.shape[0] < min_rows or x.shape[1] < 1:
        raise DataError(
            f"{source}: need at least {min_rows} point(s) of at least 1 feature, got {x.shape}"
        )
    bad = ~np.isfinite(x)
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise DataError(f"{source}: {int(bad.sum())} NaN/inf values (first in row {row})")
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    big = ~np.isfinite(x32)
    if big.any():
        row = int(np.argwhere(big)[0, 0])
        raise DataError(
            f"{source}: {int(big.sum())} values beyond float32's range (first in row {row})"
        )
    return x32


def load_points(path: str | Path) -> np.ndarray:
    """Read an N x D array from a .npy or .csv file (a header row in a CSV is skipped)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            x = np.load(path, allow_pickle=False)  # never unpickle a user file
        elif suffix in (".csv", ".txt"):
            x = _read_csv(path)
        else:
            raise DataError(f"{path}: unsupported file type '{suffix}' (use .npy or .csv)")
    except DataError:
        raise
    except ValueError as err:
        raise DataError(f"{path}: cannot read ({err})") from None
    return check_points(x, str(path))


def _read_csv(path: Path) -> np.ndarray:
    with path.open() as fh:
        first = fh.readline()
    try:
        [float(v) for v in first.strip().split(",") if v.strip()]
        skip = 0
    except ValueError:
        skip = 1  # a header row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data": handled below
        x = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, dtype=np.float64)
    if x.size == 0:
        raise DataError(f"{path}: the file holds no rows of data")
    return x


@dataclass
class Standardizer:
    """Per-feature affine map to zero mean and unit variance (fit on the training split)."""

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, np.float32)
        self.std = np.asarray(self.std, np.float32)
        if self.mean.ndim != 1 or self.mean.shape != self.std.shape:
            raise DataError(f"standardizer: mean {self.mean.shape} and std {self.std.shape} differ")
        for name, v in (("mean", self.mean), ("std", self.std)):
            bad = np.flatnonzero(~np.isfinite(v))
            if len(bad):
                raise DataError(f"standardizer: feature {bad[0]} has {name} {v[bad[0]]}")
        if (self.std <= 0).any():
            raise DataError(
                f"standardizer: feature {np.flatnonzero(self.std <= 0)[0]} has std <= 0"
            )

    @classmethod
    def fit(cls, x: np.ndarray, enabled: bool = True) -> Standardizer:
        """Mean and std per feature, computed in float64 (a column of 1e30 overflows float32's
        squares); a feature whose std is not a finite float32 is refused."""
        d = x.shape[1]
        if not enabled:
            return cls(np.zeros(d, np.float32), np.ones(d, np.float32))
        x64 = np.asarray(x, np.float64)
        std = x64.std(axis=0)
        std = np.where(std > 1e-8, std, 1.0)  # a constant feature stays as it is
        wide = np.flatnonzero(~np.isfinite(std.astype(np.float32)))
        if len(wide):
            raise DataError(
                f"feature {wide[0]}: its spread ({std[wide[0]]:.3g}) is beyond float32; rescale it"
            )
        return cls(x64.mean(axis=0), std)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return (z * self.std + self.mean).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Standardizer:
        """The inverse of `to_dict`; `DataError` for non-finite, non-positive or mismatched ones."""
        return cls(np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32))


@dataclass
class PointData:
    """Training and held-out points, in data units."""

    name: str
    train: np.ndarray
    holdout: np.ndarray

    @property
    def dim(self) -> int:
        return self.train.shape[1]


def split_points(
    x: np.ndarray, name: str, holdout_fraction: float = 0.2, seed: int = 0
) -> PointData:
    """Validate an array of points and split it at random into training and held-out parts."""
    x = check_points(x, name)
    n_hold = int(round(holdout_fraction * len(x)))
    if not 1 <= n_hold < len(x):
        raise DataError(f"{name}: too few points ({len(x)}) for a held-out split")
    perm = np.random.default_rng(seed).permutation(len(x))
    return PointData(name, x[perm[n_hold:]], x[perm[:n_hold]])


def load_data(
    name: str,
    path: str | None = None,
    *,
    n_train: int = 20000,
    n_holdout: int = 5000,
    holdout_fraction: float = 0.2,
    seed: int = 0,
) -> PointData:
    """Toy set `name` (independent train/held-out draws from `seed`) or a user file, split."""
    if name == "file":
        if path is None:
            raise DataError("data.path is required when data.name is 'file'")
        return split_points(load_points(path), str(path), holdout_fraction, seed)
    if name not in TOY_DATASETS:
        raise DataError(
            f"unknown dataset '{name}' (choose 'file' or one of {', '.join(TOY_DATASETS)})"
        )
    train_rng, hold_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return PointData(
        name, sample_toy(name, n_train, train_rng), sample_toy(name, n_holdout, hold_rng)
    )
