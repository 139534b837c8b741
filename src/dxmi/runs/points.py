"""The DxMI training run: set-up, teacher, resume, one loop, export, evaluation, pictures.

Run directory (``out_dir``)::

    config.yaml                 the resolved config
    teacher.{safetensors,json}  the DDPM teacher (when dxmi starts from one)
    checkpoints/last.*          trainer state, written atomically; `resume` continues from it
    history.jsonl               logged scalars, one JSON line per log step
    tensorboard/                the same scalars for TensorBoard
    model.{safetensors,json}    the exported sampler and energy (`DxMIModel.load`)
    metrics.json                final metrics; written last, so its presence marks a finished run
    chain.png energy.png samples.png curves.png
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.tensorboard import SummaryWriter

from dxmi.checkpoint import load_checkpoint, load_module_state, save_checkpoint
from dxmi.config import Config, load_config
from dxmi.data import PointData, Standardizer, check_points, load_data, split_points
from dxmi.diffusion import sample
from dxmi.irl.trainer import DxMITrainer, tau1_at
from dxmi.metrics.density import energy_auroc_uniform
from dxmi.models.factories import build_energy, build_eps_model, build_policy, build_value
from dxmi.models.points import DxMIModel
from dxmi.networks.mlp import fit_bases
from dxmi.plots import plot_chain, plot_curves, plot_energy, plot_samples
from dxmi.runs.evaluation import (
    density_metrics,
    energy_temperature,
    sample_metrics,
    score_rows,
    teacher_samples,
)
from dxmi.runs.loop import LoopSettings, in_run, run_loop
from dxmi.runs.rundir import RunDir, RunKind
from dxmi.runs.teachers import train_teacher

# Sections whose change makes a checkpoint meaningless. dxmi.iterations, eval and run may change.
_RUN = RunKind(
    ("data", "teacher", "sampler", "dxmi"),
    frozenset({("dxmi", "iterations"), ("dxmi", "max_minutes")}),
)


ARRAY = "array"  # data.name recorded for a run trained on points passed to `train`


def load_run_data(config: Config, points: np.ndarray | None = None) -> PointData:
    """The training and held-out points a run uses: `points` if given, else `config.data`."""
    d = config.data
    if points is not None:
        return split_points(points, ARRAY, d.holdout_fraction, d.seed)
    return load_data(
        d.name,
        d.path,
        n_train=d.n_train,
        n_holdout=d.n_holdout,
        holdout_fraction=d.holdout_fraction,
        seed=d.seed,
    )


def _teacher(
    config: Config,
    data: torch.Tensor,
    out: Path,
    given: torch.nn.Module | None,
    acc: Accelerator,
    progress: bool,
) -> torch.nn.Module:
    """The epsilon network the sampler starts from: a DDPM teacher (given, or trained once per
    run directory and then reloaded) or random weights. Only the main process writes the file;
    the teacher trains under `acc` (DDP across processes, like the sampler)."""
    main = acc.is_main_process
    eps_model = build_eps_model(config, data.shape[1]).to(data.device)
    if config.teacher.init == "random":
        return eps_model
    stem = out / "teacher"
    if given is not None:
        load_module_state(eps_model, given.state_dict(), "the given teacher")
        if main:
            save_checkpoint(stem, {"eps_model": eps_model.state_dict()}, {"source": "given"})
        return eps_model
    if stem.with_suffix(".json").is_file():
        state, _ = load_checkpoint(stem)
        load_module_state(eps_model, state["eps_model"], f"{stem}.safetensors")
        return eps_model.to(data.device)
    ema, losses = train_teacher(config, data, progress=progress, acc=acc)
    if main:
        save_checkpoint(
            stem,
            {"eps_model": ema.state_dict()},
            {"final_loss": float(np.mean(losses[-100:])) if losses else None},
        )
    return ema


def train(
    config: Config | str | Path,
    out_dir: str | Path,
    *,
    points: np.ndarray | None = None,
    resume: bool = False,
    overwrite: bool = False,
    teacher: torch.nn.Module | None = None,
) -> DxMIModel:
    """Train DxMI (teacher first where configured) and return the exported model.

    `config` is a `Config` or a YAML path; `points` (N x D) replaces the configured data;
    `teacher` is an epsilon network of `config.sampler`'s shape to start from instead of
    training one (it must have been trained on the standardised data).
    """
    config = config if isinstance(config, Config) else load_config(config)
    if points is not None:  # record that the data did not come from config.data
        config = dataclasses.replace(
            config, data=dataclasses.replace(config.data, name=ARRAY, path=None)
        )
    out = Path(out_dir)
    data = load_run_data(config, points)  # bad data fails here, before the run directory exists

    def body(run: RunDir, acc: Accelerator) -> DxMIModel:
        return _train(config, run, data, acc, teacher)

    return in_run(out, config, _RUN, [config.data.path], body, resume=resume, overwrite=overwrite)


def _train(
    config: Config,
    run: RunDir,
    data: PointData,
    acc: Accelerator,
    teacher: torch.nn.Module | None,
) -> DxMIModel:
    out, main = run.path, acc.is_main_process
    progress = config.run.progress and main

    # ---- data and networks
    set_seed(config.run.seed)
    standardizer = Standardizer.fit(data.train, config.data.standardize)
    train_x = torch.from_numpy(standardizer.transform(data.train)).to(acc.device)
    eps_model = _teacher(config, train_x, out, teacher, acc, progress)
    acc.wait_for_everyone()
    initial_policy = build_policy(config, copy.deepcopy(eps_model)).to(acc.device)
    trainer = DxMITrainer(
        build_policy(config, eps_model),
        *energy_networks(config, train_x),
        config.dxmi,
        acc,
        seed=config.run.seed,
    )

    # ---- resume, the loop
    def evaluate(sampler) -> dict:
        samples = standardizer.inverse(_sample(sampler, config, data.dim))
        metrics = sample_metrics(samples, data, config.eval)
        postfix = f"P={metrics['precision']:.2f} R={metrics['recall']:.2f}"
        return {**metrics, "postfix": f"{postfix} sliced_w2={metrics['sliced_w2']:.3f}"}

    writer = SummaryWriter(str(out / "tensorboard")) if main else None
    history = run_loop(
        trainer, train_x, LoopSettings.dxmi(config, "dxmi", progress), run, writer, evaluate
    )

    # ---- export, evaluate, draw
    model = _export(config, trainer, standardizer)
    if main:
        model.save(out)
        init_model = DxMIModel(config, initial_policy.eval(), model.energy_net, standardizer)
        teacher_net = initial_policy.eps_model if config.teacher.init == "teacher" else None
        samples = run_samples(model, init_model, teacher_net, config.eval.n_samples)
        metrics = evaluate_run(model, init_model, data, samples=samples)
        metrics["iterations"] = trainer.iteration_count  # fewer than asked if max_minutes ran out
        _draw(model, data, history, out, samples)
        if writer is not None:
            writer.close()
        run.finish(metrics)
    acc.wait_for_everyone()
    return model


def _export(config: Config, trainer: DxMITrainer, standardizer: Standardizer) -> DxMIModel:
    """The trained model: copies of the sampling policy (EMA when enabled) and of the scoring
    energy, so that the trainer can go on without changing it."""
    return DxMIModel(
        config,
        copy.deepcopy(trainer.sampler).eval(),
        copy.deepcopy(trainer.scoring_energy).eval(),
        standardizer,
    )


def energy_networks(config: Config, train_x: torch.Tensor):
    """The energy and value networks of a run (value None in the shared variant), their
    Gaussian bases (`dxmi.energy.gaussian_base`) fitted to the standardised training rows."""
    energy, value = build_energy(config, train_x.shape[1]), build_value(config, train_x.shape[1])
    fit_bases(train_x, energy, value)
    return energy, value


def point_trainer(
    config: Config, points: np.ndarray, *, progress: bool = False, source: str = "X"
) -> tuple[DxMITrainer, Standardizer, torch.Tensor]:
    """The in-memory start of a DxMI fit on every row of `points` (N x D): the trainer (its
    teacher trained first where configured), the standardiser and the standardised rows. The
    path of `fit_points`; a probe that scores the energy between iterations steps it itself."""
    x = check_points(points, source)
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, name=ARRAY))
    acc = Accelerator(cpu=config.run.cpu, mixed_precision=config.run.mixed_precision)
    set_seed(config.run.seed)
    standardizer = Standardizer.fit(x, config.data.standardize)
    train_x = torch.from_numpy(standardizer.transform(x)).to(acc.device)
    if config.teacher.init == "teacher":
        eps_model, _ = train_teacher(config, train_x, progress=progress, acc=acc)
    else:
        eps_model = build_eps_model(config, x.shape[1]).to(acc.device)
    trainer = DxMITrainer(
        build_policy(config, eps_model),
        *energy_networks(config, train_x),
        config.dxmi,
        acc,
        seed=config.run.seed,
    )
    return trainer, standardizer, train_x


def fit_points(
    config: Config, points: np.ndarray, *, progress: bool = False, source: str = "X"
) -> tuple[DxMIModel, list[dict]]:
    """Train DxMI in memory on every row of `points` (N x D): no run directory, no held-out
    split, no checkpoints. Returns the model and the logged scalars (every `run.log_every`).

    This is the path of `DxMIDetector.fit`; `train` is the one to use for long runs.
    """
    trainer, standardizer, train_x = point_trainer(config, points, progress=progress, source=source)
    history = run_loop(trainer, train_x, LoopSettings.dxmi(config, "dxmi", progress))
    return _export(config, trainer, standardizer), history


def evaluate_run(
    model: DxMIModel,
    init_model: DxMIModel | None,
    data: PointData,
    teacher: torch.nn.Module | None = None,
    samples: dict[str, np.ndarray] | None = None,
) -> dict:
    """Final metrics on the held-out points, every sampler on `eval.n_samples` samples: DxMI,
    the un-tuned T-step sampler it started from (`init_model`), the teacher's DPM-Solver++ and
    UniPC at the same T and its 1000-step samples (`teacher`, the epsilon network), and the data
    floor; a warning where the teacher trails the floor; the EBM's density (2D toy sets).
    `samples` (from `run_samples`) skips drawing them again."""
    cfg = model.config.eval
    if samples is None:
        samples = run_samples(model, init_model, teacher, cfg.n_samples)
    out: dict = {
        "dataset": data.name,
        "steps": model.config.dxmi.steps,
        "variant": model.config.dxmi.variant,
        "n_samples": cfg.n_samples,
        "reference": f"{len(data.holdout[: cfg.n_samples])} held-out points",
        **score_rows(samples, data, cfg),
    }
    # the paper's EBM metric, in any dimension: held-out points against uniform noise in their box
    out["ebm"] = {"auroc_uniform": energy_auroc_uniform(model.energy, data.holdout, cfg.seed)}
    if data.dim == 2:
        d = model.config.dxmi
        temp = energy_temperature(tau1_at(d, d.iterations), data.dim)  # the final weight
        out["ebm"] |= density_metrics(model.energy, data.name, cfg, temp)
        out["ebm"]["temperature"] = temp
    return out


def run_samples(
    model: DxMIModel,
    init_model: DxMIModel | None,
    teacher: torch.nn.Module | None,
    n: int,
) -> dict[str, np.ndarray]:
    """The sample sets of a run's table (`evaluation.SAMPLER_ROWS`), n each, in data units."""
    seed = model.config.eval.seed
    out = {"dxmi": model.sample(n, seed=seed)}
    if init_model is not None:
        out["init"] = init_model.sample(n, seed=seed)
    if teacher is not None:
        out.update(teacher_samples(teacher, model.config, model.standardizer, n, seed))
    return out


