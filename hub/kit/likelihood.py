"""Evaluation shared by the explicit-likelihood models of binary digits (static binarized MNIST).

Such a model has `log_prob(x)`: x [batch, 784] in {0, 1} -> the exact log p(x) in nats [batch].
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import data


def flat(x: np.ndarray) -> torch.Tensor:
    """Binary digits [N, 28, 28] (0/1, any dtype) -> float32 rows [N, 784], as the models see them."""
    return torch.from_numpy(x.reshape(len(x), -1).astype(np.float32))


@torch.no_grad()
def log_likelihoods(model, x: torch.Tensor, batch_size: int = 200) -> torch.Tensor:
    """Exact log p(x) in nats for each image (rows of x)."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.log_prob(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])


def test_nll(model, limit: int | None = None) -> dict:
    """Exact negative log-likelihood on the test split (`limit` evenly spaced images), in nats
    and bits per dimension."""
    x = flat(data.spread_subset(data.binarized_mnist("test")[0], limit))
    nll = -log_likelihoods(model, x).mean().item()
    return {"split": "test", "examples": len(x), "nll_nats": round(nll, 3),
            "bits_per_dim": round(nll / math.log(2) / x.shape[1], 4)}


def reference_percentiles(model, limit: int | None = None) -> dict:
    """Percentiles of log p(x) over the validation split: what "typical" looks like, for the
    demos' anomaly verdict (the test split stays for the final figure)."""
    x, _ = data.binarized_mnist("valid")
    values = log_likelihoods(model, flat(data.spread_subset(x, limit))).numpy()
    return {str(p): round(float(np.percentile(values, p)), 2) for p in (0.1, 1, 5, 25, 50, 75, 95)}
