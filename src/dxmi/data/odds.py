"""ODDS anomaly-detection sets, built from their UCI sources as R's mlbench package ships them.

ODDS (Rayana 2016, https://odds.cs.stonybrook.edu) and ADBench (Han et al. 2022,
https://github.com/Minqi824/ADBench) make anomaly sets out of UCI classification sets: one or
more classes are the outliers, some rows and columns are dropped. Debian ships the UCI sources
as R data files (``apt-get install r-cran-mlbench``); they are read with the ``rdata`` parser
(no R, nothing unpickled), and every construction is checked against the counts ODDS publishes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dxmi.data.points import DataError

MLBENCH_DATA = Path("/usr/lib/R/site-library/mlbench/data")  # Debian's r-cran-mlbench
INSTALL = "apt-get install r-cran-mlbench (Debian / Ubuntu) and pip install rdata"


@dataclass(frozen=True)
class OddsSet:
    """One ODDS construction: which classes are outliers, what is dropped, and ODDS's counts."""

    file: str  # the R data file in mlbench/data, without .rda; its object has the same name
    label: str  # the class column
    outliers: tuple[str, ...]
    n: int  # ODDS's published rows, features and outliers
    d: int
    n_outliers: int
    drop_classes: tuple[str, ...] = ()  # rows of these classes are discarded
    drop_columns: tuple[str, ...] = ()
    note: str = ""


ODDS: dict[str, OddsSet] = {
    "breastw": OddsSet(
        "BreastCancer", "Class", ("malignant",), 683, 9, 239, drop_columns=("Id",),
        note="Wisconsin breast cancer (original); malignant is the outlier class; the 16 rows "
        "with a missing value are dropped",
    ),
    "glass": OddsSet(
        "Glass", "Type", ("6",), 214, 9, 9, note="glass identification; type 6 (tableware)"
    ),
    "ionosphere": OddsSet(
        "Ionosphere", "Class", ("bad",), 351, 33, 126, drop_columns=("V2",),
        note="radar returns; 'bad' is the outlier class; V2 (constant 0) is dropped",
    ),
    "pima": OddsSet(
        "PimaIndiansDiabetes", "diabetes", ("pos",), 768, 8, 268,
        note="Pima Indians diabetes; the diabetic patients are the outliers",
    ),
    "satellite": OddsSet(
        "Satellite", "classes", ("cotton crop", "damp grey soil", "vegetation stubble"),
        6435, 36, 2036, note="Statlog Landsat; the three smallest classes are the outliers",
    ),
    "shuttle": OddsSet(
        "Shuttle", "Class", ("Fpv.Close", "Fpv.Open", "Bypass", "Bpv.Close", "Bpv.Open"),
        49097, 9, 3511, drop_classes=("High",),
        note="Statlog shuttle; class 1 (Rad.Flow) is normal, class 4 (High) is discarded",
    ),
}  # fmt: skip


def _read_frame(path: Path, name: str):
    """The data frame `name` inside the R data file `path`."""
    try:
        import rdata
    except ImportError as e:
        raise DataError(f"{path}: reading R data files needs the rdata package ({INSTALL})") from e
    if not path.is_file():
        raise DataError(f"{path}: not found; the ODDS sources come from {INSTALL}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Unknown encoding")  # R files without one
        try:
            objects = rdata.read_rda(path)
        except Exception as e:  # the parser's own errors vary; name the file
            raise DataError(f"{path}: not a readable R data file ({e})") from e
    if name not in objects:
        raise DataError(f"{path}: holds no object '{name}' (it has {', '.join(objects)})")
    return objects[name]


def load_odds(name: str, root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ODDS set `name` (see ODDS) as float64 features (n, d) and labels (1 = outlier).

    `root` is the folder of mlbench's R data files (default: Debian's). The counts are checked
    against ODDS's, so another copy of the sources that differs is an error, not a silently
    different benchmark.
    """
    if name not in ODDS:
        raise DataError(f"unknown ODDS set '{name}' (choose from {', '.join(ODDS)})")
    spec = ODDS[name]
    path = Path(root if root is not None else MLBENCH_DATA) / f"{spec.file}.rda"
    frame = _read_frame(path, spec.file)
    missing = [c for c in (spec.label, *spec.drop_columns) if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: no column {', '.join(map(repr, missing))}")
    label = frame[spec.label].astype(str)
    frame = frame[~label.isin(spec.drop_classes).to_numpy()]
    label = label.loc[frame.index]
    frame = frame.drop(columns=[spec.label, *spec.drop_columns]).dropna()
    label = label.loc[frame.index]
    try:
        # factors (e.g. BreastCancer's ordered levels '1'..'10') hold numbers as their labels
        x = np.column_stack([frame[c].astype(str).astype(float) for c in frame.columns])
    except ValueError as e:
        raise DataError(f"{path}: a feature column is not numeric ({e})") from e
    y = label.isin(spec.outliers).to_numpy().astype(np.int64)
    got, want = (*x.shape, int(y.sum())), (spec.n, spec.d, spec.n_outliers)
    if got != want:
        raise DataError(
            f"{path}: {name} built as {got[0]} rows, {got[1]} features, {got[2]} outliers; "
            f"ODDS has {want[0]}, {want[1]}, {want[2]} (another version of the source?)"
        )
    return x, y


def adbench_split(
    x: np.ndarray, y: np.ndarray, seed: int, test_fraction: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ADBench's split: stratified, `test_fraction` held out; the training rows keep their
    outliers (the unsupervised setting fits on them as they come, labels unseen)."""
    from sklearn.model_selection import train_test_split

    return tuple(train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed))
