"""PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016) for binary images: Row LSTM and
Diagonal BiLSTM layers, masked convolutions, residual connections, a sigmoid per pixel.

Not yet a plugin (no __init__.py, so the hub does not load it): the layers and their causality
test are here; training, weights and the demo come with the rest of the PixelRNN issue.

Every LSTM step follows Eq. 3 of the paper:
    [o, f, i, g] = [sigma, sigma, sigma, tanh](K_ss * h_prev + K_is * x)
    c = f . c_prev + i . g,   h = o . tanh(c)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only pixels before the centre in raster order. Mask "A" also hides
    the centre (the first layer: a pixel must not see itself); mask "B" keeps it (later layers,
    whose features at a position never saw that position's pixel)."""

    def __init__(self, mask: str, in_channels: int, out_channels: int, kernel_size, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        kh, kw = self.kernel_size
        allowed = torch.ones(kh, kw)
        allowed[kh // 2, kw // 2 + (mask == "B"):] = 0
        allowed[kh // 2 + 1:] = 0
        self.register_buffer("mask", allowed.expand_as(self.weight).clone())

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)


def lstm_step(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class RowLSTM(nn.Module):
    """Processes the image a row at a time, top to bottom: the input-to-state part is a masked
    1 x k convolution along the row, the state-to-state part a 1-d convolution of width k over the
    previous row's hidden state, so each pixel sees a triangle of context above it."""

    def __init__(self, channels: int, hidden: int, k: int = 3, mask: str = "B"):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = MaskedConv2d(mask, channels, 4 * hidden, (1, k), padding=(0, k // 2))
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, k, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        gates_in = self.input_to_state(x)                     # all rows at once
        h = c = x.new_zeros(batch, self.hidden, width)
        rows = []
        for r in range(height):
            h, c = lstm_step(gates_in[:, :, r] + self.state_to_state(h), c)
            rows.append(h)
        return torch.stack(rows, dim=2)


def skew(x: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, H, W + H - 1], row r shifted right by r: diagonals become columns."""
    batch, channels, height, width = x.shape
    out = x.new_zeros(batch, channels, height, width + height - 1)
    for r in range(height):
        out[:, :, r, r:r + width] = x[:, :, r]
    return out


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    return torch.stack([x[:, :, r, r:r + width] for r in range(x.shape[2])], dim=2)


class DiagonalLSTM(nn.Module):
    """One direction of the Diagonal BiLSTM: on the skewed map, column j's state comes from column
    j - 1 through a 2 x 1 convolution (rows r - 1 and r), i.e. from the pixels left of and above
    each pixel; the input-to-state part is a masked 1 x 1 convolution."""

    def __init__(self, channels: int, hidden: int, mask: str = "B"):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = MaskedConv2d(mask, channels, 4 * hidden, 1)
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        gates_in = skew(self.input_to_state(x))
        h = c = x.new_zeros(batch, self.hidden, height)
        columns = []
        for j in range(gates_in.shape[3]):
            above_and_here = F.pad(h, (1, 0))                 # row r sees rows r - 1 and r
            h, c = lstm_step(gates_in[:, :, :, j] + self.state_to_state(above_and_here), c)
            columns.append(h)
        return unskew(torch.stack(columns, dim=3), width)


class DiagonalBiLSTM(nn.Module):
    """Both diagonal directions. The right-to-left one runs on the mirrored image and is shifted
    down one row, so a pixel takes it only from the rows above: no future pixel leaks in."""

    def __init__(self, channels: int, hidden: int, mask: str = "B"):
        super().__init__()
        self.left_to_right = DiagonalLSTM(channels, hidden, mask)
        self.right_to_left = DiagonalLSTM(channels, hidden, mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        right = self.right_to_left(x.flip(3)).flip(3)
        right = F.pad(right, (0, 0, 1, 0))[:, :, :-1]           # shift down one row
        return self.left_to_right(x) + right


class PixelRNN(nn.Module):
    """A 7 x 7 mask-A convolution, residual LSTM layers (Row or Diagonal BiLSTM), two masked 1 x 1
    ReLU layers and one logit per pixel: p(x_i = 1 | x_<i) = sigmoid(logit_i)."""

    def __init__(self, kind: str = "row", layers: int = 2, hidden: int = 16):
        super().__init__()
        layer = {"row": RowLSTM, "diagonal": DiagonalBiLSTM}[kind]
        self.kind = kind
        self.input = MaskedConv2d("A", 1, 2 * hidden, 7, padding=3)
        self.lstms = nn.ModuleList(layer(2 * hidden, hidden) for _ in range(layers))
        self.residuals = nn.ModuleList(nn.Conv2d(hidden, 2 * hidden, 1) for _ in range(layers))
        self.output = nn.Sequential(nn.ReLU(), MaskedConv2d("B", 2 * hidden, 2 * hidden, 1), nn.ReLU(),
                                    MaskedConv2d("B", 2 * hidden, 1, 1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, 1, H, W] in {0, 1} -> logits [B, 1, H, W] of each pixel given the pixels before it."""
        h = self.input(x)
        for lstm, residual in zip(self.lstms, self.residuals):
            h = h + residual(lstm(h))
        return self.output(h)

    def log_prob_per_pixel(self, x: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(self.logits(x), x, reduction="none")