def load_run_teacher(run_dir: str | Path, config: Config, dim: int) -> torch.nn.Module | None:
    """The teacher a run saved (``teacher.safetensors``), or None where it has none."""
    stem = Path(run_dir) / "teacher"
    if config.teacher.init != "teacher" or not stem.with_suffix(".json").is_file():
        return None
    state, _ = load_checkpoint(stem)
    eps_model = build_eps_model(config, dim)
    load_module_state(eps_model, state["eps_model"], f"{stem}.safetensors")
    return eps_model.eval()


def _sample(policy, config: Config, dim: int) -> np.ndarray:
    device = next(policy.buffers()).device
    gen = torch.Generator(device).manual_seed(config.eval.seed)
    return sample(policy, config.eval.n_samples, dim, gen).cpu().numpy()


def _draw(
    model: DxMIModel,
    data: PointData,
    history: list[dict],
    out: Path,
    samples: dict[str, np.ndarray],
) -> None:
    extent = model.config.eval.grid_extent
    states = model.chain(2000, seed=model.config.eval.seed)
    plot_chain(states, out / "chain.png", extent)
    steps = model.config.dxmi.steps
    titles = {
        "dxmi": f"DxMI ({steps} steps)",
        "init": f"un-tuned start ({steps} steps)",
        "dpmsolver++": f"DPM-Solver++ ({steps} steps)",
        "unipc": f"UniPC ({steps} steps)",
    }
    panels = {"data (held out)": data.holdout[:2000]}
    for key, points in samples.items():
        title = titles.get(key, f"teacher ({key.split('-')[-1]} steps)")
        panels[title] = points[:2000]
    plot_samples(panels, out / "samples.png", extent)
    if data.dim == 2:
        plot_energy(model.energy, data.train, out / "energy.png", extent)
    plot_curves(history, out / "curves.png")
