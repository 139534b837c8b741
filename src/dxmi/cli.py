"""The `dxmi` command: train, sample, energy, evaluate, detect (points); pretrain, finetune
(images). Errors are one line, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from dxmi.checkpoint import CheckpointError
from dxmi.config import ConfigError
from dxmi.data import DataError, load_data, load_points
from dxmi.irl.trainer import TrainingDiverged


class UsageError(ValueError):
    """A command-line value that cannot be used (a count, an output path)."""


# OSError last: a disk that is full or a folder that cannot be written is one line too
EXPECTED = (ConfigError, DataError, CheckpointError, TrainingDiverged, UsageError, OSError)


def _output(path: str, suffixes: tuple[str, ...], what: str) -> Path:
    """`path` as the file to write: one of `suffixes` (none given: any), not a folder; its folder
    is created. The file lands exactly there (numpy would add .npy or .npz to other names)."""
    out = Path(path)
    if out.is_dir():
        raise UsageError(f"--out {path}: is a folder; name the {what} file to write")
    if suffixes and out.suffix.lower() not in suffixes:
        raise UsageError(f"--out {path}: write {what} to a {' or '.join(suffixes)} file")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _count(n: int, name: str = "-n") -> int:
    if n < 1:
        raise UsageError(f"{name} must be at least 1, got {n}")
    return n


def _write_points(path: Path, x: np.ndarray) -> None:
    if path.suffix.lower() == ".csv":
        np.savetxt(path, x, delimiter=",", fmt="%.7g")
    else:
        with path.open("wb") as fh:  # np.save(path) would append .npy to any other name
            np.save(fh, x)


def cmd_config(args: argparse.Namespace) -> None:
    """Print the resolved config (file, defaults and --set) as YAML: what a run would record."""
    import yaml

    from dxmi.config import Config, ImageConfig, load_config, to_dict

    config = load_config(args.config, args.set, cls=ImageConfig if args.images else Config)
    print(yaml.safe_dump(to_dict(config), sort_keys=False), end="")


def cmd_train(args: argparse.Namespace) -> None:
    from dxmi.config import load_config
    from dxmi.runs.evaluation import TeacherWarning
    from dxmi.runs.points import train

    config = load_config(args.config, args.set)
    with warnings.catch_warnings():  # printed below the table instead
        warnings.simplefilter("ignore", TeacherWarning)
        train(config, args.out, resume=args.resume, overwrite=args.overwrite)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun / accelerate: print once
        return
    metrics = json.loads((Path(args.out) / "metrics.json").read_text())
    _print_metrics(metrics)
    print(f"run directory: {args.out}")


def _image_sampler_dir(run: str) -> Path | None:
    """The exported image sampler of a fine-tune run (or the sampler folder itself), if any."""
    for folder in (Path(run) / "sampler", Path(run)):
        if (folder / "sampler.json").is_file():
            return folder
    return None


def cmd_pretrain(args: argparse.Namespace) -> None:
    from dxmi.config import ImageConfig, load_config
    from dxmi.runs.images import pretrain

    config = load_config(args.config, args.set, cls=ImageConfig)
    teacher = pretrain(config, args.out, resume=args.resume, overwrite=args.overwrite)
    if int(os.environ.get("RANK", "0")) == 0:
        m = json.loads((Path(args.out) / "metrics.json").read_text())
        print(
            f"teacher: {teacher} ({m['parameters']:,} parameters, final loss {m['final_loss']:.4f})"
        )


def cmd_finetune(args: argparse.Namespace) -> None:
    from dxmi.config import ImageConfig, load_config
    from dxmi.runs.images import finetune

    config = load_config(args.config, args.set, cls=ImageConfig)
    finetune(config, args.teacher, args.out, resume=args.resume, overwrite=args.overwrite)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    m = json.loads((Path(args.out) / "metrics.json").read_text())
    first = next(iter(m["methods"].values()))
    print(f"{config.data.name} {m['shape']}: {first['n_samples']} samples vs {first['reference']}")
    acc = "class_accuracy" in first  # class-conditional, scored by a classifier
    print(
        f"{'':12s}{'steps':>6s}{'FID':>10s}{'KID':>10s}{'prec':>7s}{'recall':>7s}"
        + (f"{'class acc':>10s}" if acc else "")
    )
    for name, r in m["methods"].items():
        print(
            f"{name:12s}{r['steps']:6d}{r['fid']:10.3f}{r['kid']:10.4f}"
            f"{r['precision']:7.3f}{r['recall']:7.3f}"
            + (f"{r['class_accuracy']:10.3f}" if acc else "")
        )
    chosen = m.get("selection")
    picked = f" (iteration {chosen['iteration']}, lowest held-out FID)" if chosen else ""
    print(f"sampler: {Path(args.out) / 'sampler'}{picked}")


def cmd_sample(args: argparse.Namespace) -> None:
    from dxmi.models.points import DxMIModel

    _count(args.n)
    folder = _image_sampler_dir(args.run)
    if folder is not None:
        from dxmi.models.images import ImageSampler
        from dxmi.plots import save_image_grid

        out = _output(args.out, (".npz", ".png"), "images")
        sampler = ImageSampler.load(folder)
        x = sampler.sample(args.n, seed=args.seed, labels=args.label)
        if out.suffix.lower() == ".png":
            save_image_grid(x, out)
        else:
            labels = {} if args.label is None else {"labels": np.full(len(x), args.label)}
            with out.open("wb") as fh:  # np.savez(path) would append .npz to any other name
                np.savez(fh, images=x, **labels)
        if args.plot:
            save_image_grid(x[:64], args.plot)
        print(f"wrote {len(x)} images of shape {x.shape[1:]} ({sampler.steps} steps) to {out}")
        return
    if args.label is not None:
        raise UsageError(f"{args.run}: --class is for class-conditional image samplers")
    out = _output(args.out, (".npy", ".csv"), "points")
    model = DxMIModel.load(args.run)
    x = model.sample(args.n, seed=args.seed)
    _write_points(out, x)
    if args.plot:
        from dxmi.plots import plot_samples

        plot_samples({"DxMI samples": x}, args.plot, model.config.eval.grid_extent)
    print(f"wrote {len(x)} samples of dimension {x.shape[1]} to {args.out}")


def cmd_energy(args: argparse.Namespace) -> None:
    from dxmi.models.points import DxMIModel

    out = _output(args.out, (".npy", ".csv"), "energies")
    model = DxMIModel.load(args.run)
    e = model.energy(load_points(args.input), source=args.input)
    _write_points(out, e[:, None])
    print(f"wrote {len(e)} energies to {args.out} (lower = more likely)")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from dxmi.models.points import DxMIModel
    from dxmi.runs.points import ARRAY, evaluate_run, load_run_data, load_run_teacher

    out = _output(args.out, (".json",), "metrics") if args.out else None
    model = DxMIModel.load(args.run)
    if args.data:
        data = load_data("file", args.data)
        data.holdout = np.concatenate([data.train, data.holdout])  # score against the whole file
    elif model.config.data.name == ARRAY:
        raise DataError(f"{args.run} was trained on an array given to dxmi.train: pass --data FILE")
    else:
        data = load_run_data(model.config)
    if data.dim != model.dim:
        raise DataError(f"{args.data}: {data.dim} features, the model expects {model.dim}")
    from dxmi.runs.evaluation import TeacherWarning

    teacher = load_run_teacher(args.run, model.config, model.dim)
    with warnings.catch_warnings():  # printed below the table instead
        warnings.simplefilter("ignore", TeacherWarning)
        metrics = evaluate_run(model, None, data, teacher)
    _print_metrics(metrics)
    if out is not None:
        from dxmi.atomic import write_json

        write_json(out, metrics)


def cmd_detect_fit(args: argparse.Namespace) -> None:
    from dxmi.detect.points import detector_from_config

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: is a file; name a folder for the detector")
    det = detector_from_config(args.config, args.set)
    x = load_points(args.data)
    det.set_params(verbose=det.verbose or args.progress)
    det.fit(x)
    det.save(args.out)
    print(
        f"fit on {len(x)} rows of {x.shape[1]} features; threshold {det.threshold_:.4g} "
        f"(contamination {det.contamination}); saved to {args.out}"
    )


def cmd_detect_score(args: argparse.Namespace) -> None:
    from dxmi.detect.points import DxMIDetector

    out = _output(args.out, (), "scores")
    det = DxMIDetector.load(args.detector)
    x = load_points(args.data)
    if x.shape[1] != det.n_features_in_:
        raise DataError(
            f"{args.data}: {x.shape[1]} features, the detector was fit on {det.n_features_in_}"
        )
    scores = det.decision_function(x)
    predicted = (scores > det.threshold_).astype(int)
    columns, header = [scores, predicted], "score,predicted"
    labels = None
    if args.labels:
        labels = load_points(args.labels)
        if labels.shape != (len(x), 1) or not np.isin(labels, (0, 1)).all():
            raise DataError(
                f"{args.labels}: expected one 0/1 label per row of {args.data} "
                f"({len(x)} rows), got shape {labels.shape}"
            )
        labels = labels[:, 0].astype(int)
        columns.append(labels)
        header += ",label"
    table = np.column_stack(columns)
    np.savetxt(
        out,
        table,
        delimiter=",",
        fmt=["%.7g"] + ["%d"] * (len(columns) - 1),
        header=header,
        comments="",
    )
    print(
        f"wrote {len(x)} scores to {args.out} (higher = more anomalous); "
        f"{int(predicted.sum())} above the threshold"
    )
    if labels is not None:
        from sklearn.metrics import average_precision_score, roc_auc_score

        if labels.min() == labels.max():
            print("AUROC undefined: the labels hold one class only")
        else:
            print(
                f"AUROC {roc_auc_score(labels, scores):.4f}, "
                f"average precision {average_precision_score(labels, scores):.4f}"
            )


_TABLE_KEYS = ("precision", "recall", "mmd", "sliced_w2", "hist_kl", "hist_tv", "mode_fraction")


def _print_metrics(m: dict) -> None:
    from dxmi.runs.evaluation import TABLE_ROWS, row_kind

    print(
        f"dataset {m['dataset']}, T = {m['steps']}, {m['variant']} variant, "
        f"{m['n_samples']} samples vs {m['reference']}"
    )
    rows = sorted(
        (k for k in m if row_kind(k) in TABLE_ROWS), key=lambda k: TABLE_ROWS.index(row_kind(k))
    )
    keys = [k for k in _TABLE_KEYS if k in m["dxmi"]]
    print(f"{'':13s}" + "".join(f"{k:>16s}" for k in keys))
    for r in rows:
        print(f"{r:13s}" + "".join(f"{m[r][k]:16.4f}" for k in keys))
    for line in m.get("warnings", []):
        print(f"warning: {line}")
    if "ebm" in m:
        print(
            "EBM (auroc_uniform: held-out data vs uniform noise; ebm_*: vs the true density): "
            + ", ".join(f"{k} {v:.4f}" for k, v in m["ebm"].items())
        )


def _add_set_option(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config value, e.g. --set {example} (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dxmi", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def run_command(name: str, summary: str, config: str, out: str, example: str, func):
        """A subcommand that writes a run directory: --config, --out, --set, --resume, ..."""
        c = sub.add_parser(name, help=summary)
        c.add_argument("--config", help=config)
        c.add_argument("--out", required=True, help=out)
        _add_set_option(c, example)
        c.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
        c.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
        c.set_defaults(func=func)
        return c

    run_command(
        "train",
        "train a teacher (if configured) and DxMI on points; evaluate; draw",
        "YAML config (default: built-in defaults)",
        "run directory",
        "dxmi.steps=10",
        cmd_train,
    )
    run_command(
        "pretrain",
        "train a DDPM UNet teacher on images",
        "YAML image config (e.g. configs/mnist-cpu.yaml)",
        "run directory (the teacher goes to OUT/teacher)",
        "teacher.iterations=2000",
        cmd_pretrain,
    )
    ft = run_command(
        "finetune",
        "fine-tune a UNet teacher into a T-step DxMI sampler",
        "YAML image config (e.g. configs/mnist-cpu.yaml)",
        "run directory",
        "dxmi.steps=10",
        cmd_finetune,
    )
    ft.add_argument(
        "--teacher",
        required=True,
        help="a UNet2DModel folder (pretrain's OUT/teacher, a save_pretrained UNet or a "
        "DDPMPipeline folder)",
    )

    c = sub.add_parser("config", help="print the resolved config (defaults, file, --set) as YAML")
    c.add_argument("--config", help="YAML config (default: built-in defaults)")
    c.add_argument("--images", action="store_true", help="an image config (pretrain, finetune)")
    _add_set_option(c, "dxmi.steps=10")
    c.set_defaults(func=cmd_config)

    s = sub.add_parser("sample", help="draw samples from a finished run (points or images)")
    s.add_argument("--run", required=True, help="a train or finetune run directory")
    s.add_argument("-n", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help=".npy or .csv (points); .npz or .png (images)")
    s.add_argument("--plot", help="also save a scatter PNG (points) or a grid PNG (images) here")
    s.add_argument(
        "--class",
        dest="label",
        type=int,
        help="class of every image (a class-conditional sampler needs it; .npz keeps labels)",
    )
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("energy", help="evaluate the trained energy E(x) on points")
    e.add_argument("--run", required=True)
    e.add_argument("--input", required=True, help=".npy or .csv of N x D points")
    e.add_argument("--out", required=True, help=".npy or .csv")
    e.set_defaults(func=cmd_energy)

    v = sub.add_parser("evaluate", help="score a finished run against held-out data")
    v.add_argument("--run", required=True)
    v.add_argument(
        "--data", help="score against this .npy/.csv instead of the run's held-out split"
    )
    v.add_argument("--out", help="write the metrics JSON here")
    v.set_defaults(func=cmd_evaluate)

    d = sub.add_parser("detect", help="anomaly detection with the DxMI energy")
    dsub = d.add_subparsers(dest="detect_command", required=True)
    df = dsub.add_parser("fit", help="fit a detector on normal rows (.npy or .csv)")
    df.add_argument("data", help=".npy or .csv of N x D normal rows")
    df.add_argument("--out", required=True, help="directory for the fitted detector")
    df.add_argument("--config", help="YAML of DxMIDetector parameters (e.g. configs/detector.yaml)")
    _add_set_option(df, "iterations=500")
    df.add_argument("--progress", action="store_true", help="show progress bars")
    df.set_defaults(func=cmd_detect_fit)
    ds = dsub.add_parser("score", help="score rows with a fitted detector; write a CSV")
    ds.add_argument("detector", help="directory written by `dxmi detect fit`")
    ds.add_argument("data", help=".npy or .csv of rows to score")
    ds.add_argument("--out", required=True, help="CSV: score,predicted[,label]")
    ds.add_argument("--labels", help="0/1 per row (1 = anomaly): adds AUROC and AP")
    ds.set_defaults(func=cmd_detect_score)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from dxmi.runs.rundir import RunDirError

    try:
        args.func(args)
    except (RunDirError, *EXPECTED) as err:
        message = " ".join(str(err).split())  # one line, whatever the library wrote
        print(f"dxmi {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
