"""NADE, the neural autoregressive distribution estimator (Larochelle & Murray 2011).

    p(x) = prod_i p(x_i | x_<i),   p(x_i = 1 | x_<i) = sigmoid(V_i . h_i + b_i),
    h_i = sigmoid(a_i),            a_i = c + W[:, <i] x_<i                       (Eq. 3-4 of the paper)

The weights W are shared across conditionals, so all a_i follow from one running sum,
a_{i+1} = a_i + W[:, i] x_i: O(DH) for the whole image, not O(D^2 H). Sampling uses that sum
directly; training computes the same a_i for all i at once, a row of the image at a time (the
sum over earlier rows by one matrix product, the pixels to the left within the row by a masked
one), which keeps the large [batch, D, H] tensors to a minimum.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NADE(nn.Module):
    def __init__(self, x_dim: int = 784, hidden: int = 500, width: int = 28):
        super().__init__()
        assert x_dim % width == 0, "the image is x_dim / width rows of width pixels"
        self.x_dim, self.hidden, self.width = x_dim, hidden, width
        self.W = nn.Parameter(torch.randn(hidden, x_dim) * 0.01)   # input -> hidden, shared by all i
        self.c = nn.Parameter(torch.zeros(hidden))
        self.V = nn.Parameter(torch.randn(x_dim, hidden) * 0.01)   # hidden_i -> output i
        self.b = nn.Parameter(torch.zeros(x_dim))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of p(x_i = 1 | x_<i) for every i at once, shape [batch, D] (teacher forcing)."""
        batch, rows, width = x.shape[0], self.x_dim // self.width, self.width
        x_rows = x.reshape(batch, rows, width)
        W_rows = self.W.view(self.hidden, rows, width)
        row_total = torch.einsum("brs,hrs->brh", x_rows, W_rows)            # W x over each row
        rows_above = F.pad(row_total.cumsum(1)[:, :-1], (0, 0, 1, 0))      # rows before row r (exclusive)
        left = torch.tril(torch.ones(width, width, device=x.device), -1)    # column j < column s
        in_row = torch.einsum("brj,sj,hrj->brsh", x_rows, left, W_rows)     # pixels left in the row
        a = self.c + rows_above[:, :, None, :] + in_row                      # [B, rows, width, H]
        h = torch.sigmoid(a).reshape(batch, self.x_dim, self.hidden)
        return torch.einsum("bdh,dh->bd", h, self.V) + self.b

    def log_prob_per_pixel(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_i | x_<i) for each pixel, shape [batch, D]; sums to the exact log p(x)."""
        x = x.flatten(1)
        return -F.binary_cross_entropy_with_logits(self.logits(x), x, reduction="none")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob_per_pixel(x).sum(-1)

    @torch.no_grad()
    def sample_steps(self, n: int, generator: torch.Generator | None = None, prefix: torch.Tensor | None = None):
        """Draw n images pixel by pixel, yielding (i, x) after pixel i. The running pre-activation
        a_i is kept between pixels, so each step costs O(H), not a pass over the whole image.
        `prefix` [n, P] fixes the first P pixels (completion)."""
        x = torch.zeros(n, self.x_dim, device=self.W.device)
        a = self.c.expand(n, -1).clone()
        start = 0
        if prefix is not None:
            start = prefix.shape[1]
            x[:, :start] = prefix
            a += prefix.to(x) @ self.W[:, :start].T
        for i in range(start, self.x_dim):
            p = torch.sigmoid(torch.sigmoid(a) @ self.V[i] + self.b[i])
            x[:, i] = torch.bernoulli(p, generator=generator)
            a += x[:, i:i + 1] * self.W[:, i]
            yield i, x

    def sample(self, n: int, generator: torch.Generator | None = None, prefix: torch.Tensor | None = None):
        x = prefix.clone() if prefix is not None else None
        for _, x in self.sample_steps(n, generator, prefix):
            pass
        return x

    @torch.no_grad()
    def sample_naive(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The same sampler without the running sum: recomputes every conditional from scratch at
        each pixel, O(D^2 H). Kept for the benchmark and the equivalence test only."""
        x = torch.zeros(n, self.x_dim, device=self.W.device)
        for i in range(self.x_dim):
            p = torch.sigmoid(self.logits(x)[:, i])
            x[:, i] = torch.bernoulli(p, generator=generator)
        return x
