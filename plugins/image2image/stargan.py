"""StarGAN (Choi et al. 2018, "StarGAN: Unified Generative Adversarial Networks for Multi-Domain
Image-to-Image Translation"): one generator G(x, c) takes a digit into any target domain c, and one
discriminator has two heads, D_src (real or fake) and D_cls (which domain).

    L_D = -L_adv + lambda_cls * L_cls^r          L_G = L_adv + lambda_cls * L_cls^f + lambda_rec * L_rec   (Eq. 5, 6)
    L_adv   = E[D_src(x)] - E[D_src(G(x, c))] - lambda_gp * E[(||grad D_src(x_hat)||_2 - 1)^2]  (Eq. 8, WGAN-GP)
    L_cls^r = E[-log D_cls(c' | x)]   on real digits and their own domain c'                  (Eq. 2)
    L_cls^f = E[-log D_cls(c | G(x, c))]   on translated digits and the target c              (Eq. 3)
    L_rec   = E[|x - G(G(x, c), c')|_1]   back to the original domain                         (Eq. 4)

Domains are groups of one-hot labels: stroke thickness (thin, thick), slant (left, upright, right),
both measured on MNIST digits, and style (MNIST, USPS), which holds across both data sets. The two
label sets come from different data, so c ends with the paper's mask vector m (Eq. 7): which label set
this c speaks for; the other set's labels are zeros and D_cls is not asked about them.
Images are [B, 1, 28, 28] in [-1, 1].
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as functional
from torch import nn

from hub.kit import strokes

from .cyclegan import Generator

GROUPS = {"thickness": ("thin", "thick"), "slant": ("left", "upright", "right"), "style": ("mnist", "usps")}
LABEL_SETS = {"strokes": ("thickness", "slant"), "style": ("style",)}     # what each data set labels
CLASSES = sum(len(values) for values in GROUPS.values())
CODE = CLASSES + len(LABEL_SETS)                                         # one-hot labels, then the mask m


def group_slices() -> dict[str, slice]:
    slices, start = {}, 0
    for group, values in GROUPS.items():
        slices[group] = slice(start, start + len(values))
        start += len(values)
    return slices


SLICES = group_slices()


def stroke_labels(images: np.ndarray, nearest: bool = False) -> dict[str, np.ndarray]:
    """Each digit's thickness and slant as value indices into GROUPS, measured as the text-to-image
    captions measure them (`hub.kit.strokes`): -1 where the digit lies between two bands, or with
    `nearest` the nearer band (a digit's own domain when only another attribute is to change)."""
    thickness, slant = strokes.measure(images)
    if nearest:
        thick = thickness > (strokes.THIN_BELOW + strokes.THICK_ABOVE) / 2
        upright_or_right = np.where(slant > (strokes.UPRIGHT_WITHIN + strokes.RIGHT_ABOVE) / 2, 2, 1)
        return {"thickness": thick.astype(np.int64),
                "slant": np.where(slant < strokes.LEFT_BELOW, 0, upright_or_right).astype(np.int64)}
    words = {"thickness": [strokes.thickness_word(t) for t in thickness], "slant": [strokes.slant_word(v) for v in slant]}
    return {group: np.array([GROUPS[group].index(w) if w else -1 for w in found], np.int64)
            for group, found in words.items()}


def domain_code(label_set: str, **chosen: int | torch.Tensor) -> torch.Tensor:
    """The code c [B, CODE] for `label_set` with each of its groups' chosen value index (ints or [B]
    tensors), e.g. domain_code("strokes", thickness=1, slant=torch.tensor([0, 2]))."""
    sizes = [torch.as_tensor(v).numel() for v in chosen.values()]
    batch = max(sizes) if sizes else 1
    code = torch.zeros(batch, CODE)
    for group in LABEL_SETS[label_set]:
        code[:, SLICES[group]] = functional.one_hot(torch.as_tensor(chosen[group]).expand(batch),
                                                    len(GROUPS[group])).float()
    code[:, CLASSES + list(LABEL_SETS).index(label_set)] = 1
    return code


class Discriminator(nn.Module):
    """Strided 4 x 4 convolutions with LeakyReLU (no normalisation, as the paper's D), then D_src, a
    3 x 3 map of real/fake scores, and D_cls, a logit for every label of every group."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.01),                 # 14
                                  nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.01),         # 7
                                  nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.LeakyReLU(0.01))     # 3
        self.src = nn.Conv2d(4 * width, 1, 3, 1, 1)
        self.cls = nn.Conv2d(4 * width, CLASSES, 3)

    def forward(self, x):
        h = self.body(x)
        return self.src(h), self.cls(h).flatten(1)


def classification_loss(logits: torch.Tensor, code: torch.Tensor, label_set: str) -> torch.Tensor:
    """Cross-entropy of D_cls on each group the code's label set speaks for (the mask's job)."""
    return sum(functional.cross_entropy(logits[:, SLICES[g]], code[:, SLICES[g]].argmax(1))
               for g in LABEL_SETS[label_set])


def gradient_penalty(critic: Discriminator, real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """(||grad D_src(x_hat)||_2 - 1)^2 on random points between real and fake (Gulrajani et al. 2017)."""
    mix = torch.rand(len(real), 1, 1, 1, generator=generator).to(real)
    x_hat = (mix * real + (1 - mix) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat)[0].sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class StarGAN(nn.Module):
    def __init__(self, width: int = 16, blocks: int = 4, critic_width: int = 32):
        super().__init__()
        # no instance norm right after the input: it would subtract the tiled code (a constant over the
        # image) from every channel and leave G blind to c
        self.G = Generator(width, blocks, in_channels=1 + CODE, normalize_first=False)
        self.D = Discriminator(critic_width)

    def translate_signed(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """G(x, c): the code tiled over the image as extra input channels."""
        tiled = code.to(x)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.G(torch.cat([x, tiled], 1))

    def discriminator_loss(self, x, own_code, target_code, label_set: str, weights: dict,
                           generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        real_src, real_cls = self.D(x)
        fake = self.translate_signed(x, target_code).detach()
        fake_src, _ = self.D(fake)
        adversarial = fake_src.mean() - real_src.mean()
        cls = classification_loss(real_cls, own_code, label_set)
        penalty = gradient_penalty(self.D, x, fake, generator)
        loss = adversarial + weights["gp"] * penalty + weights["cls"] * cls
        return loss, {"D adversarial": adversarial.item(), "D cls": cls.item()}

    def generator_loss(self, x, own_code, target_code, label_set: str, weights: dict) -> tuple[torch.Tensor, dict]:
        fake = self.translate_signed(x, target_code)
        fake_src, fake_cls = self.D(fake)
        adversarial = -fake_src.mean()
        cls = classification_loss(fake_cls, target_code, label_set)
        reconstruction = (self.translate_signed(fake, own_code) - x).abs().mean()
        loss = adversarial + weights["cls"] * cls + weights["rec"] * reconstruction
        return loss, {"G adversarial": adversarial.item(), "G cls": cls.item(), "reconstruction": reconstruction.item()}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """Images [B, 28, 28] in [0, 1] and codes [B, CODE] -> translated images, same range."""
        device = next(self.G.parameters()).device
        out = self.translate_signed(images[:, None].to(device) * 2 - 1, code.to(device))
        return ((out[:, 0] + 1) / 2).clamp(0, 1).cpu()
