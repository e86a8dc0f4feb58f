"""What every `python -m hub train DEMO` shares: a fixed seed, one way to merge settings, a logger that
writes beside the weights, and the loop that fits a model by gradient descent."""
from __future__ import annotations

import logging
import math
import random
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..weights import write_atomically


def settings(*layers: dict, **overrides) -> dict:
    """One run's settings: later layers (defaults, then a model's own, then a saved config) update
    earlier ones, then the command line's `overrides` (epochs=..., seed=...) where they are not None."""
    merged = {}
    for layer in layers:
        merged.update(layer)
    merged.update({key: value for key, value in overrides.items() if value is not None})
    return merged


def run_chain(t: dict) -> list[dict]:
    """A run's settings `t` and those of every earlier run it went on from (`continued_from`), earliest first."""
    return (run_chain(t["continued_from"]) if t.get("continued_from") else []) + [t]


def commands(demo_id: str, t: dict) -> str:
    """The card's exact command(s): one run from scratch, or the runs that led to a run which went on
    from earlier weights."""
    later = f"`python -m hub train {demo_id} --init DIR` with DIR holding its weights"
    return ", then ".join([f"`python -m hub train {demo_id}`"] + [later] * (len(run_chain(t)) - 1))


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def training_logger(demo_id: str, out_dir: Path, append: bool = False) -> logging.Logger:
    """Logs to stderr and to <out_dir>/train.log (kept with the weights as the record of the run), started
    afresh unless `append` or a run interrupted there is about to resume (its log goes on)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    append = append or (out_dir / RESUME_FILE).exists()
    logger = logging.getLogger(f"hub.train.{demo_id}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    to_file = logging.FileHandler(out_dir / "train.log", mode="a" if append else "w")
    for handler in (logging.StreamHandler(sys.stderr), to_file):
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    return logger


def batches(n: int, batch_size: int, generator: torch.Generator | None = None):
    """Index tensors covering range(n), shuffled when a generator is given."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def learning_rate_schedule(optimizer, cfg: dict, steps_per_epoch: int):
    """Cosine decay from lr to min_lr over the run, after an optional linear warm-up."""
    warmup = round(cfg.get("warmup_epochs", 0) * steps_per_epoch)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(1, cfg["epochs"] * steps_per_epoch - warmup), eta_min=cfg["min_lr"])
    if not warmup:
        return cosine
    linear = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / warmup, total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [linear, cosine], milestones=[warmup])


RESUME_FILE = "resume.pt"


class EpochCount:
    """The epochs a run has finished, kept like a schedule (stepped after each epoch, saved and restored
    with the checkpoints), for a training whose steps change with the epoch."""

    def __init__(self):
        self.done = 0

    def step(self) -> None:
        self.done += 1

    def state_dict(self) -> dict:
        return {"done": self.done}

    def load_state_dict(self, state: dict) -> None:
        self.done = state["done"]


