"""A small DALL-E (Ramesh et al. 2021) for 28 x 28 digits, in two stages.

Stage 1, the image tokenizer: a VQ-VAE (van den Oord et al. 2017) in place of DALL-E's dVAE. The
encoder maps x to a 7 x 7 grid of vectors z_e(x); each is replaced by its nearest codebook entry e_k
(the image token k); the decoder draws x back from the grid of e_k.

    L = BCE(x, D(z_q)) + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2     (eq. 3; sg = stop gradient,
                                                                        gradients copied from z_q to z_e)

Stage 2, the prior: a decoder-only transformer over [caption tokens; <image>; 49 image tokens] with a
causal mask, trained to predict each image token from the caption and the tokens before it (DALL-E's
"transformer that autoregressively models the text and image tokens as a single stream", section 2.2).

Classifier-free guidance (Ho & Salimans 2022; Gafni et al. 2022 for a token prior): trained with the caption
dropped (all <pad>) now and then, the one prior also models p(image); sampling then draws each token from

    l_s = l(empty) + s (l(caption) - l(empty))                          (s = 1: the caption alone)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hub.kit import EncoderLayer, captions, causal_mask


GRID = 7                         # image tokens per side


class VectorQuantizer(nn.Module):
    def __init__(self, codes: int, dim: int):
        super().__init__()
        self.codebook = nn.Embedding(codes, dim)
        self.codebook.weight.data.uniform_(-1 / codes, 1 / codes)

    def nearest(self, z_e: torch.Tensor) -> torch.Tensor:
        """[b, dim, 7, 7] -> token ids [b, 7, 7]: argmin_k ||z_e - e_k||."""
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.size(1))
        distance = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.weight.T + self.codebook.weight.pow(2).sum(1)
        return distance.argmin(1).view(z_e.size(0), z_e.size(2), z_e.size(3))

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """token ids [b, 7, 7] -> z_q [b, dim, 7, 7]."""
        return self.codebook(ids).permute(0, 3, 1, 2)


class VQVAE(nn.Module):
    def __init__(self, codes: int = 128, code_dim: int = 32, channels: int = 64, beta: float = 0.25):
        super().__init__()
        self.codes, self.beta = codes, beta
        self.encoder = nn.Sequential(                                       # 28 -> 14 -> 7
            nn.Conv2d(1, channels // 2, 4, 2, 1), nn.ReLU(), nn.Conv2d(channels // 2, channels, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(), nn.Conv2d(channels, code_dim, 1))
        self.quantizer = VectorQuantizer(codes, code_dim)
        self.decoder = nn.Sequential(                                       # 7 -> 14 -> 28
            nn.Conv2d(code_dim, channels, 3, 1, 1), nn.ReLU(), nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(),
            nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(channels // 2, 1, 4, 2, 1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """images [b, 28, 28] in [0, 1] -> image tokens [b, 7, 7]."""
        return self.quantizer.nearest(self.encoder(x.reshape(-1, 1, 28, 28)))

    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        """image tokens [b, 7, 7] -> images [b, 28, 28] in [0, 1]."""
        return torch.sigmoid(self.decoder(self.quantizer.lookup(ids)))[:, 0]

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(eq. 3 averaged per pixel and per code element, the token ids used)."""
        x = x.reshape(-1, 1, 28, 28)
        z_e = self.encoder(x)
        ids = self.quantizer.nearest(z_e)
        z_q = self.quantizer.lookup(ids)
        reconstruction = F.binary_cross_entropy_with_logits(self.decoder(z_e + (z_q - z_e).detach()), x)
        codebook, commitment = F.mse_loss(z_q, z_e.detach()), F.mse_loss(z_e, z_q.detach())
        return reconstruction + codebook + self.beta * commitment, ids

    @torch.no_grad()
    def restart_codes(self, unused: torch.Tensor, x: torch.Tensor, generator: torch.Generator) -> None:
        """Codes no image chose lately move onto encoder outputs of this batch (they would stay dead)."""
        z_e = self.encoder(x.reshape(-1, 1, 28, 28)).permute(0, 2, 3, 1).reshape(-1, self.quantizer.codebook.weight.size(1))
        picks = torch.randint(len(z_e), (int(unused.sum()),), generator=generator)
        self.quantizer.codebook.weight[unused] = z_e[picks]


class ImageTokenTransformer(nn.Module):
    """Decoder-only: token + position embeddings, causal pre-norm layers, logits over the image codes."""

    def __init__(self, text_vocabulary: int, codes: int, d_model: int = 128, depth: int = 4, heads: int = 4,
                 d_ff: int = 512, dropout: float = 0.1):
        super().__init__()
        self.text_vocabulary, self.length = text_vocabulary, captions.MAX_WORDS + 1 + GRID * GRID
        self.token_embedding = nn.Embedding(text_vocabulary + codes, d_model)    # image code k is id text_vocabulary + k
        self.position_embedding = nn.Parameter(torch.randn(1, self.length, d_model) * 0.02)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, d_ff, dropout, activation=nn.GELU)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, codes)

    def forward(self, tokens: torch.Tensor, start: int = 0, caches: list[dict] | None = None) -> torch.Tensor:
        """tokens [b, n] (positions start..start+n-1) -> logits of the next image code [b, n, codes]."""
        h = self.token_embedding(tokens) + self.position_embedding[:, start:start + tokens.size(1)]
        h = self.dropout(h)
        mask = causal_mask(tokens.size(1), tokens.device) if tokens.size(1) > 1 else None
        for i, layer in enumerate(self.layers):
            h, _ = layer(h, mask, None if caches is None else caches[i])
        return self.head(self.norm(h))


