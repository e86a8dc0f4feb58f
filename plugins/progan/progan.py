"""Progressive GAN (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation"), for 32 x 32 digits: G and D grow together 4 x 4 -> 8 x 8 -> 16 x 16 -> 32 x 32, and each
new block is faded in (Figure 2):

    G: out = alpha * toRGB_new(block(h)) + (1 - alpha) * upsample(toRGB_old(h))
    D: h   = alpha * block(fromRGB_new(x)) + (1 - alpha) * fromRGB_old(downsample(x))

with alpha going 0 -> 1 over a transition. The paper's other parts: the minibatch standard deviation
as an extra feature map in D's last block (section 3), equalized learning rate (weights drawn from
N(0, 1) and scaled by He's constant at run time, section 4.1), pixelwise feature normalization in G
(section 4.2), and WGAN-GP with a small drift term eps_drift * D(x)^2 (appendix A.1).
Images are [B, 1, R, R] in [-1, 1] at resolution R = 4 * 2^stage.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as functional
from torch import nn

RESOLUTIONS = (4, 8, 16, 32)


class EqualizedConv2d(nn.Module):
    """A convolution whose weights are N(0, 1) and multiplied by sqrt(2 / fan_in) at every call, so that
    Adam's per-weight step sizes mean the same for every layer (equalized learning rate)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, padding: int = 0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale, self.padding = math.sqrt(2 / (c_in * kernel * kernel)), padding

    def forward(self, x):
        return functional.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    def __init__(self, d_in: int, d_out: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in))
        self.bias = nn.Parameter(torch.zeros(d_out))
        self.scale = gain / math.sqrt(d_in)

    def forward(self, x):
        return functional.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """b = a / sqrt(mean_j a_j^2 + eps) over the feature maps at every pixel (Eq. in section 4.2)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: torch.Tensor) -> torch.Tensor:
    """x with one more feature map: the standard deviation of every feature over the minibatch,
    averaged into one number and repeated over the map (section 3)."""
    spread = x.std(dim=0, unbiased=False).mean()
    return torch.cat([x, spread.expand(len(x), 1, *x.shape[2:])], dim=1)


def leaky(x: torch.Tensor) -> torch.Tensor:
    return functional.leaky_relu(x, 0.2)


class GeneratorBlock(nn.Module):
    """Upsample x2 (nearest), then two 3 x 3 convolutions, each followed by LeakyReLU and pixel norm."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1, self.conv2 = EqualizedConv2d(c_in, c_out, 3, 1), EqualizedConv2d(c_out, c_out, 3, 1)

    def forward(self, h):
        h = functional.interpolate(h, scale_factor=2, mode="nearest")
        return pixel_norm(leaky(self.conv2(pixel_norm(leaky(self.conv1(h))))))


class Generator(nn.Module):
    """z -> 4 x 4 (a dense layer as the paper's 4 x 4 convolution on a 1 x 1 input, then a 3 x 3 one),
    one GeneratorBlock per doubling, and a 1 x 1 toRGB at every resolution."""

    def __init__(self, z_dim: int = 64, channels: tuple[int, ...] = (64, 64, 32, 16)):
        super().__init__()
        self.z_dim, self.channels = z_dim, channels
        self.dense = EqualizedLinear(z_dim, channels[0] * 16, gain=math.sqrt(2) / 4)
        self.conv = EqualizedConv2d(channels[0], channels[0], 3, 1)
        self.blocks = nn.ModuleList(GeneratorBlock(a, b) for a, b in zip(channels, channels[1:]))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, 1, 1) for c in channels)

    def features(self, z: torch.Tensor, stage: int) -> list[torch.Tensor]:
        """The feature maps at 4 x 4 and after every block up to `stage`."""
        h = pixel_norm(leaky(self.dense(pixel_norm(z)).view(len(z), self.channels[0], 4, 4)))
        maps = [pixel_norm(leaky(self.conv(h)))]
        for block in self.blocks[:stage]:
            maps.append(block(maps[-1]))
        return maps

    def forward(self, z: torch.Tensor, stage: int = len(RESOLUTIONS) - 1, alpha: float = 1.0) -> torch.Tensor:
        maps = self.features(z, stage)
        new = self.to_rgb[stage](maps[-1])
        if stage == 0 or alpha >= 1:
            return new
        old = functional.interpolate(self.to_rgb[stage - 1](maps[-2]), scale_factor=2, mode="nearest")
        return alpha * new + (1 - alpha) * old


