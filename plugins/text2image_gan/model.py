"""Text-to-image GAN (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis"), on captions of
MNIST digits.

A text encoder phi(t) turns a caption into an embedding; it is trained before the GAN and then frozen,
as the paper's char-CNN-RNN was, with the structured joint embedding of Reed et al. (2016a): image and
caption embeddings score their compatibility theta(v)^T phi(t), and each caption should score highest with
the images it describes and each image with its captions. G(z, phi(t)) and D(x, phi(t)) both compress the
embedding with a fully connected layer and a leaky ReLU; G puts it beside z, D replicates it over the
7 x 7 grid of its last feature map (Sec. 4.1).

GAN-CLS, the matching-aware discriminator (Algorithm 1): besides {real image, right text} (real) and
{fake image, right text} (fake), D sees {real image, wrong text} as a third kind of fake,

    L_D = log s_r + (log(1 - s_w) + log(1 - s_f)) / 2,    L_G = log s_f,

so D must judge whether image and caption match, not only whether the image is real.
GAN-INT (Eq. 5): G also draws for interpolated embeddings beta * t1 + (1 - beta) * t2 (beta = 0.5) of two
captions of the batch and must fool D with them; no real image matches them, so only G sees the term.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hub.kit import adversarial, captions, to_unit

EMBEDDING = 128          # phi(t)
COMPRESSED = 64          # phi(t) after each net's fully connected layer
PLANES = 10              # phi(t) as D's extra input planes
WORD_DIM = 64


class TextEncoder(nn.Module):
    """phi: caption ids [n, MAX_WORDS] (padded) -> unit-length embeddings [n, EMBEDDING]: word vectors,
    a bidirectional GRU over the words, its outputs averaged over the real words."""

    def __init__(self, vocabulary: int, pad: int):
        super().__init__()
        self.pad = pad
        self.words = nn.Embedding(vocabulary, WORD_DIM, padding_idx=pad)
        self.rnn = nn.GRU(WORD_DIM, EMBEDDING, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * EMBEDDING, EMBEDDING)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        real = (ids != self.pad).float()[:, :, None]
        states, _ = self.rnn(self.words(ids))
        pooled = (states * real).sum(1) / real.sum(1).clamp(min=1)
        return F.normalize(self.out(pooled), dim=1)


class ImageEncoder(nn.Module):
    """theta: images [n, 1, 28, 28] in [-1, 1] -> unit-length embeddings [n, EMBEDDING]; only used to
    train phi (the joint embedding), not shipped."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, 2, 1), nn.ReLU(), nn.Conv2d(width, 2 * width, 3, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, EMBEDDING))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.body(x), dim=1)


def joint_embedding_loss(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor, matches: torch.Tensor,
                         temperature: float = 0.1) -> torch.Tensor:
    """The structured joint embedding's objective as a softmax over a batch: each image's compatibility
    with every caption of the batch (and each caption's with every image) should put its mass on the
    pairs that match (`matches` [n, n], image i fits caption j: a caption naming only "seven" fits
    every seven)."""
    scores = image_embeddings @ text_embeddings.T / temperature
    targets = matches.float()
    image_to_text = -(targets / targets.sum(1, keepdim=True) * F.log_softmax(scores, 1)).sum(1).mean()
    text_to_image = -(targets.T / targets.T.sum(1, keepdim=True) * F.log_softmax(scores.T, 1)).sum(1).mean()
    return (image_to_text + text_to_image) / 2


def compress(embedding_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(embedding_dim, COMPRESSED), nn.LeakyReLU(0.2))


class Generator(nn.Module):
    """[z, compressed phi(t)] -> 2w x 7 x 7 -> w x 14 x 14 -> 1 x 28 x 28 in [-1, 1] (DCGAN's layers)."""

    def __init__(self, z_dim: int, width: int):
        super().__init__()
        self.text = compress(EMBEDDING)
        self.project = nn.Sequential(nn.Linear(z_dim + COMPRESSED, 2 * width * 7 * 7, bias=False),
                                     nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())
        self.width = width

    def forward(self, z: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, self.text(phi)], 1))
        return self.up(h.view(-1, 2 * self.width, 7, 7))


