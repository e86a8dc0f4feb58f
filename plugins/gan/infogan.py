"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
Maximizing Generative Adversarial Nets"): G also gets a latent code c, here a 10-way category c1
and two continuous codes c2, c3 ~ U(-1, 1), and must keep c recoverable from its image. A head Q on
D's body predicts c back, and G and Q maximise the variational lower bound on I(c; G(z, c)) (Eq. 5)

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c),

so the game is min_{G,Q} max_D V(D, G) - lambda L_I(G, Q) (Eq. 6), lambda = 1. Without labels, c1
tends to become the digit and c2, c3 its slant and width. The nets are DCGAN's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hub.kit import adversarial

from . import dcgan

DIGITS = 10


class Discriminator(dcgan.Discriminator):
    """DCGAN's D, plus Q: a head on the same body with the codes' parameters (10 category logits, and the
    means of the continuous codes)."""

    def __init__(self, width: int, q_dim: int):
        super().__init__(1, width)
        self.q = nn.Sequential(nn.Linear(2 * width * 7 * 7, 128), nn.BatchNorm1d(128), nn.LeakyReLU(0.2),
                               nn.Linear(128, q_dim))

    def forward(self, x):
        """(the logit that x is real, Q's outputs)."""
        h = self.body(x)
        return self.real(h)[:, 0], self.q(h)


def information_loss(q: torch.Tensor, category: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """-L_I up to the constant H(c): cross-entropy of c1, and for c2, c3 a fixed-variance Gaussian's
    negative log-likelihood (half the squared error)."""
    return F.cross_entropy(q[:, :DIGITS], category) + 0.5 * ((q[:, DIGITS:] - codes) ** 2).sum(1).mean()


class InfoGAN(adversarial.AdversarialNet):
    CONTROLS = ("category", "codes")

    def __init__(self, z_dim: int = 16, width: int = 64, continuous: int = 2, refine: int = 0):
        super().__init__()
        self.z_dim, self.continuous = z_dim, continuous
        self.generator = dcgan.Generator(z_dim + DIGITS + continuous, width, refine)
        self.discriminator = Discriminator(width, DIGITS + continuous)

    def latent(self, n, generator=None, category: torch.Tensor | None = None,
               codes: torch.Tensor | None = None) -> torch.Tensor:
        """[z, one-hot c1, c2, c3]; codes not given are drawn (c1 uniform over 10, c2, c3 from U(-1, 1))."""
        z = super().latent(n, generator)
        category = category if category is not None else torch.randint(0, DIGITS, (n,), generator=generator)
        codes = codes if codes is not None else torch.rand(n, self.continuous, generator=generator) * 2 - 1
        return torch.cat([z, F.one_hot(category.to(self.device), DIGITS).float(), codes.to(self.device)], 1)

    def codes_of(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(c1 as an index, the continuous codes) inside a latent."""
        return latent[:, self.z_dim:self.z_dim + DIGITS].argmax(1), latent[:, self.z_dim + DIGITS:]

    def discriminate(self, x, digits=None):
        return self.discriminator(x)[0]

    def discriminator_loss(self, real, digits, fake, latent, real_label):
        (real_logit, _), (fake_logit, q) = self.discriminator(real), self.discriminator(fake)
        return adversarial.discriminator_bce(real_logit, fake_logit, real_label) + \
            information_loss(q, *self.codes_of(latent))

    def generator_loss(self, fake, latent):
        fake_logit, q = self.discriminator(fake)
        return adversarial.generator_bce(fake_logit) + information_loss(q, *self.codes_of(latent))