class DiscriminatorBlock(nn.Module):
    """Two 3 x 3 convolutions with LeakyReLU, then average pooling to half the size."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1, self.conv2 = EqualizedConv2d(c_in, c_in, 3, 1), EqualizedConv2d(c_in, c_out, 3, 1)

    def forward(self, h):
        return functional.avg_pool2d(leaky(self.conv2(leaky(self.conv1(h)))), 2)


class Discriminator(nn.Module):
    """G mirrored: a 1 x 1 fromRGB at every resolution, one DiscriminatorBlock per halving, and at 4 x 4
    the minibatch standard deviation, a 3 x 3 and a 4 x 4 convolution and a dense layer to one score."""

    def __init__(self, channels: tuple[int, ...] = (64, 64, 32, 16)):
        super().__init__()
        self.from_rgb = nn.ModuleList(EqualizedConv2d(1, c, 1) for c in channels)
        self.blocks = nn.ModuleList(DiscriminatorBlock(b, a) for a, b in zip(channels, channels[1:]))
        self.conv = EqualizedConv2d(channels[0] + 1, channels[0], 3, 1)
        self.conv4 = EqualizedConv2d(channels[0], channels[0], 4)
        self.score = EqualizedLinear(channels[0], 1, gain=1.0)

    def forward(self, x: torch.Tensor, stage: int = len(RESOLUTIONS) - 1, alpha: float = 1.0) -> torch.Tensor:
        h = leaky(self.from_rgb[stage](x))
        if stage > 0:
            h = self.blocks[stage - 1](h)
            if alpha < 1:
                h = alpha * h + (1 - alpha) * leaky(self.from_rgb[stage - 1](functional.avg_pool2d(x, 2)))
            for block in reversed(self.blocks[:stage - 1]):
                h = block(h)
        h = leaky(self.conv4(leaky(self.conv(minibatch_stddev(h)))))
        return self.score(h.flatten(1)).squeeze(1)


def downsample_to(images: torch.Tensor, stage: int) -> torch.Tensor:
    """Real images [B, 1, 32, 32] at the resolution of `stage` (average pooling)."""
    factor = RESOLUTIONS[-1] // RESOLUTIONS[stage]
    return functional.avg_pool2d(images, factor) if factor > 1 else images


def fade_real(images: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
    """Real images seen the way D sees fakes during a fade-in: the new resolution blended with the old one
    upsampled (the paper fades the real images in too)."""
    now = downsample_to(images, stage)
    if stage == 0 or alpha >= 1:
        return now
    before = functional.interpolate(downsample_to(images, stage - 1), scale_factor=2, mode="nearest")
    return alpha * now + (1 - alpha) * before


class ProgressiveGAN(nn.Module):
    def __init__(self, z_dim: int = 64, channels: tuple[int, ...] = (64, 64, 32, 16)):
        super().__init__()
        self.z_dim = z_dim
        self.G, self.D = Generator(z_dim, channels), Discriminator(channels)

    def discriminator_loss(self, real: torch.Tensor, z: torch.Tensor, stage: int, alpha: float,
                           gp_weight: float = 10.0, drift: float = 1e-3) -> torch.Tensor:
        """WGAN-GP: D(G(z)) - D(x) + lambda (||grad D(x_hat)|| - 1)^2 + eps_drift D(x)^2 (appendix A.1)."""
        fake = self.G(z, stage, alpha).detach()
        real_score, fake_score = self.D(real, stage, alpha), self.D(fake, stage, alpha)
        mix = torch.rand(len(real), 1, 1, 1, device=real.device)
        x_hat = (mix * real + (1 - mix) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.D(x_hat, stage, alpha).sum(), x_hat, create_graph=True)
        penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        return fake_score.mean() - real_score.mean() + gp_weight * penalty + drift * (real_score ** 2).mean()

    def generator_loss(self, z: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
        return -self.D(self.G(z, stage, alpha), stage, alpha).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, stage: int = len(RESOLUTIONS) - 1,
               alpha: float = 1.0) -> torch.Tensor:
        """n images [n, R, R] in [0, 1] at the resolution of `stage`."""
        z = torch.randn(n, self.z_dim, generator=generator).to(next(self.parameters()).device)
        return ((self.G(z, stage, alpha)[:, 0] + 1) / 2).clamp(0, 1)


class TrainedGenerators(nn.Module):
    """What ships: the generator (its moving average) at the end of every stage, the last being the final
    model, and the same generator trained at 32 x 32 from the start for as long (the ablation)."""

    def __init__(self, z_dim: int = 64, channels: tuple[int, ...] = (64, 64, 32, 16)):
        super().__init__()
        self.z_dim = z_dim
        self.stages = nn.ModuleList(Generator(z_dim, channels) for _ in RESOLUTIONS)
        self.without_growing = Generator(z_dim, channels)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, stage: int = len(RESOLUTIONS) - 1, alpha: float = 1.0,
               grown: bool = True) -> torch.Tensor:
        """Images [n, R, R] in [0, 1] from latents z: the checkpoint of `stage` (with alpha < 1, its new
        block blended with the old output as during that stage's fade-in), or the generator trained
        without growing."""
        net = self.stages[stage] if grown else self.without_growing
        net.eval()
        return ((net(z.to(next(net.parameters()).device), stage, alpha)[:, 0] + 1) / 2).clamp(0, 1)


def compare_sample(model: TrainedGenerators, n: int, generator: torch.Generator):
    """The Compare tab's sampler: n digits of the final generator, cropped back to [n, 28, 28] in [0, 1]."""
    z = torch.randn(n, model.z_dim, generator=generator)
    return model.sample(z)[:, 2:-2, 2:-2].cpu().numpy()
