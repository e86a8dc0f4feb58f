"""Training and measuring the evaluator itself: LeNet on grayscale MNIST, shifted digits, early
stopping on the 10,000 held-apart training images."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hub.kit import cards, data, evaluator, parameter_count, training, unit_images

from . import DEMO_ID

DEFAULTS = dict(epochs=6, batch_size=128, lr=2e-3, min_lr=1e-5, ema_decay=0.998, validate_every=1,
                patience=3, max_minutes=20, seed=0)


def shifted(x: torch.Tensor, generator: torch.Generator, most: int = 2) -> torch.Tensor:
    """Augmentation: each image moved by up to `most` pixels in x and y."""
    padded = F.pad(x, (most,) * 4)
    dx, dy = torch.randint(0, 2 * most + 1, (2,), generator=generator).tolist()
    return padded[..., dy:dy + 28, dx:dx + 28]


def evaluate(model, limit: int | None = None) -> dict:
    """Test accuracy and the real-vs-real FLD floor (test split vs the held-apart training images)."""
    x_test, y_test = data.mnist("test")
    x_train, _ = data.mnist("train")
    x_test, y_test = data.spread_subset(x_test, limit), data.spread_subset(y_test, limit)
    held = data.spread_subset(x_train[-evaluator.HELD_APART:], limit)
    return {"split": "test", "examples": len(x_test), "accuracy": round(evaluator.accuracy(model, x_test, y_test), 4),
            "fld_floor_real_vs_real": round(evaluator.frechet_distance(evaluator.outputs(model, x_test)[0],
                                                                     evaluator.outputs(model, held)[0]), 3)}


def train(out_dir: Path, epochs: int | None = None, seed: int | None = None, limit: int | None = None) -> dict:
    cfg = training.settings(DEFAULTS, epochs=epochs, seed=seed)
    log = training.training_logger(DEMO_ID, out_dir)
    generator = training.seed_everything(cfg["seed"])
    x, y = data.mnist("train")
    fit, valid = slice(None, -evaluator.HELD_APART), slice(-evaluator.HELD_APART, None)
    x_fit = unit_images(x[fit][:limit], (-1, 1, 28, 28))
    y_fit = torch.from_numpy(y[fit][:limit].astype(np.int64))
    x_valid, y_valid = x[valid][:limit], y[valid][:limit]
    model = evaluator.LeNet()
    log.info("evaluator LeNet, %d parameters, config %s", parameter_count(model), cfg)

    def loss(m, batch, epoch):
        images, labels = batch
        return F.cross_entropy(m(shifted(images, generator)), labels)

    best = training.fit(model, (x_fit, y_fit), cfg, loss, lambda m: evaluator.accuracy(m, x_valid, y_valid),
                        generator, log, out_dir=out_dir)
    model.load_state_dict(best["state"])
    metrics = {**evaluate(model, limit), "held_apart_accuracy": round(best["valid"], 4)}
    log.info("test metrics %s", json.dumps(metrics))
    config = {"model": {"features": 128}, "metrics": metrics,
              "training": {**cfg, "best_epoch": best["epoch"], "last_epoch": best["last_epoch"],
                           "minutes": round(best["minutes"], 1)}}
    cards.publish(out_dir, model, config, model_card(cfg, metrics, best, parameter_count(model)))
    return metrics


def model_card(cfg: dict, metrics: dict, best: dict, params: int) -> str:
    return f"""# Evaluator: a LeNet-style MNIST classifier (the hub's judge of generated digits)

Two blocks of two 3 x 3 convolutions and a max-pool, a 128-d ReLU feature layer, dropout, 10 logits.
{params:,} parameters. Its 128-d features give the Frechet LeNet Distance (FLD) of generated digits
against the real test split; its predictions give class coverage and confidence.

## Data
Grayscale MNIST: trained on the first 50,000 training images (shifted by up to 2 pixels); the last
10,000 training images are held apart (validation for early stopping, and the real sample of the
real-vs-real floor); the test figures are on the {metrics['examples']:,} test images.

## Training
Exact command: `python -m hub train evaluator`
Adam, lr {cfg['lr']} cosine-decayed to {cfg['min_lr']} over {cfg['epochs']} epochs, batch {cfg['batch_size']}, EMA of
the weights (decay {cfg['ema_decay']}); best held-apart accuracy at epoch {best['epoch']} of {best['last_epoch']};
seed {cfg['seed']}; {best['minutes']:.0f} minutes on 2 CPU cores.

## Metrics
| metric | value |
|---|---|
| test accuracy ({metrics['examples']:,} images) | {100 * metrics['accuracy']:.2f}% |
| held-apart accuracy (10,000 training images not trained on) | {100 * metrics['held_apart_accuracy']:.2f}% |
| FLD floor, real vs real (test split vs held-apart training images) | {metrics['fld_floor_real_vs_real']:.3f} |

A generator's FLD is computed against the same test split; the floor is what a perfect generator
would score with that many samples. Reproduce: `python -m hub evaluate evaluator --json`.
"""
