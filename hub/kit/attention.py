"""The Transformer's building blocks (Vaswani et al. 2017), shared by the translation, ViT and
text-to-image plugins. Names follow the paper: Q, K, V, d_model, d_k, h heads, d_ff.

Each layer can return its attention weights ([batch, heads, queries, keys]) so that demos can
draw them. Masks are boolean and True where attention is allowed.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None,
                                 need_weights: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V  (eq. 1); returns (output, weights).
    Masked keys get weight 0; a query whose every key is masked attends to nothing (output 0).
    Without `need_weights` (decoding, where nobody draws them) torch's fused kernel computes the same
    output and the weights are None; every query must then have a key it may see."""
    if not need_weights:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is None:
        weights = scores.softmax(-1)
    else:       # a finite fill: -inf in a fully masked row would make the softmax 0/0 = NaN
        weights = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1).masked_fill(~mask, 0.0)
    return weights @ v, weights


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """[batch, 1, 1, keys]: every query may look at every key that is not padding."""
    return (tokens != pad_id)[:, None, None, :]


def causal_mask(length: int, device=None) -> torch.Tensor:
    """[1, 1, length, length]: position i may look at positions <= i (no peeking at the future)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()[None, None]


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_h) W^O, head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V):
    the h heads are a split of d_model into h slices of d_k = d_model / h (section 3.2.2)."""

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by {heads} heads")
        self.heads, self.d_k = heads, d_model // heads
        self.w_q, self.w_k, self.w_v = (nn.Linear(d_model, d_model) for _ in range(3))
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:             # [b, n, d_model] -> [b, h, n, d_k]
        return x.view(x.size(0), x.size(1), self.heads, self.d_k).transpose(1, 2)

    def forward(self, query, key, value, mask=None, cache: dict | None = None, need_weights: bool = True):
        """`cache` (decoding one step at a time): a dict that keeps the keys and values already
        computed, so that each step projects only the new position; with `cache["static"]` the
        keys and values (cross-attention on the encoder output) are computed once.
        Returns (output [b, n, d_model], weights [b, h, n, keys], or None without `need_weights`)."""
        q = self.split_heads(self.w_q(query))
        if cache is not None and cache.get("static") and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            k, v = self.split_heads(self.w_k(key)), self.split_heads(self.w_v(value))
            if cache is not None:
                if "k" in cache:
                    k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
                cache["k"], cache["v"] = k, v
        out, weights = scaled_dot_product_attention(q, k, v, mask, need_weights)
        out = out.transpose(1, 2).reshape(query.size(0), query.size(1), -1)
        return self.w_o(self.dropout(out)), weights


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, applied at each position (eq. 2)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation=nn.ReLU):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), activation(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))

    def forward(self, x):
        return self.net(x)


class PositionalEncoding(nn.Module):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(...)  (section 3.5), added to
    the embeddings (scaled by sqrt(d_model), section 3.4)."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        position = torch.arange(max_len)[:, None]
        frequency = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(position * frequency), torch.cos(position * frequency)
        self.register_buffer("pe", pe, persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        if start + x.size(1) > len(self.pe):
            raise ValueError(f"sequence of {start + x.size(1)} positions is longer than the {len(self.pe)} encoded")
        return self.dropout(x * math.sqrt(x.size(-1)) + self.pe[start:start + x.size(1)])


class Residual(nn.Module):
    """x + Dropout(Sublayer(LayerNorm(x))) (pre-norm, the stable variant for short training, Xiong
    et al. 2020), or LayerNorm(x + Dropout(Sublayer(x))) as in the paper (`norm_first=False`)."""

    def __init__(self, d_model: int, dropout: float = 0.0, norm_first: bool = True):
        super().__init__()
        self.norm, self.dropout, self.norm_first = nn.LayerNorm(d_model), nn.Dropout(dropout), norm_first

    def forward(self, x, sublayer):
        """`sublayer` maps its input to (output, attention weights or None)."""
        if self.norm_first:
            out, weights = sublayer(self.norm(x))
            return x + self.dropout(out), weights
        out, weights = sublayer(x)
        return self.norm(x + self.dropout(out)), weights


class EncoderLayer(nn.Module):
    """Self-attention, then the feed-forward net, each in a residual block (section 3.1)."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float = 0.0, norm_first: bool = True,
                 activation=nn.ReLU):
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)
        self.attention_block, self.feed_forward_block = (Residual(d_model, dropout, norm_first) for _ in range(2))

    def forward(self, x, mask=None, cache: dict | None = None):
        """`cache`: this layer's keys and values so far, when a causal (decoder-only) stack decodes step by step."""
        x, weights = self.attention_block(x, lambda h: self.self_attention(h, h, h, mask, cache))
        x, _ = self.feed_forward_block(x, lambda h: (self.feed_forward(h), None))
        return x, weights


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention on the encoder output (its keys and values), then
    the feed-forward net (section 3.1)."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float = 0.0, norm_first: bool = True):
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, heads, dropout)
        self.cross_attention = MultiHeadAttention(d_model, heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.self_block, self.cross_block, self.feed_forward_block = (
            Residual(d_model, dropout, norm_first) for _ in range(3))

    def forward(self, y, memory, self_mask=None, memory_mask=None, cache: dict | None = None,
                need_weights: bool = True):
        """Returns (y, self-attention weights, cross-attention weights); `cache` holds this layer's
        {"self": {...}, "cross": {"static": True, ...}} state while decoding step by step."""
        self_cache = cross_cache = None
        if cache is not None:
            self_cache, cross_cache = cache.setdefault("self", {}), cache.setdefault("cross", {"static": True})
        y, self_weights = self.self_block(
            y, lambda h: self.self_attention(h, h, h, self_mask, self_cache, need_weights))
        y, cross_weights = self.cross_block(
            y, lambda h: self.cross_attention(h, memory, memory, memory_mask, cross_cache, need_weights))
        y, _ = self.feed_forward_block(y, lambda h: (self.feed_forward(h), None))
        return y, self_weights, cross_weights


def reorder_cache(caches: list[dict], order: torch.Tensor) -> None:
    """Beam search: keep the cached keys and values of the hypotheses in `order` (indices into the batch).

    A static part (cross-attention's keys and values of the encoder output) is left in place: it is the same
    for every hypothesis of one sentence, and beam search only moves a hypothesis within its sentence's rows.
    Copying it every step was a third of a batched beam search's time."""
    for layer in caches:
        for part in layer.values():
            if "k" in part and not part.get("static"):
                part["k"], part["v"] = part["k"][order], part["v"][order]


def keep_cache_rows(caches: list[dict], rows: torch.Tensor) -> None:
    """Keep only `rows` of every cached part, static ones too: a batch drops the sentences it has finished."""
    for layer in caches:
        for part in layer.values():
            if "k" in part:
                part["k"], part["v"] = part["k"][rows], part["v"][rows]
