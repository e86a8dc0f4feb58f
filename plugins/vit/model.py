"""Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"), for 28 x 28 digits.

    z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos        (eq. 1: patches, class token, positions)
    z_l = Transformer encoder layer(z_{l-1}), l = 1..L    (eqs. 2-3: pre-norm MSA and MLP blocks)
    y   = head(LN(z_L^0))                                 (eq. 4: the class token's output)

With `shifted_patches`, Shifted Patch Tokenization (Lee et al. 2021, "Vision Transformer for Small-Size
Datasets"): the image and four copies shifted diagonally by half a patch are cut into patches
together, so each token also sees the pixels across its borders: x_p -> E(LN([x; S_1(x); ..; S_4(x)]_p)).
"""
from __future__ import annotations

import torch
from torch import nn

from hub.kit import EncoderLayer


class ViT(nn.Module):
    def __init__(self, image_size: int = 28, patch_size: int = 4, d_model: int = 96, depth: int = 6, heads: int = 4,
                 d_mlp: int = 192, classes: int = 10, dropout: float = 0.0, shifted_patches: bool = False):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image size {image_size} is not a multiple of the patch size {patch_size}")
        self.patch_size, self.grid, self.shifted_patches = patch_size, image_size // patch_size, shifted_patches
        views = 5 if shifted_patches else 1
        self.patch_norm = nn.LayerNorm(views * patch_size ** 2) if shifted_patches else nn.Identity()
        self.patch_embedding = nn.Linear(views * patch_size ** 2, d_model)                 # E
        self.class_token = nn.Parameter(torch.zeros(1, 1, d_model))                        # x_class
        self.position_embedding = nn.Parameter(torch.randn(1, self.grid ** 2 + 1, d_model) * 0.02)  # E_pos
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, d_mlp, dropout, norm_first=True, activation=nn.GELU)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, classes)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """[b, 28, 28] or [b, 1, 28, 28] -> [b, N, P*P], row by row."""
        p = self.patch_size
        x = x.reshape(len(x), self.grid, p, self.grid, p)
        return x.permute(0, 1, 3, 2, 4).reshape(len(x), self.grid ** 2, p * p)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """[b, 28, 28] -> [b, N, views * P*P]: the patches, and with `shifted_patches` those of the four
        diagonal shifts by P/2 (zeros shifted in) beside them."""
        x = x.reshape(len(x), self.grid * self.patch_size, -1)
        if not self.shifted_patches:
            return self.patches(x)
        h = self.patch_size // 2
        padded = nn.functional.pad(x, (h, h, h, h))
        size = x.size(-1)
        shifted = [padded[:, dy:dy + size, dx:dx + size] for dy in (0, 2 * h) for dx in (0, 2 * h)]
        return torch.cat([self.patches(view) for view in [x, *shifted]], -1)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        z = self.patch_embedding(self.patch_norm(self.tokens(x)))
        z = torch.cat([self.class_token.expand(len(z), -1, -1), z], 1) + self.position_embedding
        z, attentions = self.dropout(z), []
        for layer in self.layers:
            z, weights = layer(z)
            attentions.append(weights)
        logits = self.head(self.norm(z[:, 0]))
        return (logits, attentions) if return_attention else logits


def attention_rollout(attentions: list[torch.Tensor]) -> torch.Tensor:
    """Abnar & Zuidema (2020): average the heads, add the identity for the residual path,
    renormalise rows, multiply through the layers. Returns [b, tokens, tokens]."""
    rollout = None
    for weights in attentions:
        a = weights.mean(1)
        a = a + torch.eye(a.size(-1), device=a.device)
        a = a / a.sum(-1, keepdim=True)
        rollout = a if rollout is None else a @ rollout
    return rollout
