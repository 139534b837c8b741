"""Class-conditional images end to end on 8x8 digits: a teacher with class embeddings, a DxMI
sampler that takes labels, the same labels for every method of the table, and one-line errors
for labels that do not fit the model.

The measurable claims: fine-tuning lowers the few-step FID below the un-tuned start's, and the
samples are of the class asked (a nearest-class-mean classifier on pixels, fitted on the real
digits, puts them in it far above chance).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY_IMAGES

from dxmi.cli import main
from dxmi.config import ImageConfig, load_config
from dxmi.data.images import ClassLabelError, load_images
from dxmi.models.images import ImageSampler
from dxmi.networks.conv_energy import ConvEnergy
from dxmi.networks.unet import build_unet, check_class_labels, unet_classes
from dxmi.runs.images import finetune, pretrain

CONDITIONAL = [  # later keys win: the tiny image run, class-conditional, trimmed to fit CI
    *TINY_IMAGES,
    "unet.num_class_embeds=10",
    "teacher.iterations=300",
    "dxmi.iterations=80",
    "eval.n_samples=200",
    "eval.teacher_steps=10",
    "run.checkpoint_every=50",
]


def _nearest_mean_accuracy(images: np.ndarray, labels: np.ndarray) -> float:
    """Share of `images` whose nearest class mean (real digits, pixels) is the class asked."""
    data = load_images("digits")
    means = np.stack([data.train[data.train_labels == c].mean(0) for c in range(10)])
    d = ((images[:, None] - means[None]) ** 2).reshape(len(images), 10, -1).sum(-1)
    return float((d.argmin(1) == labels).mean())


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    out = tmp_path_factory.mktemp("cond-pretrain")
    return pretrain(load_config(None, CONDITIONAL, cls=ImageConfig), out)


@pytest.fixture(scope="module")
def run(teacher, tmp_path_factory):
    out = tmp_path_factory.mktemp("cond-finetune") / "ft"
    sampler = finetune(load_config(None, CONDITIONAL, cls=ImageConfig), teacher, out)
    return sampler, out


def test_conditional_finetune_improves_and_keeps_the_class(run):
    sampler, out = run
    m = json.loads((out / "metrics.json").read_text())
    assert m["num_classes"] == 10
    methods = m["methods"]
    assert methods["dxmi"]["fid"] < 0.8 * methods["init"]["fid"], methods
    # the table holds what a user would pick instead, on the same classes
    assert {"dpmsolver++", "unipc", "teacher"} <= set(methods)
    assert methods["teacher"]["solver"] == "dpmsolver++" and methods["teacher"]["steps"] == 10
    labels = np.arange(200) % 10
    x = sampler.sample(200, seed=7, labels=labels)
    assert _nearest_mean_accuracy(x, labels) > 0.5  # chance: 0.1
    # a single class for every image, as `dxmi sample --class 3` asks
    threes = sampler.sample(50, seed=7, labels=3)
    assert _nearest_mean_accuracy(threes, np.full(50, 3)) > 0.5


def test_conditional_sampler_exports_and_reloads_with_its_classes(run, tmp_path, capsys):
    sampler, out = run
    loaded = ImageSampler.load(out / "sampler")
    assert loaded.num_classes == 10
    labels = np.array([0, 1, 2, 3, 9, 9])
    np.testing.assert_allclose(
        loaded.sample(6, seed=1, labels=labels), sampler.sample(6, seed=1, labels=labels), atol=1e-5
    )
    # the diffusers pipeline takes class_labels= and draws the same images
    from dxmi import DxMIPipeline

    pipe = DxMIPipeline.from_pretrained(out / "sampler", use_safetensors=True)
    images = pipe(
        batch_size=6,
        generator=torch.Generator().manual_seed(1),
        class_labels=torch.as_tensor(labels),
        output_type="pt",
    ).images
    np.testing.assert_allclose(images.numpy(), loaded.sample(6, seed=1, labels=labels), atol=1e-5)
    with pytest.raises(ClassLabelError, match="class-conditional"):
        pipe(batch_size=2)
    # the command line: --class K for every image; the labels are kept in the .npz
    npz = tmp_path / "threes.npz"
    assert main(["sample", "--run", str(out), "-n", "5", "--class", "3", "--out", str(npz)]) == 0
    with np.load(npz) as f:
        assert f["images"].shape == (5, 1, 8, 8) and f["labels"].tolist() == [3] * 5
    capsys.readouterr()
    assert main(["sample", "--run", str(out), "-n", "5", "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "give class labels" in err and len(err.splitlines()) == 1
    assert main(["sample", "--run", str(out), "--class", "10", "--out", str(npz)]) == 2
    assert "class label 10 out of range for 10 classes" in capsys.readouterr().err


def test_class_label_errors():
    cond = build_unet(1, 8, [16], 1, False, 8, num_class_embeds=4)
    plain = build_unet(1, 8, [16], 1, False, 8)
    assert unet_classes(cond) == 4 and unet_classes(plain) is None
    with pytest.raises(ClassLabelError, match="unconditional; it takes no class labels"):
        check_class_labels([0, 1], None, "sampler")
    with pytest.raises(ClassLabelError, match="class-conditional \\(4 classes\\)"):
        check_class_labels(None, 4, "sampler")
    with pytest.raises(ClassLabelError, match="class label -1 out of range"):
        check_class_labels([0, -1], 4, "sampler")
    with pytest.raises(ClassLabelError, match="integers of shape"):
        check_class_labels([0.5], 4, "sampler")
    # with the number of images asked for: one int for all of them, any other count refused
    assert check_class_labels(2, 4, "sampler", 3).tolist() == [2, 2, 2]
    with pytest.raises(ClassLabelError, match="2 class labels for 3 images"):
        check_class_labels([1, 2], 4, "sampler", 3)
    other = build_unet(1, 8, [16], 1, False, 8)
    other.register_to_config(class_embed_type="timestep")
    with pytest.raises(ClassLabelError, match="class_embed_type 'timestep'"):
        unet_classes(other)


def test_a_conditional_teacher_needs_labelled_data_in_its_range(tmp_path):
    # 8x8 digits have ten classes: a teacher for four cannot take them
    sets = [*CONDITIONAL, "unet.num_class_embeds=4", "teacher.iterations=2"]
    with pytest.raises(ClassLabelError, match="class label 9 out of range.*4 classes"):
        pretrain(load_config(None, sets, cls=ImageConfig), tmp_path / "p")
    # an unlabelled .npz for a class-conditional teacher
    np.savez(tmp_path / "u.npz", images=np.zeros((20, 1, 8, 8), np.float32))
    sets = [*CONDITIONAL, "data.name=npz", f"data.path={tmp_path / 'u.npz'}"]
    with pytest.raises(ClassLabelError, match="u.npz: class labels are asked for"):
        pretrain(load_config(None, sets, cls=ImageConfig), tmp_path / "q")


def test_class_conditional_energy_is_a_projection_head():
    e = ConvEnergy(1, [8, 8], num_classes=3, class_head="projection")
    x = torch.randn(4, 1, 8, 8)
    a, b = (
        e(x, labels=torch.zeros(4, dtype=torch.long)),
        e(x, labels=torch.ones(4, dtype=torch.long)),
    )
    assert a.shape == (4,) and not torch.allclose(a, b)  # the class moves the energy
    with pytest.raises(ValueError, match="pass labels exactly"):
        e(x)
    with pytest.raises(ValueError, match="pass labels exactly"):
        ConvEnergy(1, [8])(x, labels=torch.zeros(4, dtype=torch.long))


def test_conditional_energy_trains(teacher, tmp_path):
    sets = [*CONDITIONAL, "energy.class_conditional=true", "dxmi.iterations=6"]
    sets += ["eval.n_samples=50", "eval.baselines=[]", "eval.teacher_steps=0"]
    finetune(load_config(None, sets, cls=ImageConfig), teacher, tmp_path / "e")
    m = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert set(m["methods"]) == {"dxmi", "init", "floor"}
    assert json.loads((tmp_path / "e" / "energy.json").read_text())["meta"]["num_classes"] == 10


def test_classifier_class_head_is_bayes_rule():
    """class_head="classifier": E(x, y) = E(x) + c * CE(logits(x), y), the marginal without labels,
    the logits from the same pass."""
    torch.manual_seed(0)
    e = ConvEnergy(1, [8, 8], num_classes=3, class_head="classifier", class_weight=0.5)
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 1])
    marginal, logits = e(x, logits=True)
    assert logits.shape == (4, 3) and torch.equal(marginal, e(x))
    nll = -torch.log_softmax(logits, dim=1)[torch.arange(4), y]
    torch.testing.assert_close(e(x, labels=y) - marginal, 0.5 * nll)
    with pytest.raises(ValueError, match="no labels"):
        e(x, labels=y, logits=True)
    with pytest.raises(ValueError, match="classifier class head"):
        ConvEnergy(1, [8], num_classes=3, class_head="projection")(x, labels=y, logits=True)
    with pytest.raises(ValueError, match="class_head"):
        ConvEnergy(1, [8], num_classes=3, class_head="bayes")
    # separate_classifier: the same rule, the logits from a trunk of their own, so that the
    # marginal energy does not move when the classifier's features do
    s = ConvEnergy(1, [8, 8], num_classes=3, class_head="separate_classifier", class_weight=0.5)
    marginal, logits = s(x, logits=True)
    nll = -torch.log_softmax(logits, dim=1)[torch.arange(4), y]
    torch.testing.assert_close(s(x, labels=y) - marginal, 0.5 * nll)
    with torch.no_grad():
        for p in s.class_trunk.parameters():
            p.add_(0.1)
    assert torch.equal(s(x), marginal) and not torch.allclose(s(x, logits=True)[1], logits)


def test_classifier_class_head_learns_the_classes(teacher, tmp_path):
    """The EBM step trains the head by cross-entropy on the data: its loss falls from log 10
    (an untrained head stays within a few hundredths of it)."""
    sets = [*CONDITIONAL, "energy.class_conditional=true", "energy.class_head=classifier"]
    sets += ["dxmi.iterations=40", "eval.n_samples=50", "eval.baselines=[]"]
    sets += ["eval.teacher_steps=0", "eval.every=0"]
    finetune(load_config(None, sets, cls=ImageConfig), teacher, tmp_path / "c")
    rows = [json.loads(line) for line in (tmp_path / "c" / "history.jsonl").open()]
    ce = [r["class_ce"] for r in rows if "class_ce" in r]
    assert abs(ce[0] - np.log(10)) < 0.1 and ce[-1] < ce[0] - 0.15, ce
    meta = json.loads((tmp_path / "c" / "energy.json").read_text())["meta"]
    assert meta["config"]["class_head"] == "classifier"
