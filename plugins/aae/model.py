"""Adversarial autoencoder (Makhzani et al. 2016): an autoencoder whose code distribution q(z) is
matched to a prior p(z) by a discriminator on z, in place of the VAE's KL term. Any prior one can
sample from will do, even one with no usable density formula: here a mixture of ten 2-D Gaussians
or a swiss roll.

    reconstruction phase:  min_{enc, dec}  E_x[-log p(x | dec(enc(x)))]
    regularization phase:  max_D  E_{z~p}[log D(z)] + E_x[log(1 - D(enc(x)))],
                           then the encoder, as the generator, maximises E_x[log D(enc(x))]

With `label_guided` (the paper's section 2.3, figure 4) D also sees the digit as a one-hot vector,
and the prior samples it is shown for digit d come from the d-th part of the prior (the d-th
Gaussian, the d-th tenth of the roll): each digit is given its own region of the code space.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

PRIORS = ("mixture", "swiss_roll")


def mlp(sizes: list[int], activation=nn.ReLU) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers[:-1])


DIGITS = 10


def sample_prior(prior: str, n: int, generator: torch.Generator | None = None,
                 parts: torch.Tensor | None = None) -> torch.Tensor:
    """n points [n, 2] from the prior; `parts` [n] (0-9) picks the part of the prior of each point,
    uniformly at random if not given."""
    if parts is None:
        parts = torch.randint(0, DIGITS, (n,), generator=generator)
    if prior == "mixture":                       # ten Gaussians on a circle, stretched along the radius
        angle = 2 * math.pi * parts / DIGITS
        radial = 4 + 0.8 * torch.randn(n, generator=generator)
        tangential = 0.25 * torch.randn(n, generator=generator)
        return torch.stack([radial * angle.cos() - tangential * angle.sin(),
                            radial * angle.sin() + tangential * angle.cos()], 1)
    if prior == "swiss_roll":                    # a spiral arm, radius growing with the angle
        t = (parts + torch.rand(n, generator=generator)) / DIGITS
        angle = 1.5 * math.pi * (1 + 2 * t)
        r = angle / (1.5 * math.pi) * 1.6
        noise = 0.15 * torch.randn(n, 2, generator=generator)
        return torch.stack([r * angle.cos(), r * angle.sin()], 1) + noise
    raise ValueError(f"unknown prior {prior!r}: choose from {PRIORS}")


class AdversarialAutoencoder(nn.Module):
    def __init__(self, prior: str = "mixture", z_dim: int = 2, hidden: int = 512, label_guided: bool = False):
        super().__init__()
        if prior not in PRIORS:
            raise ValueError(f"unknown prior {prior!r}: choose from {PRIORS}")
        self.prior, self.z_dim, self.label_guided = prior, z_dim, label_guided
        self.encoder = mlp([784, hidden, hidden, z_dim])
        self.decoder = mlp([z_dim, hidden, hidden, 784])              # Bernoulli logits per pixel
        self.discriminator = mlp([z_dim + DIGITS * label_guided, 256, 256, 1], activation=lambda: nn.LeakyReLU(0.2))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(len(x), -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel intensities [n, 28, 28] in [0, 1] (the Bernoulli means)."""
        return torch.sigmoid(self.decoder(z)).view(-1, 28, 28)

    def critic(self, z: torch.Tensor, digits: torch.Tensor) -> torch.Tensor:
        """D's logit that z is a prior sample (for the digit's part of the prior, if label guided)."""
        if self.label_guided:
            z = torch.cat([z, F.one_hot(digits, DIGITS).to(z)], 1)
        return self.discriminator(z)

    def reconstruction_loss(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1)
        return F.binary_cross_entropy_with_logits(self.decoder(self.encode(x)), x, reduction="sum") / len(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, parts: torch.Tensor | None = None) -> torch.Tensor:
        self.eval()
        return self.decode(sample_prior(self.prior, n, generator, parts).to(next(self.parameters()).device))