class SmallDallE(nn.Module):
    """The tokenizer and the prior together: caption in, images out."""

    def __init__(self, codes: int = 128, code_dim: int = 32, channels: int = 64, d_model: int = 128, depth: int = 4,
                 heads: int = 4, d_ff: int = 512, dropout: float = 0.1):
        super().__init__()
        self.captions = captions.CaptionTokenizer()
        self.vqvae = VQVAE(codes, code_dim, channels)
        self.transformer = ImageTokenTransformer(len(self.captions), codes, d_model, depth, heads, d_ff, dropout)
        # the sampling settings chosen on held-apart captions after training (top-k 0: off), kept with the weights
        self.register_buffer("default_temperature", torch.tensor(1.0))
        self.register_buffer("default_top_k", torch.tensor(0))
        self.register_buffer("default_guidance", torch.tensor(1.0))

    def default_sampling(self) -> dict:
        return {"temperature": round(float(self.default_temperature), 3), "top_k": int(self.default_top_k) or None,
                "guidance": round(float(self.default_guidance), 3)}

    def set_default_sampling(self, temperature: float, top_k: int | None, guidance: float = 1.0) -> None:
        self.default_temperature.fill_(temperature)
        self.default_top_k.fill_(top_k or 0)
        self.default_guidance.fill_(guidance)

    def empty_captions(self, caption_ids: torch.Tensor) -> torch.Tensor:
        return torch.full_like(caption_ids, self.captions.pad)

    def drop_captions(self, caption_ids: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
        """`share` of the captions (at random) replaced by the empty caption: what guidance samples against."""
        dropped = torch.rand(len(caption_ids), generator=generator) < share
        return torch.where(dropped[:, None].to(caption_ids.device), self.empty_captions(caption_ids), caption_ids)

    def sequence(self, caption_ids: torch.Tensor, image_ids: torch.Tensor) -> torch.Tensor:
        """[caption (MAX_WORDS, padded); <image>; image tokens row by row]: the stream DALL-E models."""
        start = torch.full((len(caption_ids), 1), self.captions.image_start, device=caption_ids.device)
        return torch.cat([caption_ids, start, image_ids.flatten(1) + self.transformer.text_vocabulary], 1)

    def prior_loss(self, caption_ids: torch.Tensor, image_ids: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of each image token given the caption and the image tokens before it (nats a token)."""
        logits = self.transformer(self.sequence(caption_ids, image_ids)[:, :-1])[:, captions.MAX_WORDS:]
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), image_ids.flatten())

    @torch.no_grad()
    def sample_tokens(self, caption_ids: torch.Tensor, generator: torch.Generator, temperature: float = 1.0,
                      top_k: int | None = None, guidance: float = 1.0) -> torch.Tensor:
        """caption ids [b, MAX_WORDS] -> image tokens [b, 7, 7], one at a time with the key/value cache; with
        `guidance` s != 1 the empty caption's stream runs beside each caption's (rows b..2b-1)."""
        self.eval()
        guided = guidance != 1.0
        if guided:
            caption_ids = torch.cat([caption_ids, self.empty_captions(caption_ids)])
        caches = [{} for _ in self.transformer.layers]
        prefix = self.sequence(caption_ids, caption_ids.new_zeros(len(caption_ids), 0))
        logits = self.transformer(prefix, 0, caches)[:, -1]
        tokens = []
        for position in range(GRID * GRID):
            if guided:
                conditional, unconditional = logits.chunk(2)
                logits = unconditional + guidance * (conditional - unconditional)
            logits = logits / max(temperature, 1e-4)
            if top_k:
                cutoff = logits.topk(min(top_k, logits.size(-1)), -1).values[:, -1:]
                logits = logits.masked_fill(logits < cutoff, float("-inf"))
            probabilities = logits.softmax(-1).cpu()
            token = torch.multinomial(probabilities, 1, generator=generator).to(caption_ids.device)
            tokens.append(token)
            if position < GRID * GRID - 1:
                fed = torch.cat([token, token]) if guided else token
                logits = self.transformer(fed + self.transformer.text_vocabulary, prefix.size(1) + position,
                                          caches)[:, -1]
        return torch.cat(tokens, 1).view(-1, GRID, GRID)

    def sample(self, caption_ids: torch.Tensor, generator: torch.Generator, temperature: float = 1.0,
               top_k: int | None = None, guidance: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(images [b, 28, 28] in [0, 1], their image tokens [b, 7, 7])."""
        tokens = self.sample_tokens(caption_ids, generator, temperature, top_k, guidance)
        with torch.no_grad():
            return self.vqvae.decode(tokens), tokens

    def caption_ids(self, captions: list[str]) -> torch.Tensor:
        return torch.tensor([self.captions.encode(c) for c in captions], device=self.transformer.head.weight.device)
