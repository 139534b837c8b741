"""Checkpoints as safetensors (tensors) plus JSON (everything else); nothing is ever unpickled.

A checkpoint ``<stem>`` is two files, ``<stem>.safetensors`` and ``<stem>.json``. Both are written
to temporary names and renamed, tensors first; the JSON records the SHA-256 of the tensor file,
so a half-written or mismatched pair is detected on load instead of being resumed from.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from dxmi._version import __version__
from dxmi.atomic import atomic_write, write_json

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt or does not fit; the message names the file."""


def flatten_state(obj: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Split nested dicts/lists into tensors (by dotted key) and a JSON-able skeleton.

    Dict keys keep their type (optimizer states use int keys), tuples become lists.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, key: str) -> Any:
        if isinstance(node, torch.Tensor):
            tensors[key] = node.detach().cpu().contiguous()
            return {"__tensor__": key}
        if isinstance(node, dict):
            return {"__dict__": [[k, walk(v, f"{key}.{k}")] for k, v in node.items()]}
        if isinstance(node, (list, tuple)):
            return [walk(v, f"{key}.{i}") for i, v in enumerate(node)]
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        raise TypeError(f"cannot store {type(node).__name__} at '{key}' in a checkpoint")

    return tensors, walk(obj, prefix)


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `flatten_state`."""
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        return {k: unflatten_state(v, tensors) for k, v in skeleton["__dict__"]}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


def sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(stem: str | Path, state: dict, meta: dict | None = None) -> None:
    """Write `state` (nested dicts of tensors and plain values) and `meta` atomically."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors, skeleton = flatten_state(state, "state")
    weights = stem.with_suffix(".safetensors")
    atomic_write(weights, lambda p: save_file(tensors, str(p)))
    record = {
        "format": FORMAT_VERSION,
        "dxmi_version": __version__,
        "sha256": sha256(weights),
        "meta": meta or {},
        "state": skeleton,
    }
    write_json(stem.with_suffix(".json"), record, indent=1)


def load_checkpoint(stem: str | Path) -> tuple[dict, dict]:
    """Read a checkpoint written by `save_checkpoint`; returns (state, meta)."""
    stem = Path(stem)
    weights, record_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    for path in (record_path, weights):
        if not path.is_file():
            raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        record = json.loads(record_path.read_text())
        skeleton, sha = record["state"], record["sha256"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CheckpointError(f"{record_path}: corrupt checkpoint record ({err})") from None
    if record.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"{record_path}: unsupported checkpoint format {record.get('format')}"
        )
    if sha256(weights) != sha:
        raise CheckpointError(f"{weights}: corrupt or does not match {record_path.name} (hash)")
    try:
        tensors = load_file(str(weights))
        state = unflatten_state(skeleton, tensors)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise CheckpointError(f"{weights}: cannot read tensors ({err})") from None
    return state, record.get("meta", {})


def load_module_state(module: torch.nn.Module, state: dict, source: str) -> None:
    """`module.load_state_dict(state)` with a one-line error naming the mismatch and the file."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        key = (missing or unexpected)[0]
        what = "missing" if missing else "unexpected"
        raise CheckpointError(f"{source}: incompatible weights ({what} key '{key}')")
    for key, value in own.items():
        if value.shape != state[key].shape:
            raise CheckpointError(
                f"{source}: incompatible weights ('{key}' has shape {tuple(state[key].shape)}, "
                f"the model expects {tuple(value.shape)})"
            )
    module.load_state_dict(state)
