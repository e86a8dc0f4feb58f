"""Puzzle-GAN (Lee et al., ECCV 2018, "Unsupervised Holistic Image Generation from Key Local Patches"):
a few key patches of a digit, without their positions, in; the whole digit and, per patch, a mask saying
where it belongs, out.

A shared part-encoding network E reads each patch; the sum of the codes (blind to their order) is what
the mask prediction network M and the generator G know of the digit. M places each patch: a distribution
over the 21 x 21 places an 8 x 8 patch can take in a 28 x 28 digit; its mask is that distribution spread
over the patch's area. G draws the digit from the codes, a noise z, and the patches laid where M put them
(encoded and decoded as a U-Net).
"""
from __future__ import annotations

from itertools import combinations

import torch
import torch.nn.functional as functional
from torch import nn

SIDE = 28                      # the digit
PATCH = 8                      # a key patch is PATCH x PATCH
PLACES = SIDE - PATCH + 1      # top-left corners a patch can take on each axis
PATCHES = 3                    # key patches per digit


def crop(images: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
    """images [B, 28, 28], places [B, K, 2] (row, column of each top-left corner) -> patches [B, K, 8, 8]."""
    windows = images.unfold(1, PATCH, 1).unfold(2, PATCH, 1)          # [B, 21, 21, 8, 8]
    rows = torch.arange(len(images))[:, None]
    return windows[rows, places[..., 0], places[..., 1]]


def one_hot_places(places: torch.Tensor) -> torch.Tensor:
    """[B, K, 2] -> a placement distribution [B, K, 21, 21] with all its mass on each true place."""
    flat = functional.one_hot(places[..., 0] * PLACES + places[..., 1], PLACES * PLACES).float()
    return flat.view(*places.shape[:2], PLACES, PLACES)


def spread(placement: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Each patch's `kernels` [B, K, 8, 8] laid at every place, weighted by `placement` [B, K, 21, 21]:
    [B, K, 28, 28] (a transposed convolution, one group per patch)."""
    b, k = placement.shape[:2]
    out = functional.conv_transpose2d(placement.reshape(1, b * k, PLACES, PLACES),
                                      kernels.reshape(b * k, 1, PATCH, PATCH), groups=b * k)
    return out.view(b, k, SIDE, SIDE)


def masks_of(placement: torch.Tensor) -> torch.Tensor:
    """The spatial mask of every patch [B, K, 28, 28]: the chance that the patch covers each pixel.
    A mask sums to the patch's area, 64, wherever its mass lies."""
    return spread(placement, torch.ones(*placement.shape[:2], PATCH, PATCH))


def paste(patches: torch.Tensor, placement: torch.Tensor) -> torch.Tensor:
    """The patches [B, K, 8, 8] in [0, 1] laid on a blank digit where `placement` puts them: [B, 28, 28].
    Where two patches overlap, the brighter pixel wins (crops of one digit agree there)."""
    return spread(placement, patches).amax(1).clamp(0, 1)


def key_places(images: torch.Tensor, generator: torch.Generator | None = None, count: int = PATCHES,
               min_ink: float = 8.0, spacing: int = 4) -> torch.Tensor:
    """`count` places per digit [B, count, 2], drawn at random among the windows holding at least `min_ink`
    (the ink summed over the 64 pixels) and at least `spacing` pixels from the places drawn before."""
    ink = functional.avg_pool2d(images[:, None], PATCH, stride=1)[:, 0] * PATCH * PATCH     # [B, 21, 21]
    weights = (ink >= min_ink).float() + 1e-6            # a faint digit still gets places
    grid = torch.stack(torch.meshgrid(torch.arange(PLACES), torch.arange(PLACES), indexing="ij"), -1)
    chosen = []
    for _ in range(count):
        index = torch.multinomial(weights.flatten(1), 1, generator=generator)[:, 0]
        place = torch.stack([index // PLACES, index % PLACES], -1)                     # [B, 2]
        chosen.append(place)
        near = ((grid[None] - place[:, None, None]).abs().amax(-1) < spacing)          # [B, 21, 21]
        weights = weights.masked_fill(near, 0.0) + 1e-9
    return torch.stack(chosen, 1)


def most_likely_places(logits: torch.Tensor) -> torch.Tensor:
    """Place logits [B, K, 21, 21] -> each patch's most likely top-left corner [B, K, 2]."""
    index = logits.flatten(2).argmax(-1)
    return torch.stack([index // PLACES, index % PLACES], -1)


def overlap_disagreement(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Two patches [B, 8, 8] -> [B, 15, 15]: the summed |a - b| over their overlap when b's corner lies
    (dr, dc) from a's, at [dr + 7, dc + 7] for dr, dc in -7..7. Crops of one digit agree wherever they overlap."""
    reach = PATCH - 1
    shifted = functional.pad(b, (reach,) * 4).unfold(1, PATCH, 1).unfold(2, PATCH, 1)        # [B, 15, 15, 8, 8]
    inside = functional.pad(torch.ones_like(b[0]), (reach,) * 4).unfold(0, PATCH, 1).unfold(1, PATCH, 1)
    table = ((a[:, None, None] - shifted).abs() * inside).sum((-1, -2))
    return table.flip(1, 2)          # window (i, j) has b's corner (7 - i, 7 - j) from a's


def joint_places(logits: torch.Tensor, patches: torch.Tensor, candidates: int = 20, spacing: int = 4,
                 disagreement_weight: float = 5.0) -> torch.Tensor:
    """Every patch's place chosen together, not each alone [B, K, 2]: among each patch's `candidates` likeliest
    places under M, the layout of highest summed log-likelihood, less `disagreement_weight` times the ink on
    which overlapping patches disagree, with no two patches nearer than `spacing` pixels (as key patches are
    drawn)."""
    b, k = logits.shape[:2]
    log_p, index = logits.flatten(2).log_softmax(-1).topk(candidates, -1)          # [B, K, T]
    corners = torch.stack([index // PLACES, index % PLACES], -1)                   # [B, K, T, 2]

    def laid_along(values: torch.Tensor, axes: tuple) -> torch.Tensor:            # [B, T(, T)] onto [B, T, ..., T]
        return values.view(b, *[candidates if axis in axes else 1 for axis in range(k)])

    score = sum(laid_along(log_p[:, i], (i,)) for i in range(k))
    rows = torch.arange(b)[:, None, None]
    for i, j in combinations(range(k), 2):
        offset = corners[:, j, None, :] - corners[:, i, :, None]                  # [B, T, T, 2]
        apart = offset.abs().amax(-1)
        near = offset.clamp(1 - PATCH, PATCH - 1) + PATCH - 1
        disagreement = overlap_disagreement(patches[:, i], patches[:, j])[rows, near[..., 0], near[..., 1]]
        penalty = disagreement_weight * disagreement * (apart < PATCH) + 1e4 * (apart < spacing)
        score = score - laid_along(penalty, (i, j))
    best = torch.stack(torch.unravel_index(score.flatten(1).argmax(1), (candidates,) * k), -1)   # [B, K]
    return corners[torch.arange(b)[:, None], torch.arange(k), best]


def spatial_loss(logits: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
    """L_spat: the log-loss of each patch's true place under M (the paper compares masks by L1; the
    log-loss is its sharper form)."""
    truth = places[..., 0] * PLACES + places[..., 1]
    return functional.cross_entropy(logits.flatten(0, 1).flatten(1), truth.flatten())


def wrong_places(places: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Places at least PATCH / 2 pixels away from the true ones, at random: where a patch does not belong."""
    offset = torch.randint(PATCH // 2, PLACES - PATCH // 2, places.shape, generator=generator)
    return (places + offset) % PLACES


class PartEncoder(nn.Module):
    """E: a patch [N, 8, 8] in [0, 1] -> its code [N, code]."""

    def __init__(self, code: int = 128, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),          # 4 x 4
            nn.Flatten(), nn.Linear(2 * width * 16, code), nn.LeakyReLU(0.2))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.net(patches[:, None] * 2 - 1)


class MaskPredictor(nn.Module):
    """M: a patch's code beside the codes of the whole set -> logits over the 21 x 21 places."""

    def __init__(self, code: int = 128, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * code, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, PLACES * PLACES))

    def forward(self, own: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
        whole = whole[:, None].expand_as(own)
        return self.net(torch.cat([own, whole], -1)).view(*own.shape[:2], PLACES, PLACES)


class Generator(nn.Module):
    """G, an encoder-decoder: the patches as M laid them (and their masks) are encoded 28 -> 14 -> 7, joined
    at 7 x 7 with the summed code and z, and decoded 7 -> 14 -> 28 with a skip at each size (a U-Net), so
    the layout of the pieces, not only what they show, shapes the digit."""

    def __init__(self, code: int = 128, z_dim: int = 16, width: int = 32):
        super().__init__()
        self.z_dim, self.width = z_dim, width
        self.down14 = nn.Sequential(nn.Conv2d(2, width // 2, 4, 2, 1), nn.LeakyReLU(0.2))
        self.down7 = nn.Sequential(nn.Conv2d(width // 2, width, 4, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2))
        self.project = nn.Sequential(nn.Linear(code + z_dim, width * 7 * 7), nn.BatchNorm1d(width * 7 * 7), nn.ReLU())
        self.up14 = nn.Sequential(nn.ConvTranspose2d(2 * width, width // 2, 4, 2, 1), nn.BatchNorm2d(width // 2), nn.ReLU())
        self.up28 = nn.Sequential(nn.ConvTranspose2d(width, width // 4, 4, 2, 1), nn.BatchNorm2d(width // 4), nn.ReLU())
        self.out = nn.Sequential(nn.Conv2d(width // 4 + 2, width // 4, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(width // 4, 1, 3, padding=1), nn.Tanh())

    def forward(self, whole: torch.Tensor, z: torch.Tensor, laid: torch.Tensor, covered: torch.Tensor) -> torch.Tensor:
        pieces = torch.stack([laid * 2 - 1, covered], 1)
        at14 = self.down14(pieces)
        at7 = self.down7(at14)
        h = self.project(torch.cat([whole, z], 1)).view(-1, self.width, 7, 7)
        h = self.up28(torch.cat([self.up14(torch.cat([h, at7], 1)), at14], 1))
        return self.out(torch.cat([h, pieces], 1))[:, 0]


class Discriminator(nn.Module):
    """D: a digit [B, 28, 28] in [-1, 1] -> one logit (a DCGAN critic)."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, None])[:, 0]


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class PuzzleGAN(nn.Module):
    def __init__(self, code: int = 128, z_dim: int = 16, g_width: int = 32, d_width: int = 32):
        super().__init__()
        self.z_dim = z_dim
        self.E, self.M = PartEncoder(code), MaskPredictor(code)
        self.G, self.D = Generator(code, z_dim, g_width), Discriminator(d_width)

    def place_loss(self, patches: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
        """L_spat alone, for E and M before G and D join in."""
        return spatial_loss(self.place(patches)[1], places)

    def place(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """E and M: the summed code of the patches [B, code] and each patch's place logits [B, K, 21, 21]."""
        b, k = patches.shape[:2]
        own = self.E(patches.reshape(b * k, PATCH, PATCH)).view(b, k, -1)
        whole = own.sum(1)                                   # E's codes summed: the order does not matter
        return whole, self.M(own, whole)

    def assemble(self, patches: torch.Tensor, z: torch.Tensor, lay_at: torch.Tensor | None = None,
                 most_likely: bool = False) -> dict:
        """patches [B, K, 8, 8] in [0, 1] (in any order), z [B, z_dim] -> the place logits [B, K, 21, 21],
        the placement (their softmax), the masks [B, K, 28, 28] and the digit [B, 28, 28] in [-1, 1].
        G gets the patches laid by M's placement (spread as it is, or each at its `most_likely` place), or by
        `lay_at` [B, K, 21, 21] (training: the true one)."""
        whole, logits = self.place(patches)
        placement = logits.flatten(2).softmax(-1).view_as(logits)
        masks = masks_of(placement)
        if lay_at is None:
            lay_at = one_hot_places(most_likely_places(logits)) if most_likely else placement
        digit = self.G(whole, z, paste(patches, lay_at), masks_of(lay_at).sum(1).clamp(max=1))
        return {"logits": logits, "placement": placement, "masks": masks, "digit": digit}

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor, shuffled: torch.Tensor) -> torch.Tensor:
        """Real digits against two kinds of fake: G's, and real digits whose patches were moved to wrong places."""
        return bce(self.D(real), 1.0) + bce(self.D(fake.detach()), 0.0) + bce(self.D(shuffled), 0.0)

    def generator_loss(self, out: dict, real: torch.Tensor, places: torch.Tensor, weights: dict) -> tuple:
        """L_adv + lambda_spat L_spat + lambda_appr L_appr (+ lambda_whole |G's digit - the real one| over
        the whole digit, ours). L_appr: |G's digit - the real one| inside the true patch masks."""
        adversarial = bce(self.D(out["digit"]), 1.0)
        spatial = spatial_loss(out["logits"], places)
        covered = masks_of(one_hot_places(places)).amax(1)
        appearance = ((out["digit"] - real).abs() * covered).sum() / covered.sum()
        whole = (out["digit"] - real).abs().mean()
        total = (adversarial + weights["spatial"] * spatial + weights["appearance"] * appearance
                 + weights.get("whole", 0.0) * whole)
        return total, {"adversarial": adversarial.item(), "spatial": spatial.item(), "appearance": appearance.item(),
                       "whole": whole.item()}

    @torch.no_grad()
    def solve(self, patches: torch.Tensor, z: torch.Tensor, jointly: bool = True) -> dict:
        """For the demo and the metrics: each patch's mask and its place (chosen `jointly` with the others'
        places, or each patch's most likely one), and the digit in [0, 1] that G draws around the patches
        laid there."""
        self.eval()
        logits = self.place(patches)[1]
        places = joint_places(logits, patches) if jointly else most_likely_places(logits)
        out = self.assemble(patches, z, one_hot_places(places))
        return {"digit": ((out["digit"] + 1) / 2).clamp(0, 1), "masks": out["masks"], "places": places}
