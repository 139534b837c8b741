"""IDX files (the MNIST family's format) and Fashion-MNIST from them.

IDX (http://yann.lecun.com/exdb/mnist/): a 4-byte magic (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values. Fashion-MNIST
(https://github.com/zalandoresearch/fashion-mnist) ships four such files, gzipped; Debian's
``dataset-fashion-mnist`` installs them under /usr/share/datasets/fashion-mnist.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from dxmi.data.points import DataError

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array in an IDX file (gzipped when its name ends in .gz)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable gzip file ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise DataError(f"{path}: not an IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: IDX header truncated")
    shape = tuple(int(n) for n in np.frombuffer(raw, ">u4", ndim, offset=4))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, shape {shape} needs {expected}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def fashion_mnist_files(root: str | Path | None = None, split: str = "train") -> list[Path]:
    """The gzipped IDX files (images, labels) of Fashion-MNIST's `split` under `root`
    (default Debian's folder)."""
    if split not in ("train", "test"):
        raise DataError(f"Fashion-MNIST split must be 'train' or 'test', got {split!r}")
    root = Path(root if root is not None else FASHION_MNIST)
    prefix = "train" if split == "train" else "t10k"
    return [root / f"{prefix}-{kind}-idx{n}-ubyte.gz" for kind, n in (("images", 3), ("labels", 1))]


def load_fashion_mnist(
    root: str | Path | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's `split` ('train': 60,000, 'test': 10,000) as uint8 images (N, 1, 28, 28)
    and int64 labels (FASHION_CLASSES); `root` holds the four gzipped IDX files."""
    files = fashion_mnist_files(root, split)
    if not files[0].is_file():
        raise DataError(
            f"{files[0]}: not found (Fashion-MNIST: apt-get install dataset-fashion-mnist, or "
            "a folder with the four files of github.com/zalandoresearch/fashion-mnist)"
        )
    x, y = read_idx(files[0]), read_idx(files[1])
    if x.ndim != 3 or x.dtype != np.uint8 or y.shape != (len(x),):
        raise DataError(
            f"{files[0].parent}: images {x.shape} {x.dtype} and labels {y.shape} do not match"
        )
    return x[:, None], y.astype(np.int64)
