"""DCGAN (Radford et al. 2016, "Unsupervised Representation Learning with Deep Convolutional GANs"):
the GAN game with convolutional nets built by the paper's guidelines (Sec. 3): strided
convolutions instead of pooling, transposed convolutions up, batch norm in both nets except G's
output and D's input, ReLU in G with tanh at its output, LeakyReLU (0.2) in D. The loss is the
GAN's (the scaffold's default). `width` w sets the channel counts.
"""
from __future__ import annotations

from torch import nn

from hub.kit import adversarial


class Generator(nn.Module):
    """z [n, in_dim] -> 2w x 7 x 7 -> w x 14 x 14 -> 1 x 28 x 28 (stride-2 transposed convolutions).
    `refine` adds that many 3 x 3 stride-1 convolutions at 7 x 7 and again at 14 x 14: depth between z and
    the image, which a G without a categorical code needs to separate the ten digits."""

    def __init__(self, in_dim: int, width: int = 64, refine: int = 0):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(in_dim, 2 * width * 7 * 7, bias=False),
                                     nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU())
        self.refine = nn.Sequential(*[block for _ in range(refine) for block in same_size_block(2 * width)])
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            *[block for _ in range(refine) for block in same_size_block(width)],
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())
        self.width = width

    def forward(self, z):
        return self.up(self.refine(self.project(z).view(-1, 2 * self.width, 7, 7)))


def same_size_block(channels: int) -> list[nn.Module]:
    return [nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]


class Discriminator(nn.Module):
    """x [n, in_channels, 28, 28] -> w x 14 x 14 -> 2w x 7 x 7 -> one logit per image."""

    def __init__(self, in_channels: int = 1, width: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten())
        self.real = nn.Linear(2 * width * 7 * 7, 1)

    def forward(self, x):
        return self.real(self.body(x))[:, 0]


class DCGAN(adversarial.AdversarialNet):
    def __init__(self, z_dim: int = 64, width: int = 64, refine: int = 0):
        super().__init__()
        self.z_dim = z_dim
        self.generator, self.discriminator = Generator(z_dim, width, refine), Discriminator(1, width)
