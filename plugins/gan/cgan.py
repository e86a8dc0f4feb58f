"""Conditional GAN (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets"): G and D both
see the condition y, here the digit, and play the GAN game conditioned on it (Eq. 2)

    min_G max_D  E_x[log D(x | y)] + E_z[log(1 - D(G(z | y) | y))].

y enters G as a one-hot code beside z, and D as ten constant input planes (one of them all ones);
the nets are DCGAN's. So you choose which digit G draws.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from hub.kit import adversarial

from .dcgan import Discriminator, Generator

DIGITS = 10


class ConditionalGAN(adversarial.AdversarialNet):
    CONTROLS = ("digit",)

    def __init__(self, z_dim: int = 64, width: int = 64):
        super().__init__()
        self.z_dim = z_dim
        self.generator = Generator(z_dim + DIGITS, width)
        self.discriminator = Discriminator(1 + DIGITS, width)

    def latent(self, n, generator=None, digits: torch.Tensor | None = None) -> torch.Tensor:
        """[z, one-hot y]; the digits are drawn uniformly when not given."""
        z = super().latent(n, generator)
        digits = digits if digits is not None else torch.randint(0, DIGITS, (n,), generator=generator)
        return torch.cat([z, F.one_hot(digits.to(self.device), DIGITS).float()], 1)

    def digits_of(self, latent):
        return latent[:, self.z_dim:].argmax(1)

    def discriminate(self, x, digits=None):
        planes = F.one_hot(digits, DIGITS).float()[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.discriminator(torch.cat([x, planes], 1))
