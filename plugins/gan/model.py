"""The GAN family on 28 x 28 digits: images live in [-1, 1] inside the nets (tanh output).

- GAN (Goodfellow et al. 2014): multilayer-perceptron generator and discriminator.
- DCGAN (Radford et al. 2016): transposed convolutions up, strided convolutions down, batch norm,
  ReLU in G and LeakyReLU in D, no pooling.
- Conditional GAN (Mirza & Osindero 2014): the digit's one-hot code goes into G beside z, and into
  D as ten constant input planes.
- InfoGAN (Chen et al. 2016): G also gets a 10-way categorical code c1 and two continuous codes
  c2, c3 ~ U(-1, 1); a head Q on D's body predicts them back, and the mutual-information bound
  L_I(G, Q) = E[log Q(c | G(z, c))] + H(c) is maximised by G and Q (Eq. 5 of the paper).

Every model here exposes `latent(n, generator, **codes)` -> G's input, `generate(latent)` ->
images [n, 1, 28, 28] in [-1, 1] and `discriminate(x, digits)` -> (real/fake logit, Q outputs).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DIGITS = 10


class MLPGenerator(nn.Module):
    def __init__(self, in_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                                 nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                                 nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(256, 1))

    def forward(self, x):
        return self.net(x)[:, 0]


class DCGenerator(nn.Module):
    """z -> 2w x 7 x 7 -> w x 14 x 14 -> 1 x 28 x 28 (stride-2 transposed convolutions), w = width."""

    def __init__(self, in_dim: int, width: int = 64):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(in_dim, 2 * width * 7 * 7, bias=False),
                                     nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())
        self.width = width

    def forward(self, z):
        return self.up(self.project(z).view(-1, 2 * self.width, 7, 7))


class DCDiscriminator(nn.Module):
    """1 (+ condition planes) x 28 x 28 -> w x 14 x 14 -> 2w x 7 x 7 -> one logit, and, for
    InfoGAN, a head Q on the same body with `q_dim` outputs."""

    def __init__(self, in_channels: int = 1, width: int = 64, q_dim: int = 0):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten())
        self.real = nn.Linear(2 * width * 7 * 7, 1)
        self.q = nn.Sequential(nn.Linear(2 * width * 7 * 7, 128), nn.BatchNorm1d(128), nn.LeakyReLU(0.2),
                               nn.Linear(128, q_dim)) if q_dim else None

    def forward(self, x):
        h = self.body(x)
        return self.real(h)[:, 0], (self.q(h) if self.q is not None else None)


class GenerativeAdversarialNet(nn.Module):
    """One of the four, by `kind`: "gan", "dcgan", "cgan", "infogan"; `width` sets the
    convolutional models' channel counts."""

    def __init__(self, kind: str, z_dim: int = 64, continuous: int = 2, width: int = 64):
        super().__init__()
        self.kind, self.z_dim, self.continuous = kind, z_dim, continuous
        codes = {"cgan": DIGITS, "infogan": DIGITS + continuous}.get(kind, 0)
        if kind == "gan":
            self.generator, self.discriminator = MLPGenerator(z_dim), MLPDiscriminator()
        else:
            self.generator = DCGenerator(z_dim + codes, width)
            self.discriminator = DCDiscriminator(1 + (DIGITS if kind == "cgan" else 0), width,
                                                 q_dim=DIGITS + continuous if kind == "infogan" else 0)

    def latent(self, n: int, generator: torch.Generator | None = None, digits: torch.Tensor | None = None,
               category: torch.Tensor | None = None, codes: torch.Tensor | None = None) -> torch.Tensor:
        """G's input for n samples: z ~ N(0, I), then the digit (cGAN) or the codes (InfoGAN);
        codes not given are drawn (category uniform over 10, continuous codes from U(-1, 1))."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.z_dim, generator=generator).to(device)
        if self.kind == "cgan":
            digits = digits if digits is not None else torch.randint(0, DIGITS, (n,), generator=generator)
            return torch.cat([z, F.one_hot(digits.to(device), DIGITS).float()], 1)
        if self.kind == "infogan":
            category = category if category is not None else torch.randint(0, DIGITS, (n,), generator=generator)
            codes = codes if codes is not None else torch.rand(n, self.continuous, generator=generator) * 2 - 1
            return torch.cat([z, F.one_hot(category.to(device), DIGITS).float(), codes.to(device)], 1)
        return z

    def generate(self, latent: torch.Tensor) -> torch.Tensor:
        return self.generator(latent)

    def discriminate(self, x: torch.Tensor, digits: torch.Tensor | None = None):
        """(logit that x is real, Q's outputs or None)."""
        if self.kind == "gan":
            return self.discriminator(x), None
        if self.kind == "cgan":
            planes = F.one_hot(digits, DIGITS).float()[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, planes], 1)
        return self.discriminator(x)

    def codes_of(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """InfoGAN: (category index, continuous codes) inside a latent."""
        return latent[:, self.z_dim:self.z_dim + DIGITS].argmax(1), latent[:, self.z_dim + DIGITS:]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, **codes) -> torch.Tensor:
        """n images [n, 28, 28] in [0, 1]."""
        self.eval()
        return (self.generate(self.latent(n, generator, **codes))[:, 0] + 1) / 2


def information_loss(q: torch.Tensor, category: torch.Tensor, codes: torch.Tensor, weight: float = 1.0):
    """-L_I up to the constant H(c): cross-entropy of the category, and for the continuous codes a
    fixed-variance Gaussian's negative log-likelihood (squared error); lambda = 1 in the paper."""
    return F.cross_entropy(q[:, :DIGITS], category) + weight * 0.5 * ((q[:, DIGITS:] - codes) ** 2).sum(1).mean()