class Discriminator(nn.Module):
    """x [n, 1, 28, 28] beside PLANES constant planes of phi (compressed) -> w x 14 x 14 -> 2w x 7 x 7; phi,
    compressed again, replicated over the 7 x 7 grid and concatenated in depth (the paper's fusion); a 1 x 1
    convolution over both, then one logit per (image, caption) pair. The input planes are the conditional
    GAN's way of showing D the condition: with the paper's late fusion alone, D taught G the named thickness
    and slant within a few epochs but the named digit far more slowly (the card has the figures)."""

    def __init__(self, width: int):
        super().__init__()
        self.planes = nn.Sequential(nn.Linear(EMBEDDING, PLANES), nn.LeakyReLU(0.2))
        self.image = nn.Sequential(
            nn.Conv2d(1 + PLANES, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2))
        self.text = compress(EMBEDDING)
        self.joint = nn.Sequential(nn.Conv2d(2 * width + COMPRESSED, 2 * width, 1, bias=False),
                                   nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2), nn.Flatten())
        self.real = nn.Linear(2 * width * 7 * 7, 1)

    def forward(self, x: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        planes = self.planes(phi)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        features = self.image(torch.cat([x, planes], 1))
        text = self.text(phi)[:, :, None, None].expand(-1, -1, *features.shape[2:])
        return self.real(self.joint(torch.cat([features, text], 1)))[:, 0]


class TextToImageGAN(nn.Module):
    """phi (frozen after its own training), G and D. `matching_aware` switches GAN-CLS on, `interpolate`
    GAN-INT (the ablations switch one off). `truncation` scales the noise G draws from once trained (the
    truncation trick, Brock et al. 2019: less variety, more fidelity; chosen on held-apart captions)."""

    def __init__(self, z_dim: int = 64, width: int = 32, matching_aware: bool = True, interpolate: bool = True,
                 truncation: float = 1.0):
        super().__init__()
        self.tokenizer = captions.CaptionTokenizer()
        self.z_dim, self.matching_aware, self.interpolate = z_dim, matching_aware, interpolate
        self.truncation = truncation
        self.phi = TextEncoder(len(self.tokenizer), self.tokenizer.pad)
        self.generator, self.discriminator = Generator(z_dim, width), Discriminator(width)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def caption_ids(self, texts: list[str]) -> torch.Tensor:
        return torch.tensor([self.tokenizer.encode(t) for t in texts], device=self.device)

    @torch.no_grad()
    def embed(self, texts: list[str]) -> torch.Tensor:
        """phi(t) of each caption [n, EMBEDDING]."""
        self.phi.eval()
        return self.phi(self.caption_ids(texts))

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I), as in training."""
        return torch.randn(n, self.z_dim, generator=generator).to(self.device)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The noise a trained G draws from: z scaled by `truncation`."""
        return self.latent(n, generator) * self.truncation

    def discriminator_loss(self, real, phi_right, phi_wrong, fake, real_label: float) -> torch.Tensor:
        """GAN-CLS (Algorithm 1, lines 8-10); without it, the conditional GAN's two terms."""
        s_r, s_f = self.discriminator(real, phi_right), self.discriminator(fake, phi_right)
        if not self.matching_aware:
            return adversarial.discriminator_bce(s_r, s_f, real_label)
        s_w = self.discriminator(real, phi_wrong)
        zeros = torch.zeros_like(s_f)
        return (F.binary_cross_entropy_with_logits(s_r, torch.full_like(s_r, real_label))
                + (F.binary_cross_entropy_with_logits(s_w, zeros) + F.binary_cross_entropy_with_logits(s_f, zeros)) / 2)

    def generator_loss(self, fake, phi_right, generator: torch.Generator | None = None, beta: float = 0.5):
        """-log s_f (non-saturating); with GAN-INT also -log D(G(z', beta t1 + (1 - beta) t2), ...) for the
        batch's embeddings t1 and the same batch shifted by one, t2 (Eq. 5)."""
        loss = adversarial.generator_bce(self.discriminator(fake, phi_right))
        if self.interpolate:
            phi_mixed = beta * phi_right + (1 - beta) * phi_right.roll(1, 0)
            mixed = self.generator(self.latent(len(fake), generator), phi_mixed)
            loss = loss + adversarial.generator_bce(self.discriminator(mixed, phi_mixed))
        return loss

    @torch.no_grad()
    def draw(self, phi: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Images [n, 28, 28] in [0, 1] for embeddings [n, EMBEDDING] and noise [n, z_dim]."""
        self.eval()
        return to_unit(self.generator(z.to(self.device), phi.to(self.device))[:, 0])

    def sample(self, texts: list[str], generator: torch.Generator | None = None) -> torch.Tensor:
        """An image [n, 28, 28] in [0, 1] for each caption."""
        return self.draw(self.embed(texts), self.noise(len(texts), generator))
