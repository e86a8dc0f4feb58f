"""Variational autoencoder (Kingma & Welling 2014) with a Bernoulli decoder, for binary 28x28 images.

q(z|x) = N(mu(x), diag sigma^2(x)),  p(z) = N(0, I),  p(x|z) = prod_i Bernoulli(x_i; sigmoid(logits(z))_i).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Softplus())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    def __init__(self, x_dim: int = 784, hidden: tuple[int, ...] = (512, 256), z_dim: int = 32):
        super().__init__()
        self.x_dim, self.z_dim = x_dim, z_dim
        self.encoder = mlp([x_dim, *hidden, 2 * z_dim])          # -> (mu, log sigma^2)
        self.decoder = mlp([z_dim, *reversed(hidden), x_dim])    # -> Bernoulli logits

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of p(x|z), shape [..., x_dim]."""
        return self.decoder(z)

    def log_px_given_z(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)

    def elbo(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """Per-example ELBO in nats, Eq. (10) of the paper: E_q[log p(x|z)] - KL(q(z|x) || p(z))."""
        x = x.flatten(1)
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()    # reparameterisation trick
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        return self.log_px_given_z(x, self.decode(z)) - beta * kl

    def log_weights(self, x: torch.Tensor, k: int, chunk: int = 500, beta: float = 1.0) -> torch.Tensor:
        """log p(x, z_i) - log q(z_i|x) for z_i ~ q(z|x), i = 1..k: shape [k, batch]. `beta` < 1 weighs
        log p(z) - log q(z|x) less (the KL warm-up, carried over to the importance-weighted bound)."""
        x = x.flatten(1)
        mu, logvar = self.encode(x)
        std = (0.5 * logvar).exp()
        log_weights = []
        for start in range(0, k, chunk):
            n = min(chunk, k - start)
            eps = torch.randn(n, *mu.shape, device=x.device, dtype=mu.dtype)
            z = mu + eps * std
            log_q = normal_log_density(eps).sum(-1) - (0.5 * logvar).sum(-1)
            log_prior = normal_log_density(z).sum(-1)
            log_weights.append(self.log_px_given_z(x, self.decode(z)) + beta * (log_prior - log_q))
        return torch.cat(log_weights, dim=0)

    def iw_log_likelihood(self, x: torch.Tensor, k: int, beta: float = 1.0) -> torch.Tensor:
        """Importance-weighted lower bound on log p(x) per example, in nats (see `importance_weighted`);
        differentiable: the IWAE (Burda et al. 2016) trains on it with k > 1."""
        return importance_weighted(self.log_weights(x, k, beta=beta))


def importance_weighted(log_weights: torch.Tensor) -> torch.Tensor:
    """Burda et al. 2016, Eq. 8: log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x), from the [k, ...]
    log weights. k = 1 gives the ELBO; the bound tightens as k grows."""
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def normal_log_density(x: torch.Tensor) -> torch.Tensor:
    return -0.5 * (x.pow(2) + math.log(2 * math.pi))
