"""Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"): one number T
divides the logits, p = softmax(z / T), fitted by the negative log-likelihood on held-apart images.
Label smoothing trains the ViT to say at most about 91%; T < 1 gives it back the confidence its
accuracy earns. The expected calibration error (ECE) is measured before and after, on the test split.

    python -m plugins.vit.train      # fits T for the shipped weights; rewrites config.json and the card
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

BINS = 15                   # the equal-width confidence bins of Guo et al.


@torch.no_grad()
def logits_of(model, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(images[i:i + batch].to(device)).cpu() for i in range(0, len(images), batch)])


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T minimising the mean negative log-likelihood of softmax(logits / T) (a convex problem in 1/T)."""
    log_t = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def nll():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(nll)
    return float(log_t.detach().exp())


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """sum over confidence bins of (share of examples) * |accuracy - mean confidence| (Naeini et al. 2015)."""
    confidence, predicted = probabilities.max(1), probabilities.argmax(1)
    correct = predicted == labels
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def figures(logits: torch.Tensor, labels: np.ndarray, temperature: float) -> dict:
    """ECE, NLL and mean confidence of softmax(logits / temperature)."""
    scaled = logits / temperature
    probabilities = scaled.softmax(-1).numpy()
    return {"ece": round(expected_calibration_error(probabilities, labels), 4),
            "nll": round(float(F.cross_entropy(scaled, torch.from_numpy(labels.astype(np.int64)))), 4),
            "mean_confidence": round(float(probabilities.max(1).mean()), 4)}
