"""GAN (Goodfellow et al. 2014, "Generative Adversarial Nets"): a generator G(z) and a discriminator
D(x), both multilayer perceptrons, play the minimax game (Eq. 1)

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))].

G is trained with the non-saturating form -log D(G(z)) (Sec. 3: strong gradients early on, when D
rejects every fake); that loss is the scaffold's default (`hub.kit.adversarial.AdversarialNet`), so
this file is only the two nets. Images live in [-1, 1] (tanh output).
"""
from __future__ import annotations

from torch import nn

from hub.kit import adversarial


class Generator(nn.Module):
    """z [n, z_dim] -> 256 -> 512 -> 1024 -> 784 -> x [n, 1, 28, 28] in [-1, 1]."""

    def __init__(self, z_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                                 nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


class Discriminator(nn.Module):
    """x [n, 1, 28, 28] -> 512 -> 256 -> one logit per image (dropout against memorising)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                                 nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(256, 1))

    def forward(self, x):
        return self.net(x)[:, 0]


class GAN(adversarial.AdversarialNet):
    def __init__(self, z_dim: int = 64):
        super().__init__()
        self.z_dim = z_dim
        self.generator, self.discriminator = Generator(z_dim), Discriminator()
