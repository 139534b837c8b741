"""The one DxMI training loop: points, images and both DxMI detectors run `DxMITrainer.iteration`
through `run_loop`, in a run directory (resumable: checkpoints, history, TensorBoard) or in
memory (a detector's fit: no files)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from dxmi.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from dxmi.irl.trainer import DxMITrainer
from dxmi.rundir import RunDir, log_record, read_history


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


def run_loop(
    trainer: DxMITrainer,
    train_x: torch.Tensor,
    config,
    run: RunDir | None = None,
    writer=None,
    evaluate: Callable[[torch.nn.Module], dict] | None = None,
    desc: str = "dxmi",
    progress: bool = False,
) -> list[dict]:
    """Run `trainer` up to ``config.dxmi.iterations`` (or ``dxmi.max_minutes``) and return the
    logged records, one every ``run.log_every`` and at the end (main process; [] elsewhere).

    With a `run` directory: resume from its ``checkpoints/last`` if there is one, append each
    record to ``history.jsonl`` and `writer` (TensorBoard) with ``evaluate(sampler)``'s scalars
    every ``eval.every``, and checkpoint atomically every ``run.checkpoint_every`` and at the end.
    Without one (`run` None): the same iterations in memory.
    """
    acc, main = trainer.acc, trainer.acc.is_main_process
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
    cfg = config.dxmi
    bar = tqdm(
        range(trainer.iteration_count, cfg.iterations),
        desc=f"{desc} {cfg.variant} T={cfg.steps}",
        initial=trainer.iteration_count,
        total=cfg.iterations,
        disable=not progress,
        leave=run is not None,
    )
    limit = TimeLimit(cfg.max_minutes, acc)
    for it in bar:
        stats = trainer.iteration(train_x)
        step = it + 1
        last = step == cfg.iterations or limit.reached()
        if main and (step % config.run.log_every == 0 or last):
            if evaluate is not None and config.eval.every and step % config.eval.every == 0:
                scores = evaluate(trainer.sampler)
                bar.set_postfix_str(scores.pop("postfix", ""))
                stats.update(scores)
            path = run.path / "history.jsonl" if run is not None else None
            log_record(writer, history, path, step, stats)
        if run is not None and (step % config.run.checkpoint_every == 0 or last):
            if main:
                save_checkpoint(ckpt, trainer.state_dict(), {"iteration": step})
            acc.wait_for_everyone()
        if last:
            break
    bar.close()
    return history
