"""What every `python -m hub train DEMO` shares: a fixed seed, a logger that writes beside the weights."""
from __future__ import annotations

import logging
import random
import sys
from pathlib import Path

import numpy as np
import torch


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
