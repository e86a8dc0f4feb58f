"""CycleGAN (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks"), small enough for 28 x 28 digits: G: X -> Y and F: Y -> X (here X = MNIST, Y = USPS),
discriminators D_X and D_Y, trained on unpaired images.

    L(G, F, D_X, D_Y) = L_GAN(G, D_Y) + L_GAN(F, D_X) + lambda * L_cyc(G, F)        (paper, Eq. 3)
    L_cyc = E_x |F(G(x)) - x|_1 + E_y |G(F(y)) - y|_1                                (Eq. 2)

with the least-squares adversarial loss (section 4: D minimises (D(y) - 1)^2 + D(G(x))^2, G minimises
(D(G(x)) - 1)^2) and a history of generated images for D (the paper's image buffer of 50).
Images are [B, 1, 28, 28] in [-1, 1].
"""
from __future__ import annotations

import torch
from torch import nn


def conv_block(c_in: int, c_out: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    pad = kernel // 2
    return [nn.ReflectionPad2d(pad) if stride == 1 else nn.Identity(),
            nn.Conv2d(c_in, c_out, kernel, stride, padding=0 if stride == 1 else pad),
            nn.InstanceNorm2d(c_out, affine=True), nn.ReLU(inplace=True)]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(*conv_block(channels, channels, 3)[:-1], nn.ReLU(inplace=True),
                                  *conv_block(channels, channels, 3)[:-1])

    def forward(self, x):
        return x + self.body(x)


class Generator(nn.Module):
    """The paper's ResNet generator, scaled down: c7s1-w, d2w, d4w, `blocks` x R4w, u2w, uw, c7s1-1 (tanh).
    Two stride-2 steps, as in the paper, so the residual blocks work at 7 x 7 and see the whole digit
    (turning MNIST's 20 x 20 digit into USPS's frame-filling one is a change of the whole layout).
    Without `normalize_first` the first block has no instance norm (a conditional G's input channels)."""

    def __init__(self, width: int = 16, blocks: int = 4, in_channels: int = 1, normalize_first: bool = True):
        super().__init__()
        first = conv_block(in_channels, width, 7)
        if not normalize_first:
            first[2] = nn.Identity()
        self.net = nn.Sequential(
            *first,
            *conv_block(width, 2 * width, 3, stride=2),                                   # 28 -> 14
            *conv_block(2 * width, 4 * width, 3, stride=2),                               # 14 -> 7
            *[ResidualBlock(4 * width) for _ in range(blocks)],
            *up_block(4 * width, 2 * width), *up_block(2 * width, width),                 # 7 -> 14 -> 28
            nn.ReflectionPad2d(3), nn.Conv2d(width, 1, 7), nn.Tanh())

    def forward(self, x):
        return self.net(x)


def up_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(c_in, c_out, 3, 2, padding=1, output_padding=1),
            nn.InstanceNorm2d(c_out, affine=True), nn.ReLU(inplace=True)]


class PatchDiscriminator(nn.Module):
    """A PatchGAN: a 5 x 5 grid of real/fake scores, each judging an overlapping patch of the digit."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),                          # 14
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.InstanceNorm2d(2 * width, affine=True),
            nn.LeakyReLU(0.2, inplace=True),                                                        # 7
            nn.Conv2d(2 * width, 4 * width, 4, 1, 1), nn.InstanceNorm2d(4 * width, affine=True),
            nn.LeakyReLU(0.2, inplace=True),                                                        # 6
            nn.Conv2d(4 * width, 1, 4, 1, 1))                                                       # 5

    def forward(self, x):
        return self.net(x)


def lsgan_discriminator_loss(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    return 0.5 * (((real_score - 1) ** 2).mean() + (fake_score ** 2).mean())


def lsgan_generator_loss(fake_score: torch.Tensor) -> torch.Tensor:
    return ((fake_score - 1) ** 2).mean()


class ImageHistory:
    """D sees a mix of this step's fakes and earlier ones (Shrivastava et al. 2017), which steadies it."""

    def __init__(self, size: int = 50):
        self.size, self.images = size, []

    def mix(self, fakes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = []
        for fake in fakes.detach():
            if len(self.images) < self.size:
                self.images.append(fake)
                out.append(fake)
            elif torch.rand(1, generator=generator).item() < 0.5:
                i = int(torch.randint(self.size, (1,), generator=generator))
                out.append(self.images[i])
                self.images[i] = fake
            else:
                out.append(fake)
        return torch.stack(out)


class CycleGAN(nn.Module):
    """X = MNIST, Y = USPS (upscaled to fill 28 x 28)."""

    def __init__(self, width: int = 16, blocks: int = 4, critic_width: int = 32):
        super().__init__()
        self.G, self.F = Generator(width, blocks), Generator(width, blocks)          # X -> Y, Y -> X
        self.D_X, self.D_Y = PatchDiscriminator(critic_width), PatchDiscriminator(critic_width)

    def generator_loss(self, x, y, cycle_weight: float, identity_weight: float = 0.0) -> tuple[torch.Tensor, dict]:
        fake_y, fake_x = self.G(x), self.F(y)
        adversarial = lsgan_generator_loss(self.D_Y(fake_y)) + lsgan_generator_loss(self.D_X(fake_x))
        cycle = (self.F(fake_y) - x).abs().mean() + (self.G(fake_x) - y).abs().mean()
        loss = adversarial + cycle_weight * cycle
        if identity_weight:          # the paper's optional L_identity: G(y) ~ y and F(x) ~ x
            loss = loss + identity_weight * ((self.G(y) - y).abs().mean() + (self.F(x) - x).abs().mean())
        return loss, {"fake_x": fake_x, "fake_y": fake_y, "adversarial": adversarial.item(), "cycle": cycle.item()}

    def discriminator_loss(self, x, y, fake_x, fake_y) -> torch.Tensor:
        return (lsgan_discriminator_loss(self.D_Y(y), self.D_Y(fake_y.detach()))
                + lsgan_discriminator_loss(self.D_X(x), self.D_X(fake_x.detach())))

    @torch.no_grad()
    def translate(self, images: torch.Tensor, to: str) -> torch.Tensor:
        """Images [B, 28, 28] in [0, 1] -> translated "usps" (by G) or "mnist" (by F), same range."""
        net = self.G if to == "usps" else self.F
        device = next(net.parameters()).device
        out = net(images[:, None].to(device) * 2 - 1)
        return ((out[:, 0] + 1) / 2).clamp(0, 1).cpu()
