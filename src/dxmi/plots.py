"""PNG figures of a run: the chain step by step, the energy landscape, samples, training curves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.special import log_softmax  # noqa: E402


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


def plot_grid_densities(
    named_log_q: dict[str, np.ndarray], extent: float, path: str | Path
) -> None:
    """Densities on a square grid over [-extent, extent]^2, side by side, each normalised over
    the grid and drawn on one shared colour scale (so a flatter model looks dimmer).

    `named_log_q` maps a title to unnormalised log-densities on the grid of
    `metrics.density.make_grid` (size^2 values, rows = y), e.g. the truth and -E / T of EBMs.
    """
    probs = {}
    for name, log_q in named_log_q.items():
        v = np.asarray(log_q, np.float64).ravel()
        size = int(round(np.sqrt(v.size)))
        if size * size != v.size:
            raise ValueError(f"{name}: {v.size} values are not a square grid")
        probs[name] = np.exp(log_softmax(v)).reshape(size, size)
    top = max(p.max() for p in probs.values())
    fig, axes = plt.subplots(1, len(probs), figsize=(3.3 * len(probs), 3.3), squeeze=False)
    for ax, (name, p) in zip(axes[0], probs.items()):
        ax.imshow(
            p,
            origin="lower",
            extent=(-extent, extent, -extent, extent),
            cmap="magma",
            vmin=0,
            vmax=top,
        )
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def logged_series(history: Sequence[dict], key: str) -> tuple[list[int], list[float]]:
    """The iterations at which `key` was logged, and its values there."""
    rows = [h for h in history if key in h]
    return [h["iteration"] for h in rows], [h[key] for h in rows]


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
    for ax, key in zip(axes.ravel(), keys):
        it, values = logged_series(history, key)
        # sparse scalars (FID every few hundred iterations) get markers: a line through the
        # gaps would need NaNs between the points, and matplotlib draws nothing for those
        sparse = len(it) < len(history) / 2
        ax.plot(it, values, lw=1, marker="o" if sparse else None, ms=3)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def image_grid(images: np.ndarray, nrow: int = 8, pad: int = 1) -> np.ndarray:
    """Images (N, C, H, W) in [-1, 1] tiled into one uint8 picture (H', W', C)."""
    x = ((np.clip(images, -1, 1) + 1) * 127.5).round().astype(np.uint8)
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    grid = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = x[i].transpose(1, 2, 0)
    return grid


def save_image_grid(images: np.ndarray, path: str | Path, nrow: int = 8, scale: int = 2) -> None:
    """Write a PNG grid of images (N, C, H, W) in [-1, 1], each pixel `scale` x `scale`."""
    from PIL import Image

    grid = image_grid(images, nrow)
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    img.resize((img.width * scale, img.height * scale), Image.NEAREST).save(path)


def save_image_chain(states: np.ndarray, path: str | Path, scale: int = 2) -> None:
    """A chain (T + 1, N, C, H, W): one row per image, one column per step (noise first)."""
    steps, n = states.shape[:2]
    tiles = states.transpose(1, 0, 2, 3, 4).reshape(n * steps, *states.shape[2:])
    save_image_grid(tiles, path, nrow=steps, scale=scale)
