"""Variational autoencoder (Kingma & Welling 2014) with a Bernoulli decoder, for binary 28x28 images.

q(z|x) = N(mu(x), diag sigma^2(x)),  p(x|z) = prod_i Bernoulli(x_i; sigmoid(logits(z))_i),
p(z) = N(0, I), or with K pseudo-inputs u_k the VampPrior (Tomczak & Welling 2018, Eq. 9):
p(z) = (1/K) sum_k q(z|u_k): the prior the ELBO asks for, the average of q(z|x) over the data, with K
learned points standing in for the N training images.
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
    def __init__(self, x_dim: int = 784, hidden: tuple[int, ...] = (512, 256), z_dim: int = 32,
                 pseudo_inputs: int = 0):
        super().__init__()
        self.x_dim, self.z_dim = x_dim, z_dim
        self.encoder = mlp([x_dim, *hidden, 2 * z_dim])          # -> (mu, log sigma^2)
        self.decoder = mlp([z_dim, *reversed(hidden), x_dim])    # -> Bernoulli logits
        # learned images in [0, 1] (through hardtanh, as the paper), started near blank
        self.pseudo_inputs = nn.Parameter(0.05 + 0.01 * torch.randn(pseudo_inputs, x_dim)) if pseudo_inputs else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of p(x|z), shape [..., x_dim]."""
        return self.decoder(z)

    def pseudo_images(self) -> torch.Tensor:
        """The VampPrior's pseudo-inputs u_k as images in [0, 1], [K, x_dim]."""
        return F.hardtanh(self.pseudo_inputs, 0.0, 1.0)

    def prior_components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log sigma^2) of the VampPrior's K components q(z|u_k), each [K, z_dim]."""
        return self.encode(self.pseudo_images())

    def log_prior(self, z: torch.Tensor, components=None) -> torch.Tensor:
        """log p(z), summed over z's last dimension."""
        if self.pseudo_inputs is None:
            return normal_log_density(z).sum(-1)
        mu, logvar = components if components is not None else self.prior_components()
        return torch.logsumexp(component_log_densities(z, mu, logvar), dim=-1) - math.log(len(mu))

    def sample_prior(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
                     components=None) -> torch.Tensor:
        """n draws of z ~ p(z) on the CPU, their spread scaled by `temperature` (the noise of N(0, I), or of
        the chosen component q(z|u_k) for the VampPrior). `components`, from `prior_components`, saves
        encoding the pseudo-inputs again when several calls share them."""
        eps = torch.randn(n, self.z_dim, generator=generator) * temperature
        if self.pseudo_inputs is None:
            return eps
        k = torch.randint(len(self.pseudo_inputs), (n,), generator=generator)
        with torch.no_grad():
            mu, logvar = (t.cpu() for t in (components if components is not None else self.prior_components()))
        return mu[k] + eps * (0.5 * logvar[k]).exp()

    def kl_to_prior(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)) per example: closed form for N(0, I); for the VampPrior, log q(z|x) - log p(z)
        averaged over the draws z [samples, batch, z_dim] (one draw is the paper's training estimate)."""
        if self.pseudo_inputs is None:
            return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        log_q = diagonal_normal_log_density(z, mu, logvar).sum(-1)
        return (log_q - self.log_prior(z)).mean(0)

    def log_px_given_z(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)

    def elbo(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """Per-example ELBO in nats, Eq. (10) of the paper: E_q[log p(x|z)] - KL(q(z|x) || p(z))."""
        x = x.flatten(1)
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()    # reparameterisation trick
        return self.log_px_given_z(x, self.decode(z)) - beta * self.kl_to_prior(mu, logvar, z[None])

    def log_weights(self, x: torch.Tensor, k: int, chunk: int = 500, beta: float = 1.0) -> torch.Tensor:
        """log p(x, z_i) - log q(z_i|x) for z_i ~ q(z|x), i = 1..k: shape [k, batch]. `beta` < 1 weighs
        log p(z) - log q(z|x) less (the KL warm-up, carried over to the importance-weighted bound)."""
        x = x.flatten(1)
        mu, logvar = self.encode(x)
        std = (0.5 * logvar).exp()
        components = self.prior_components() if self.pseudo_inputs is not None else None
        log_weights = []
        for start in range(0, k, chunk):
            n = min(chunk, k - start)
            eps = torch.randn(n, *mu.shape, device=x.device, dtype=mu.dtype)
            z = mu + eps * std
            log_q = normal_log_density(eps).sum(-1) - (0.5 * logvar).sum(-1)
            log_prior = self.log_prior(z, components)
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


def diagonal_normal_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)) per dimension (broadcasting)."""
    return normal_log_density((z - mu) * (-0.5 * logvar).exp()) - 0.5 * logvar


def component_log_densities(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu_k, diag exp(logvar_k)) of each z [..., D] under each of K Gaussians mu, logvar [K, D]:
    [..., K]. Expanded into matrix products so that no [..., K, D] tensor is made (k = 5000 draws x K)."""
    precision = (-logvar).exp()
    quadratic = z.pow(2) @ precision.T - 2 * z @ (mu * precision).T + (mu.pow(2) * precision).sum(-1)
    return -0.5 * (quadratic + logvar.sum(-1) + mu.shape[-1] * math.log(2 * math.pi))
