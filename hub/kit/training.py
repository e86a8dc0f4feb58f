"""What every `python -m hub train DEMO` shares: a fixed seed, one way to merge settings, a logger that
writes beside the weights, and the loop that fits a model by gradient descent."""
from __future__ import annotations

import logging
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm


def settings(*layers: dict, **overrides) -> dict:
    """One run's settings: later layers (defaults, then a model's own, then a saved config) update
    earlier ones, then the command line's `overrides` (epochs=..., seed=...) where they are not None."""
    merged = {}
    for layer in layers:
        merged.update(layer)
    merged.update({key: value for key, value in overrides.items() if value is not None})
    return merged


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def training_logger(demo_id: str, out_dir: Path) -> logging.Logger:
    """Logs to stderr and to <out_dir>/train.log (kept with the weights as the record of the run)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"hub.train.{demo_id}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(out_dir / "train.log", mode="w")):
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


def fit(model: torch.nn.Module, x_train: torch.Tensor, cfg: dict, loss_fn, validate, generator, log,
        selectable=lambda epoch: True) -> dict:
    """Adam (AdamW with weight_decay) with a cosine-decayed learning rate; returns the best validation
    checkpoint of an exponential moving average of the weights (smoother than the raw weights;
    generalises better).

    cfg: lr, min_lr, epochs, batch_size, ema_decay, validate_every, patience, and optionally
    max_minutes (a wall-clock budget), clip_norm (gradient norm clipping, for recurrent nets),
    warmup_epochs (a linear warm-up before the cosine, for transformers) and weight_decay (AdamW).
    `loss_fn(model, batch, epoch)` is minimised; `validate(model)`
    is maximised; only epochs where `selectable(epoch)` may be picked. Stops after `patience`
    epochs without a better validation score. `x_train` may be a tuple of tensors (inputs,
    labels): loss_fn then gets the tuple of their batches."""
    optimizer = (torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
                 if cfg.get("weight_decay") else torch.optim.Adam(model.parameters(), lr=cfg["lr"]))
    columns = x_train if isinstance(x_train, tuple) else (x_train,)
    count = len(columns[0])
    steps_per_epoch = math.ceil(count / cfg["batch_size"])
    schedule = learning_rate_schedule(optimizer, cfg, steps_per_epoch)
    average = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg["ema_decay"]))
    best = {"valid": -float("inf"), "state": None, "epoch": 0}
    started = time.time()
    bar = tqdm(range(1, cfg["epochs"] + 1), desc="epochs")
    for epoch in bar:
        model.train()
        total = 0.0
        steps = tqdm(batches(count, cfg["batch_size"], generator), total=steps_per_epoch,
                     desc=f"epoch {epoch}", leave=False)
        for idx in steps:
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
        bar.set_postfix(train_loss=f"{total / count:.2f}", best_valid=f"{best['valid']:.2f}")
        out_of_time = (time.time() - started) / 60 > cfg.get("max_minutes", float("inf"))
        if epoch % cfg["validate_every"] and epoch != cfg["epochs"] and not out_of_time:
            continue
        valid = validate(average.module)
        if valid > best["valid"] and (selectable(epoch) or epoch == cfg["epochs"]):
            best = {"valid": valid, "epoch": epoch,
                    "state": {k: v.clone() for k, v in average.module.state_dict().items()}}
        log.info("epoch %d  train loss %.2f  valid (EMA) %.2f  best %.2f @%d",
                 epoch, total / count, valid, best["valid"], best["epoch"])
        if selectable(epoch) and epoch - best["epoch"] >= cfg["patience"]:
            log.info("no validation improvement for %d epochs: stopping", cfg["patience"])
            break
        if out_of_time:
            log.info("time budget of %s minutes spent: stopping", cfg["max_minutes"])
            break
    return {**best, "last_epoch": epoch, "minutes": (time.time() - started) / 60}
