"""The one way dxmi writes a file: to a temporary name beside it, synced, then renamed over it, so
that a reader (or a run resumed after ``kill -9``) sees the old file or the new one, never half."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` writes the content to `tmp`; it then replaces `path` in one rename.

    The temporary name is unique to this call, so that two processes writing the same file
    (e.g. two benchmark jobs filling one data cache) never rename each other's half-written file.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text))


def write_json(path: str | Path, obj: object, indent: int | None = 2) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=indent)))
