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
    return percentiles_of(log_likelihoods(model, flat(data.spread_subset(x, limit))).numpy())


# both tails: a digit far less likely than the model's validation digits is unusual, and so is one far
# more likely (0 and 100 are the least and the most likely validation digit)
PERCENTILES = (0, 0.1, 1, 5, 25, 50, 75, 95, 99, 99.9, 100)


def percentiles_of(values: np.ndarray) -> dict:
    """{"0": least, "0.1": ..., "100": most} of the validation log-likelihoods, what the verdict reads."""
    return {str(p): round(float(np.percentile(values, p)), 2) for p in PERCENTILES}


def refresh_reference(directory, percentiles: dict) -> dict:
    """Store new validation percentiles in a shipped model's config.json and re-render its card; the
    weights are not touched. Returns the config."""
    from .. import weights
    from . import cards

    config = weights.read_config(directory)
    key = "valid_log_likelihood_percentiles"
    if isinstance(config[key], dict) and "values" in config[key]:       # the VAE's: {"k": ..., "values": ...}
        config[key]["values"] = percentiles
    else:
        config[key] = percentiles
    weights.write_config(directory, config)
    cards.write_card(directory)
    return config


def main(demo_ids: list[str]) -> None:
    """`python -m hub.kit.likelihood DEMO...`: recompute the validation percentiles of shipped models with
    an exact likelihood (weights untouched)."""
    from ..core import Hub
    from ..weights import weights_dir

    hub = Hub.create(entry_points=False)
    for demo_id in demo_ids:
        with hub.handle(demo_id).use() as model:
            config = refresh_reference(weights_dir(demo_id), reference_percentiles(model))
        print(demo_id, config["valid_log_likelihood_percentiles"], flush=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
