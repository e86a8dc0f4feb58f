"""Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"), for 28 x 28 digits.

    z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos        (eq. 1: patches, class token, positions)
    z_l = Transformer encoder layer(z_{l-1}), l = 1..L    (eqs. 2-3: pre-norm MSA and MLP blocks)
    y   = head(LN(z_L^0))                                 (eq. 4: the class token's output)
"""
from __future__ import annotations

import torch
from torch import nn

from hub.kit import EncoderLayer


class ViT(nn.Module):
    def __init__(self, image_size: int = 28, patch_size: int = 4, d_model: int = 96, depth: int = 6, heads: int = 4,
                 d_mlp: int = 192, classes: int = 10, dropout: float = 0.0):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image size {image_size} is not a multiple of the patch size {patch_size}")
        self.patch_size, self.grid = patch_size, image_size // patch_size
        self.patch_embedding = nn.Linear(patch_size * patch_size, d_model)                 # E
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

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        z = self.patch_embedding(self.patches(x))
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
