"""The shared evaluator of generated digits, for models that give samples but no likelihood.

A small LeNet-style CNN trained on grayscale MNIST. Its penultimate features give a Frechet
distance between generated and real test images (FID with this net in place of Inception: a
"Frechet LeNet Distance", FLD), its predictions give class coverage (the share of each digit
among samples) and mean confidence. The floor is real against real: the test split against
10,000 training images the classifier never trained on.

The hub registers it like a plugin's demo (`python -m hub train evaluator`, weights in
weights/evaluator/), with a small tab that classifies a drawn digit.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data, training, weights
from .hookspecs import hookimpl
from .registry import DemoSpec, ModelSpec

DEMO_ID = "evaluator"
HELD_APART = 10_000            # the last training images: the classifier's validation and the floor
DEFAULTS = dict(epochs=6, batch_size=128, lr=2e-3, min_lr=1e-5, ema_decay=0.998, validate_every=1,
                patience=3, max_minutes=20, seed=0)


class LeNet(nn.Module):
    """Two blocks of two 3 x 3 convolutions and a max-pool, a 128-d feature layer, 10 logits."""

    def __init__(self, features: int = 128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, features), nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(0.3), nn.Linear(features, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, 1, 28, 28] or [B, 28, 28] in [0, 1] -> [B, 128]."""
        return self.body(x.reshape(-1, 1, 28, 28))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def as_images(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 0-255 or float 0-1 images, any leading shape -> float [N, 1, 28, 28] in [0, 1]."""
    x = torch.as_tensor(x)
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    return x.reshape(-1, 1, 28, 28)


@torch.no_grad()
def outputs(model: LeNet, images, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(features [N, 128], class probabilities [N, 10])."""
    model.eval()
    images, device = as_images(images), next(model.parameters()).device
    feats, probs = [], []
    for i in range(0, len(images), batch_size):
        f = model.features(images[i:i + batch_size].to(device))
        feats.append(f.double().cpu())
        probs.append(F.softmax(model.classifier(f), -1).double().cpu())
    return torch.cat(feats).numpy(), torch.cat(probs).numpy()


def psd_sqrt(s: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(s)
    return (vectors * np.sqrt(values.clip(min=0))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two feature sets [N, d].
    Tr (S_a S_b)^(1/2) is taken as the sum of the square roots of the eigenvalues of the symmetric
    S_a^(1/2) S_b S_a^(1/2) (same eigenvalues): stable when dead ReLU features make S singular."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = psd_sqrt(s_a)
    cross = np.sqrt(np.linalg.eigvalsh(root_a @ s_b @ root_a).clip(min=0)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross)


def load_fresh(directory: Path | None = None) -> LeNet:
    return weights.load_model(LeNet, directory or weights.weights_dir(DEMO_ID))[0]


@functools.lru_cache(maxsize=1)
def load() -> LeNet:
    """The shipped evaluator for `judge` (loaded once per process, kept on the CPU)."""
    return load_fresh()


@functools.lru_cache(maxsize=1)
def real_test_features() -> np.ndarray:
    return outputs(load(), data.mnist("test")[0])[0]


def held_apart_features(count: int) -> np.ndarray:
    """Features of `count` held-apart training digits: the reference for choosing a checkpoint
    without looking at the test split."""
    x, _ = data.mnist("train")
    return outputs(load(), data.spread_subset(x[-HELD_APART:], count))[0]


def judge(images, labels: np.ndarray | None = None) -> dict:
    """The evaluator's figures for a set of generated images (uint8 or [0, 1] floats, 28 x 28):
    FLD against the real test split, the share of each predicted digit, mean confidence, and,
    when the requested `labels` are given (conditional models), accuracy on them."""
    feats, probs = outputs(load(), images)
    predicted = probs.argmax(1)
    shares = np.bincount(predicted, minlength=10) / len(predicted)
    result = {"samples": len(predicted), "fld": round(frechet_distance(feats, real_test_features()), 3),
              "class_shares": [round(float(s), 4) for s in shares],
              "smallest_class_share": round(float(shares.min()), 4),
              "mean_confidence": round(float(probs.max(1).mean()), 4)}
    if labels is not None:
        result["accuracy_on_requested_digit"] = round(float((predicted == np.asarray(labels)).mean()), 4)
    return result


# ---- training and evaluation of the evaluator itself ----------------------------------------

def shifted(x: torch.Tensor, generator: torch.Generator, most: int = 2) -> torch.Tensor:
    """Augmentation: each image moved by up to `most` pixels in x and y."""
    padded = F.pad(x, (most,) * 4)
    dx, dy = torch.randint(0, 2 * most + 1, (2,), generator=generator).tolist()
    return padded[..., dy:dy + 28, dx:dx + 28]


def accuracy(model: LeNet, images, labels) -> float:
    return float((outputs(model, images)[1].argmax(1) == np.asarray(labels)).mean())


def evaluate(model: LeNet, limit: int | None = None) -> dict:
    """Test accuracy and the real-vs-real FLD floor (test split vs the held-apart training images)."""
    x_test, y_test = data.mnist("test")
    x_train, _ = data.mnist("train")
    x_test, y_test = data.spread_subset(x_test, limit), data.spread_subset(y_test, limit)
    held = data.spread_subset(x_train[-HELD_APART:], limit)
    return {"split": "test", "examples": len(x_test), "accuracy": round(accuracy(model, x_test, y_test), 4),
            "fld_floor_real_vs_real": round(frechet_distance(outputs(model, x_test)[0], outputs(model, held)[0]), 3)}


def train(out_dir: Path, epochs: int | None = None, seed: int | None = None, limit: int | None = None) -> dict:
    cfg = {**DEFAULTS, **({"epochs": epochs} if epochs is not None else {}),
           **({"seed": seed} if seed is not None else {})}
    log = training.training_logger(DEMO_ID, out_dir)
    generator = training.seed_everything(cfg["seed"])
    x, y = data.mnist("train")
    x_fit, y_fit = as_images(x[:-HELD_APART][:limit]), torch.from_numpy(y[:-HELD_APART][:limit].astype(np.int64))
    x_valid, y_valid = x[-HELD_APART:][:limit], y[-HELD_APART:][:limit]
    model = LeNet()
    log.info("evaluator LeNet, %d parameters, config %s", weights.parameter_count(model), cfg)

    def loss(m, batch, epoch):
        images, labels = batch
        return F.cross_entropy(m(shifted(images, generator)), labels)

    best = training.fit(model, (x_fit, y_fit), cfg, loss, lambda m: accuracy(m, x_valid, y_valid), generator, log)
    model.load_state_dict(best["state"])
    metrics = {**evaluate(model, limit), "held_apart_accuracy": round(best["valid"], 4)}
    log.info("test metrics %s", json.dumps(metrics))
    config = {"model": {"features": 128}, "metrics": metrics,
              "training": {**cfg, "best_epoch": best["epoch"], "last_epoch": best["last_epoch"],
                           "minutes": round(best["minutes"], 1)}}
    digest = weights.save(out_dir, model, config)
    (out_dir / weights.CARD_FILE).write_text(model_card(cfg, metrics, best, weights.parameter_count(model), digest))
    return metrics


def model_card(cfg: dict, metrics: dict, best: dict, params: int, digest: str) -> str:
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

## Files
- `model.safetensors` SHA-256: `{digest}`
- `config.json`, `train.log`
"""


# ---- its tab ------------------------------------------------------------------------------------

def classify(models, image):
    from .inputs import grayscale_ink, to_mnist

    digit = to_mnist(grayscale_ink(image))
    with models.use() as model:
        probabilities = outputs(model, digit[None])[1][0]
    return {str(d): float(p) for d, p in enumerate(probabilities)}


def build_ui(ctx) -> None:
    import gradio as gr

    from .ui import digit_sketchpad

    gr.Markdown("The classifier that judges every generator in the hub. Draw a digit (pick the brush "
                "first) to see what it reads.")
    with gr.Row():
        with gr.Column():
            sketch = digit_sketchpad("evaluator-sketchpad")
            go = gr.Button("Classify", variant="primary")
        label = gr.Label(num_top_classes=3, label="The evaluator reads")
    ctx.on(go.click, "classify", functools.partial(classify, ctx.models), sketch, label)


@hookimpl
def register_demos(register):
    register(DemoSpec(id=DEMO_ID, title="Evaluator", description=__doc__.split("\n\n")[1].replace("\n", " "),
                      build_ui=build_ui, models=[ModelSpec(DEMO_ID, load_fresh, weights.weights_dir(DEMO_ID))],
                      train=train, evaluate=evaluate))
