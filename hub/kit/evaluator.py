"""The shared evaluator of generated digits, for models that give samples but no likelihood.

A small LeNet-style CNN trained on grayscale MNIST. Its penultimate features give a Frechet
distance between generated and real test images (FID with this net in place of Inception: a
"Frechet LeNet Distance", FLD), its predictions give class coverage (the share of each digit
among samples) and mean confidence. The floor is real against real: the test split against
10,000 training images the classifier never trained on.

Its weights are the built-in `evaluator` plugin's (`python -m hub train evaluator`, weights in
weights/evaluator/); every plugin judges its samples with this module.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import weights
from . import data
from .images import unit_images

DEMO_ID = "evaluator"
HELD_APART = 10_000            # the last training images: the classifier's validation and the floor


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


@torch.no_grad()
def outputs(model: LeNet, images, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(features [N, 128], class probabilities [N, 10])."""
    model.eval()
    images, device = unit_images(images, (-1, 1, 28, 28)), next(model.parameters()).device
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


def available() -> bool:
    """Whether the shipped evaluator's weights are there (`python -m hub train evaluator` makes them)."""
    return (weights.weights_dir(DEMO_ID) / weights.CONFIG_FILE).is_file()


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


def accuracy(model: LeNet, images, labels) -> float:
    """The share of `images` the evaluator reads as their `labels`."""
    return float((outputs(model, images)[1].argmax(1) == np.asarray(labels)).mean())