class Checkpoints:
    """What an interrupted run needs to go on: its modules, optimizers, schedules and the generator that
    orders its batches, saved after every epoch to `<out_dir>/resume.pt` and removed when the run ends."""

    def __init__(self, out_dir: Path, modules: dict, optimizers: dict | None = None, schedules=(),
                 generator: torch.Generator | None = None):
        self.path = Path(out_dir) / RESUME_FILE
        self.modules, self.optimizers, self.schedules = modules, optimizers or {}, list(schedules)
        self.generator = generator

    def save(self, progress: dict) -> None:
        """Written beside the last one, then put in its place: a run stopped while saving still finds the
        last epoch's whole file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {"progress": progress,
                 "modules": {name: m.state_dict() for name, m in self.modules.items()},
                 "optimizers": {name: o.state_dict() for name, o in self.optimizers.items()},
                 "schedules": [s.state_dict() for s in self.schedules],
                 "generator": self.generator.get_state() if self.generator is not None else None}
        write_atomically(self.path, lambda file: torch.save(state, file))

    def restore(self) -> dict | None:
        """The progress saved by an interrupted run (everything else is loaded back), or None."""
        if not self.path.is_file():
            return None
        saved = torch.load(self.path, weights_only=True)      # tensors and plain containers: no pickled code
        for name, module in self.modules.items():
            module.load_state_dict(saved["modules"][name])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(saved["optimizers"][name])
        for schedule, state in zip(self.schedules, saved["schedules"]):
            schedule.load_state_dict(state)
        if self.generator is not None:
            self.generator.set_state(saved["generator"])
        return saved["progress"]

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


def weight_average(module: torch.nn.Module, decay: float,
                   buffers: bool = False) -> torch.optim.swa_utils.AveragedModel:
    """An exponential moving average of `module`'s weights (with `buffers`, of its batch-norm statistics too);
    call its `update_parameters(module)` after each step."""
    return torch.optim.swa_utils.AveragedModel(
        module, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay), use_buffers=buffers)


def run_epochs(one_epoch: Callable[[int], str], score: Callable[[torch.nn.Module], float], scored: torch.nn.Module,
               cfg: dict, log, checkpoints: Checkpoints | None = None, maximise: bool = False,
               selectable: Callable[[int], bool] = lambda epoch: True, score_name: str = "valid") -> dict:
    """The epoch loop every training shares. `one_epoch(epoch)` trains once over the data and returns a
    summary for the log (its losses); every cfg["validate_every"] epochs (default 1), at the last one, and
    when cfg["max_minutes"] is spent, `score(scored)` is measured and the best state of `scored` kept
    (only epochs where `selectable(epoch)`, or the last); the run stops after cfg["epochs"], after
    cfg["patience"] scored epochs without a better score (if set), or when time is up. With `checkpoints`,
    a rerun of an interrupted training continues after its last finished epoch.
    Returns {"score", "epoch", "state", "last_epoch", "minutes"} of the best checkpoint."""
    worst = -math.inf if maximise else math.inf
    progress = (checkpoints.restore() if checkpoints else None) or \
        {"epoch": 0, "minutes": 0.0, "best": {"score": worst, "epoch": 0, "state": None}}
    if progress["epoch"]:
        log.info("resuming after epoch %d (best %s %.5g @%d)", progress["epoch"], score_name,
                 progress["best"]["score"], progress["best"]["epoch"])
    started, best, epoch = time.time() - 60 * progress["minutes"], progress["best"], progress["epoch"]
    for epoch in tqdm(range(progress["epoch"] + 1, cfg["epochs"] + 1), desc="epochs"):
        summary = one_epoch(epoch)
        minutes = (time.time() - started) / 60
        out_of_time, last = minutes > cfg.get("max_minutes", math.inf), epoch == cfg["epochs"]
        patience_spent = False
        if epoch % cfg.get("validate_every", 1) == 0 or last or out_of_time:
            value = score(scored)
            if (value > best["score"] if maximise else value < best["score"]) and (selectable(epoch) or last):
                best = {"score": value, "epoch": epoch,
                        "state": {k: v.clone() for k, v in scored.state_dict().items()}}
            log.info("epoch %d  %s  %s %.5g  best %.5g @%d  %.1f min", epoch, summary, score_name, value,
                     best["score"], best["epoch"], minutes)
            patience_spent = selectable(epoch) and epoch - best["epoch"] >= cfg.get("patience", math.inf)
        if checkpoints:
            checkpoints.save({"epoch": epoch, "minutes": minutes, "best": best})
        if patience_spent:
            log.info("no better %s for %d epochs: stopping", score_name, cfg["patience"])
            break
        if out_of_time:
            log.info("time budget of %s minutes spent: stopping", cfg["max_minutes"])
            break
    if checkpoints:
        checkpoints.done()
    return {**best, "last_epoch": epoch, "minutes": (time.time() - started) / 60}


def fit(model: torch.nn.Module, x_train: torch.Tensor, cfg: dict, loss_fn, validate, generator, log,
        selectable=lambda epoch: True, out_dir: Path | None = None) -> dict:
    """Adam (AdamW with weight_decay) with a cosine-decayed learning rate; returns the best validation
    checkpoint of an exponential moving average of the weights (smoother than the raw weights;
    generalises better).

    cfg: lr, min_lr, epochs, batch_size, ema_decay, validate_every, patience, and optionally
    max_minutes (a wall-clock budget), clip_norm (gradient norm clipping, for recurrent nets),
    warmup_epochs (a linear warm-up before the cosine, for transformers) and weight_decay (AdamW).
    `loss_fn(model, batch, epoch)` is minimised; `validate(model)` is maximised; only epochs where
    `selectable(epoch)` may be picked (`run_epochs` has the rest). `x_train` may be a tuple of tensors
    (inputs, labels): loss_fn then gets the tuple of their batches. With `out_dir`, an interrupted run
    resumes. The result's "valid" is the best validation score."""
    optimizer = (torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
                 if cfg.get("weight_decay") else torch.optim.Adam(model.parameters(), lr=cfg["lr"]))
    columns = x_train if isinstance(x_train, tuple) else (x_train,)
    count = len(columns[0])
    steps_per_epoch = math.ceil(count / cfg["batch_size"])
    schedule = learning_rate_schedule(optimizer, cfg, steps_per_epoch)
    average = weight_average(model, cfg["ema_decay"])

    def one_epoch(epoch: int) -> str:
        model.train()
        total = 0.0
        for idx in tqdm(batches(count, cfg["batch_size"], generator), total=steps_per_epoch,
                        desc=f"epoch {epoch}", leave=False):
            batch = tuple(column[idx] for column in columns)
            loss = loss_fn(model, batch if len(batch) > 1 else batch[0], epoch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.get("clip_norm"):
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_norm"])
            optimizer.step()
            schedule.step()
            average.update_parameters(model)
            total += loss.item() * len(idx)
        return f"train loss {total / count:.2f}"

    checkpoints = Checkpoints(out_dir, {"model": model, "average": average}, {"adam": optimizer}, [schedule],
                              generator) if out_dir is not None else None
    best = run_epochs(one_epoch, validate, average.module, cfg, log, checkpoints, maximise=True,
                      selectable=selectable, score_name="valid (EMA)")
    return {**best, "valid": best["score"]}
