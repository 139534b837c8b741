"""The one training loop: `run_loop` drives `DxMITrainer.iteration` (points, images, both DxMI
detectors) and `DDPMTrainer.iteration` (every teacher), in a run directory (resumable:
checkpoints, history, TensorBoard) or in memory (a detector's fit, a point teacher: no files)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from dxmi.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from dxmi.irl.trainer import TrainingDiverged
from dxmi.runs.rundir import RunDir, RunKind, log_record, open_run, read_history


class TimeLimit:
    """Wall-clock budget of a training loop (`minutes` <= 0: none). Every process takes the same
    decision (under DDP the flag is reduced), so no replica waits for one that stopped."""

    def __init__(self, minutes: float, acc: Accelerator):
        self.minutes, self.acc, self.began = minutes, acc, time.perf_counter()

    def reached(self) -> bool:
        if self.minutes <= 0:
            return False
        over = time.perf_counter() - self.began > 60 * self.minutes
        if self.acc.num_processes == 1:
            return over
        flag = torch.tensor(float(over), device=self.acc.device)
        return bool(self.acc.reduce(flag, reduction="sum") > 0)


T = TypeVar("T")


def in_run(
    out: str | Path,
    config,
    kind: RunKind,
    inputs: list,
    body: Callable[[RunDir, Accelerator], T],
    *,
    resume: bool,
    overwrite: bool,
) -> T:
    """`body(run, acc)` inside the run directory `out` (`open_run`: made, locked, resumed or
    replaced), with an Accelerator from ``config.run``; its main process owns the folder."""
    acc = Accelerator(cpu=config.run.cpu, mixed_precision=config.run.mixed_precision)
    run = open_run(
        out,
        config,
        resume=resume,
        overwrite=overwrite,
        kind=kind,
        inputs=inputs,
        owner=acc.is_main_process,
    )
    with run:
        acc.wait_for_everyone()
        result = body(run, acc)
    # every process leaves together and the process group is torn down here, not by the
    # interpreter's exit (gloo aborts a rank whose threads outlive it)
    acc.wait_for_everyone()
    acc.end_training()
    return result


class Trainer(Protocol):
    """What `run_loop` drives: `DxMITrainer` and `DDPMTrainer`."""

    acc: Accelerator
    iteration_count: int
    finished: bool  # the trainer ended training itself (the DDPM plateau check)

    def iteration(self, x: torch.Tensor) -> dict: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class LoopSettings:
    """How long `run_loop` runs and how often it logs, evaluates and checkpoints."""

    iterations: int
    max_minutes: float = 0.0  # <= 0: no wall-clock limit
    log_every: int = 1
    checkpoint_every: int = 0  # with a run directory; the last iteration is always saved
    eval_every: int = 0  # 0: never (a multiple of log_every, as evaluations ride on logs)
    desc: str = "train"
    progress: bool = False

    @classmethod
    def dxmi(cls, config, desc: str, progress: bool = False) -> LoopSettings:
        """The settings of a DxMI run from its config (point or image)."""
        d = config.dxmi
        return cls(
            d.iterations,
            d.max_minutes,
            config.run.log_every,
            config.run.checkpoint_every,
            config.eval.every,
            f"{desc} {d.variant} T={d.steps}",
            progress,
        )


def run_loop(
    trainer: Trainer,
    train_x: torch.Tensor,
    settings: LoopSettings,
    run: RunDir | None = None,
    writer=None,
    evaluate: Callable[[torch.nn.Module], dict] | None = None,
) -> list[dict]:
    """Run `trainer` up to ``settings.iterations`` (or ``max_minutes``, or until the trainer
    says it has finished) and return the logged records, one every ``log_every`` and at the end
    (main process; [] elsewhere). A non-finite logged value stops the run (`TrainingDiverged`)
    before it is checkpointed.

    With a `run` directory: resume from its ``checkpoints/last`` if there is one, append each
    record to ``history.jsonl`` and `writer` (TensorBoard) with ``evaluate(trainer.sampler)``'s
    scalars every ``eval_every``, and checkpoint atomically every ``checkpoint_every`` and at
    the end. Without one (`run` None): the same iterations in memory.
    """
    acc, main, cfg = trainer.acc, trainer.acc.is_main_process, settings
    ckpt = run.path / "checkpoints" / "last" if run is not None else None
    history: list[dict] = []
    if run is not None:
        if ckpt.with_suffix(".json").is_file():  # a fresh or replaced run directory has none
            state, _ = load_checkpoint(ckpt)
            try:
                trainer.load_state_dict(state)
            except (KeyError, RuntimeError, ValueError) as err:
                raise CheckpointError(
                    f"{ckpt}.safetensors: does not fit this model ({err})"
                ) from None
        run.start()
        if main:
            history = read_history(run.path / "history.jsonl", trainer.iteration_count)
    bar = tqdm(
        range(trainer.iteration_count, cfg.iterations),
        desc=cfg.desc,
        initial=trainer.iteration_count,
        total=cfg.iterations,
        disable=not cfg.progress,
        leave=run is not None,
    )
    limit = TimeLimit(cfg.max_minutes, acc)
    for it in bar:
        stats = trainer.iteration(train_x)
        step = it + 1
        last = step == cfg.iterations or trainer.finished or limit.reached()
        saved = run is not None and (
            (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or last
        )
        if step % cfg.log_every == 0 or last or saved:
            # read here, not every step: a host sync per step slows a GPU, and no checkpoint
            # is written from a diverged step
            stats = {k: float(v) for k, v in stats.items()}
            bad = [k for k, v in stats.items() if not math.isfinite(v)]
            if bad:
                raise TrainingDiverged(f"{cfg.desc} iteration {it}: {bad[0]} is {stats[bad[0]]}")
            if main and (step % cfg.log_every == 0 or last):
                if evaluate is not None and cfg.eval_every and step % cfg.eval_every == 0:
                    scores = evaluate(trainer.sampler)
                    bar.set_postfix_str(scores.pop("postfix", ""))
                    stats.update(scores)
                path = run.path / "history.jsonl" if run is not None else None
                log_record(writer, history, path, step, stats)
        if saved:
            if main:
                save_checkpoint(ckpt, trainer.state_dict(), {"iteration": step})
            acc.wait_for_everyone()
        if last:
            break
    bar.close()
    return history
