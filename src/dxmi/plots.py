"""PNG figures of a run: the chain step by step, the energy landscape, samples, training curves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _scatter(ax, pts: np.ndarray, title: str, extent: float, color: str = "C0") -> None:
    if pts.shape[1] >= 2:
        ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.4, color=color, rasterized=True)
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
        ax.set_aspect("equal")
    else:
        ax.hist(pts[:, 0], bins=80, color=color, density=True)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_chain(states: np.ndarray, path: str | Path, extent: float = 4.5) -> None:
    """States (T + 1, N, D) in data units, one panel per step (t = 0 noise, t = T sample)."""
    n = len(states)
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.4))
    for t, ax in enumerate(np.atleast_1d(axes)):
        _scatter(ax, states[t], f"t = {t}" + (" (noise)" if t == 0 else ""), extent)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_samples(named: dict[str, np.ndarray], path: str | Path, extent: float = 4.5) -> None:
    """One scatter panel per named sample set (e.g. data, DxMI, baselines)."""
    n = len(named)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.8))
    for i, (ax, (name, pts)) in enumerate(zip(np.atleast_1d(axes), named.items())):
        _scatter(ax, pts, name, extent, color=f"C{i}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_energy(
    energy_fn: Callable[[np.ndarray], np.ndarray],
    data: np.ndarray,
    path: str | Path,
    extent: float = 4.5,
    size: int = 150,
) -> None:
    """The energy E(x) on a 2D grid, with data points over it (lower energy = more likely)."""
    xs = np.linspace(-extent, extent, size)
    gx, gy = np.meshgrid(xs, xs)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    e = np.asarray(energy_fn(grid)).reshape(size, size)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    im = axes[0].imshow(
        e, origin="lower", extent=(-extent, extent, -extent, extent), cmap="viridis"
    )
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    axes[0].set_title("energy E(x)")
    q = np.exp(-(e - e.min()) / max(e.std(), 1e-8) * 3)  # contrast for the eye only
    axes[1].imshow(q, origin="lower", extent=(-extent, extent, -extent, extent), cmap="magma")
    axes[1].scatter(data[:2000, 0], data[:2000, 1], s=0.5, color="white", alpha=0.3)
    axes[1].set_title("exp(-E), data in white")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(
    history: Sequence[dict], path: str | Path, keys: Sequence[str] | None = None
) -> None:
    """Training curves: one panel per logged scalar against the iteration."""
    if not history:
        return
    if keys is None:  # every logged scalar, in first-seen order (some start late)
        keys = list(dict.fromkeys(k for h in history for k in h if k != "iteration"))
    cols = 3
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
    it = [h["iteration"] for h in history]
    for ax, key in zip(axes.ravel(), keys):
        ax.plot(it, [h.get(key, np.nan) for h in history], lw=1)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
