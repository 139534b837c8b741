"""The run directory: made, refused, replaced or resumed by one dxmi process at a time.

A folder is a dxmi run folder only when dxmi made it: `MARKER` is written at creation, and
``--overwrite`` replaces nothing else (never a project folder, never a folder that holds one of
the run's inputs). While a run writes into the folder it holds an exclusive lock on `LOCK`
(``flock``: the kernel drops it when the process dies, so a killed run leaves no stale lock); a
second writer fails at once with a message that names the holder. A resumed run keeps the
finished run's ``metrics.json`` until its checkpoint has loaded (`RunDir.start`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from dxmi.atomic import atomic_write, write_json
from dxmi.config import ConfigError, load_config, save_config, to_dict

try:  # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

MARKER = ".dxmi-run"
LOCK = ".dxmi-lock"
_OWN = {MARKER, LOCK}


class RunDirError(RuntimeError):
    """A run directory that cannot be used as asked; the message says why and what to do."""


def _first_difference(
    a: dict, b: dict, free: frozenset[tuple[str, str]], prefix: str = ""
) -> str | None:
    for key in sorted(set(a) | set(b)):
        if (prefix.rstrip("."), key) in free:
            continue
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            found = _first_difference(va, vb, free, f"{prefix}{key}.")
            if found:
                return found
        elif va != vb:
            return f"{prefix}{key} is {va!r} there, {vb!r} here"
    return None


class RunKind(NamedTuple):
    """What a kind of run may not change on resume: its config `sections`, apart from the
    (section, key) pairs in `free`."""

    sections: tuple[str, ...]
    free: frozenset[tuple[str, str]] = frozenset()


def check_run_config(out: Path, config, kind: RunKind) -> None:
    """Raise `RunDirError` unless the run in `out` was made with a config compatible with `config`.

    `config` is a `Config` or an `ImageConfig`; `kind.sections` must not change, except the
    (section, key) pairs in `kind.free` (e.g. the iteration count, to train further).
    """
    saved = out / "config.yaml"
    if not saved.is_file():
        raise RunDirError(f"{out}: not a dxmi run directory (no config.yaml); cannot resume")
    try:
        old = load_config(saved, cls=type(config))
    except ConfigError as err:
        raise RunDirError(f"{out}: cannot resume, its config.yaml is unusable ({err})") from None
    old_d, new_d = to_dict(old), to_dict(config)
    sections = kind.sections
    diff = _first_difference(
        {k: old_d[k] for k in sections}, {k: new_d[k] for k in sections}, kind.free
    )
    if diff:
        raise RunDirError(f"{out}: made with an incompatible config ({diff}); use a new --out")


def _lock(folder: Path) -> int | None:
    """An exclusive lock on ``folder/LOCK`` (its file descriptor), or `RunDirError` naming the
    process that holds it."""
    if fcntl is None:  # pragma: no cover
        return None
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise RunDirError(
            f"{folder}: in use by another dxmi run ({holder}); wait for it to end or use "
            "another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
    return fd


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


class RunDir:
    """An open run directory. The main process holds its lock until `close` (or the end of a
    ``with`` block); other processes of a distributed run get one with ``owner=False``, which
    writes nothing."""

    def __init__(self, path: Path, config, owner: bool = True, lock: int | None = None):
        self.path, self.config, self.owner, self._lock = path, config, owner, lock

    def start(self) -> None:
        """The run goes on from here (its checkpoint, if any, has loaded): the finished run's
        ``metrics.json`` is void until the new one is written, and ``config.yaml`` is this run's."""
        if self.owner:
            (self.path / "metrics.json").unlink(missing_ok=True)
            save_config(self.config, self.path / "config.yaml")

    def finish(self, metrics: dict) -> None:
        """Write ``metrics.json``, last: its presence marks a finished run."""
        if self.owner:
            write_json(self.path / "metrics.json", metrics)

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_run(
    out: str | Path,
    config,
    *,
    resume: bool,
    overwrite: bool,
    kind: RunKind,
    inputs: Iterable[str | Path | None] = (),
    owner: bool = True,
) -> RunDir:
    """Make, replace or reopen the run directory `out` for `config`, locked by this process.

    An existing non-empty folder is resumed (``resume``: its config must agree with `config` as
    `kind` says), or replaced (``overwrite``: only a folder dxmi made, and none that holds one
    of `inputs`), or refused. Nothing is deleted before these checks pass.
    Only the `owner` (the main process of a distributed run) touches the folder.
    """
    out = Path(out)
    if not owner:
        return RunDir(out, config, owner=False)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out}: exists and is not a folder; choose another --out")
    # a folder holding only the marker and the lock is one that a killed run left before it
    # wrote its config: it starts afresh
    fresh = not out.is_dir() or all(p.name in _OWN for p in out.iterdir())
    lock = None
    try:
        if not fresh:
            if resume:
                lock = _lock(out)
                check_run_config(out, config, kind)
            elif overwrite:
                if not (out / MARKER).is_file():
                    raise RunDirError(
                        f"{out}: not a folder dxmi made (no {MARKER}); --overwrite replaces only "
                        "dxmi run folders: choose another --out"
                    )
                held = [p for p in inputs if p is not None and _is_inside(Path(p), out)]
                if held:
                    raise RunDirError(
                        f"{out}: holds {held[0]}, an input of this run; --overwrite would delete "
                        "it: choose another --out"
                    )
                lock = _lock(out)
                for child in out.iterdir():
                    if child.name != LOCK:
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
                fresh = True
            else:
                raise RunDirError(
                    f"{out}: already exists; pass --resume to continue or --overwrite"
                )
        out.mkdir(parents=True, exist_ok=True)
        if lock is None:
            lock = _lock(out)
        if not (out / MARKER).is_file():  # first, so that what follows is known to be dxmi's
            write_json(out / MARKER, {"dxmi_run": 1})
        if fresh:
            save_config(config, out / "config.yaml")
    except BaseException:
        if lock is not None:
            os.close(lock)
        raise
    return RunDir(out, config, owner=True, lock=lock)


def log_record(writer, history: list, path: Path | None, step: int, stats: dict) -> None:
    """Append one record of scalars to `history`, and to ``history.jsonl`` (`path`) and
    TensorBoard (`writer`) where given (an in-memory fit has neither)."""
    record = {"iteration": step, **{k: float(v) for k, v in stats.items()}}
    history.append(record)
    if path is not None:
        with path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
    if writer is not None:
        for key, value in stats.items():
            writer.add_scalar(key, value, step)


def read_history(path: Path, upto: int) -> list[dict]:
    """Logged records up to iteration `upto`; later ones (from an interrupted run) are dropped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill: it and what follows are redone
            break
        if record["iteration"] > upto:
            break
        records.append(record)
    atomic_write(path, lambda p: p.write_text("".join(json.dumps(r) + "\n" for r in records)))
    return records
