"""PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016) for binary images: Row LSTM and
Diagonal BiLSTM layers, masked convolutions, residual connections, a sigmoid per pixel.

Every LSTM step follows Eq. 3 of the paper:
    [o, f, i, g] = [sigma, sigma, sigma, tanh](K_ss * h_prev + K_is * x)
    c = f . c_prev + i . g,   h = o . tanh(c)

Inside the recurrences the feature maps are channels-last ([batch, positions, channels]) so that
each state-to-state convolution is one matrix product over the unfolded neighbourhood.

Two ways to run the same weights: `logits(x)` for a whole image at once (training, likelihood),
and `row_logits` with a per-layer cache of the previous row (sampling): the LSTMs only look at
the rows above through their recurrent state, so a new pixel needs one row of work, not an image.
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
    o, f, i, g = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def conv_along(h: torch.Tensor, conv: nn.Conv1d, before: int, after: int) -> torch.Tensor:
    """conv1d over dim 1 of a channels-last h [B, L, C], zero-padded by `before`/`after`."""
    k = conv.kernel_size[0]
    windows = F.pad(h, (0, 0, before, after)).unfold(1, k, 1)            # [B, L, C, k]
    return F.linear(windows.flatten(2), conv.weight.flatten(1), conv.bias)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)                                          # [B, C, H, W] -> [B, H, W, C]


def channels_first(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


class RowLSTM(nn.Module):
    """Processes the image a row at a time, top to bottom: the input-to-state part is a masked
    1 x k convolution along the row, the state-to-state part a 1-d convolution of width k over the
    previous row's hidden state, so each pixel sees a triangle of context above it."""

    def __init__(self, channels: int, hidden: int, k: int = 3, mask: str = "B"):
        super().__init__()
        self.hidden, self.k = hidden, k
        self.input_to_state = MaskedConv2d(mask, channels, 4 * hidden, (1, k), padding=(0, k // 2))
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, k)

    def step(self, gates_in_row: torch.Tensor, state: tuple) -> tuple:
        """One row: gates_in_row [B, W, 4h] and the previous row's (h, c) -> this row's (h, c)."""
        h, c = state
        return lstm_step(gates_in_row + conv_along(h, self.state_to_state, self.k // 2, self.k // 2), c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state, rows = self.empty_state(x)["above"], []
        for gates_in_row in channels_last(self.input_to_state(x)).unbind(1):    # all rows' inputs at once
            state = self.step(gates_in_row, state)
            rows.append(state[0])
        return channels_first(torch.stack(rows, 1))

    def empty_state(self, x: torch.Tensor) -> dict:
        h = x.new_zeros(x.shape[0], x.shape[3], self.hidden)
        return {"above": (h, h)}

    def row(self, x_row: torch.Tensor, state: dict, col: int) -> tuple[torch.Tensor, dict]:
        """Sampling: this layer on row r alone. x_row [B, C, 1, W] are the layer's inputs on the
        row, state["above"] the (h, c) the recurrence left after row r - 1. Returns h [B, hidden,
        1, W]; all columns are computed at once (`col` is not needed here)."""
        h, c = self.step(channels_last(self.input_to_state(x_row))[:, 0], state["above"])
        return channels_first(h[:, None]), {**state, "row": (h, c)}

    def finish_row(self, x_row: torch.Tensor, state: dict) -> dict:
        return {"above": state["row"]}


def skew(x: torch.Tensor) -> torch.Tensor:
    """[..., H, W, C] -> [..., H, W + H - 1, C], row r shifted right by r: diagonals become columns.
    (Pad each row to W + H, then read the flat buffer back with rows one shorter.)"""
    *lead, height, width, channels = x.shape
    flat = F.pad(x, (0, 0, 0, height)).flatten(-3, -2)
    return flat[..., :height * (width + height - 1), :].reshape(*lead, height, width + height - 1, channels)


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """The inverse of `skew`: [..., H, W + H - 1, C] -> [..., H, W, C]."""
    *lead, height, length, channels = x.shape
    flat = F.pad(x.flatten(-3, -2), (0, 0, 0, height))
    return flat.reshape(*lead, height, length + 1, channels)[..., :width, :]


class DiagonalLSTM(nn.Module):
    """One direction of the Diagonal BiLSTM: on the skewed map, column j's state comes from column
    j - 1 through a 2 x 1 convolution (rows r - 1 and r), i.e. from the pixels left of and above
    each pixel; the input-to-state part is a masked 1 x 1 convolution. The whole-image pass runs
    both directions at once (`DiagonalBiLSTM.forward`); `row` is this direction alone, for sampling."""

    def __init__(self, channels: int, hidden: int, mask: str = "B"):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = MaskedConv2d(mask, channels, 4 * hidden, 1)
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 2)

    def state_to_state_matrix(self) -> torch.Tensor:
        """The 2 x 1 convolution's two taps side by side, [hidden, 2 * 4h]: h times it gives, per row,
        the part for the row below (tap on r - 1) and the part for the row itself (tap on r)."""
        return self.state_to_state.weight.permute(1, 2, 0).flatten(1)

    def row(self, x_row: torch.Tensor, above: tuple, cells: list | None = None, upto: int | None = None,
            reverse: bool = False) -> list:
        """The same recurrence on one row, in image coordinates: pixel (r, c) takes the state of
        (r, c - 1) (left) and of (r - 1, c) (above), its two neighbours in column j - 1 of the skewed
        map. `above` is row r - 1's (h, c), each [B, W, hidden]. Extends `cells`, the (h, c) of the
        columns already done on this row, up to column `upto`; `reverse` runs the whole row right
        to left (the mirrored direction) and returns its cells in column order."""
        gates_in = channels_last(self.input_to_state(x_row))[:, 0]             # [B, W, 4h]
        width = gates_in.shape[1]
        columns = list(range(width - 1, -1, -1) if reverse else range(width if upto is None else upto + 1))
        cells = list(cells or [])
        h, c = cells[-1] if cells else (gates_in.new_zeros(gates_in.shape[0], self.hidden),) * 2
        weight_above, weight_left = self.state_to_state.weight.unbind(2)        # taps on rows r - 1 and r
        for col in columns[len(cells):]:
            gates = (gates_in[:, col] + F.linear(above[0][:, col], weight_above)
                     + F.linear(h, weight_left, self.state_to_state.bias))
            h, c = lstm_step(gates, c)
            cells.append((h, c))
        return cells[::-1] if reverse else cells


def stack_cells(cells: list, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, c) per column -> h, c [B, W, hidden]; columns not computed yet are zero."""
    h = torch.stack([h for h, _ in cells], 1)
    c = torch.stack([c for _, c in cells], 1)
    missing = width - len(cells)
    return F.pad(h, (0, 0, 0, missing)), F.pad(c, (0, 0, 0, missing))


class DiagonalBiLSTM(nn.Module):
    """Both diagonal directions. The right-to-left one runs on the mirrored image and is shifted
    down one row, so a pixel takes it only from the rows above: no future pixel leaks in."""

    def __init__(self, channels: int, hidden: int, mask: str = "B"):
        super().__init__()
        self.hidden = hidden
        self.left_to_right = DiagonalLSTM(channels, hidden, mask)
        self.right_to_left = DiagonalLSTM(channels, hidden, mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Both directions step through the columns of their skewed maps together, the right-to-left
        one on the mirrored image (one batched matrix product per column for the two)."""
        directions = (self.left_to_right, self.right_to_left)
        batch, _, height, width = x.shape
        views = (x, x.flip(3))
        gates_in = torch.stack([skew(channels_last(d.input_to_state(v))) for d, v in zip(directions, views)])
        gates_in = gates_in.permute(3, 0, 1, 2, 4).contiguous()          # [W + H - 1, 2, B, H, 4h]: a column a step
        weight = torch.stack([d.state_to_state_matrix() for d in directions])             # [2, h, 8h]
        bias = torch.stack([d.state_to_state.bias for d in directions])[:, None, None]    # [2, 1, 1, 4h]
        h = c = x.new_zeros(2, batch, height, self.hidden)
        inside = skew(x.new_ones(height, width, 1))[:, :, 0].T[:, :, None]                # [W + H - 1, H, 1]
        columns = []
        for column_gates, keep in zip(gates_in, inside):
            for_below, for_here = torch.bmm(h.flatten(1, 2), weight).view(*h.shape[:3], -1).chunk(2, -1)
            recurrent = F.pad(for_below, (0, 0, 1, 0))[:, :, :-1] + for_here + bias     # taps on rows r - 1 and r
            h, c = lstm_step(column_gates + recurrent, c)
            h, c = h * keep, c * keep           # no state in the skew's padding: it comes from pixels only
            columns.append(h)
        skewed = torch.stack(columns, 3)                                                   # [2, B, H, W + H - 1, h]
        left, right = channels_first(unskew(skewed, width).flatten(0, 1)).unflatten(0, (2, batch))
        right = F.pad(right.flip(3), (0, 0, 1, 0))[:, :, :-1]          # mirrored back, shifted down one row
        return left + right

    def empty_state(self, x: torch.Tensor) -> dict:
        h = x.new_zeros(x.shape[0], x.shape[3], self.hidden)
        return {"left_above": (h, h), "right_above": (h, h), "cells": []}

    def row(self, x_row: torch.Tensor, state: dict, col: int) -> tuple[torch.Tensor, dict]:
        """Sampling: the left-to-right direction advances to column `col` (earlier columns are
        kept from the previous pixel); the right-to-left one adds what row r - 1 left it, which is
        the shift down by one row."""
        width = x_row.shape[3]
        cells = self.left_to_right.row(x_row, state["left_above"], state["cells"], upto=col)
        h = stack_cells(cells, width)[0] + state["right_above"][0]
        return channels_first(h[:, None]), {**state, "cells": cells}

    def finish_row(self, x_row: torch.Tensor, state: dict) -> dict:
        """Once row r is complete, its right-to-left pass can run: it feeds row r + 1."""
        width = x_row.shape[3]
        right = self.right_to_left.row(x_row, state["right_above"], reverse=True)
        return {"left_above": stack_cells(state["cells"], width), "right_above": stack_cells(right, width),
                "cells": []}


class PixelRNN(nn.Module):
    """A 7 x 7 mask-A convolution, residual LSTM layers (Row or Diagonal BiLSTM), two masked 1 x 1
    ReLU layers and one logit per pixel: p(x_i = 1 | x_<i) = sigmoid(logit_i)."""

    def __init__(self, kind: str = "row", layers: int = 2, hidden: int = 16, side: int = 28):
        super().__init__()
        layer = {"row": RowLSTM, "diagonal": DiagonalBiLSTM}[kind]
        self.kind, self.side = kind, side
        self.input = MaskedConv2d("A", 1, 2 * hidden, 7, padding=3)
        self.lstms = nn.ModuleList(layer(2 * hidden, hidden) for _ in range(layers))
        self.residuals = nn.ModuleList(nn.Conv2d(hidden, 2 * hidden, 1) for _ in range(layers))
        self.output = nn.Sequential(nn.ReLU(), MaskedConv2d("B", 2 * hidden, 2 * hidden, 1), nn.ReLU(),
                                    MaskedConv2d("B", 2 * hidden, 1, 1))

    def grow(self, layers: int) -> None:
        """Deepen a trained net to `layers` LSTM layers without changing what it computes: each new
        layer is appended with its residual 1 x 1 convolution zeroed, so it starts as the identity
        (Net2DeeperNet's idea, Chen et al. 2016) and training then gives it a share of the work."""
        kind_of_layer, hidden = type(self.lstms[0]), self.lstms[0].hidden
        while len(self.lstms) < layers:
            self.lstms.append(kind_of_layer(2 * hidden, hidden).to(self.input.weight.device))
            residual = nn.Conv2d(hidden, 2 * hidden, 1).to(self.input.weight.device)
            nn.init.zeros_(residual.weight)
            nn.init.zeros_(residual.bias)
            self.residuals.append(residual)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, 1, H, W] in {0, 1} -> logits [B, 1, H, W] of each pixel given the pixels before it."""
        h = self.input(x)
        for lstm, residual in zip(self.lstms, self.residuals):
            h = h + residual(lstm(h))
        return self.output(h)

    def log_prob_per_pixel(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, side * side] (or images) -> log p(x_i | x_<i) [B, side * side]; sums to the exact log p(x)."""
        images = x.reshape(-1, 1, self.side, self.side)
        return -F.binary_cross_entropy_with_logits(self.logits(images), images, reduction="none").flatten(1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob_per_pixel(x).sum(1)

    def row_logits(self, x: torch.Tensor, r: int, col: int, states: list) -> tuple[torch.Tensor, list, list]:
        """The logits of row r [B, W] from the image so far and each layer's state, without
        touching the rows above: the 7 x 7 input convolution needs only rows r - 3 .. r, and the
        LSTMs see rows above only through their state. Also returns each layer's new state and
        its inputs on this row (needed to finish the row)."""
        pad = self.input.kernel_size[0] // 2
        window = F.pad(x, (pad, pad, pad, pad))[:, :, r:r + 2 * pad + 1]       # rows r - 3 .. r + 3
        h = F.conv2d(window, self.input.weight * self.input.mask, self.input.bias)
        new_states, inputs = [], []
        for lstm, residual, state in zip(self.lstms, self.residuals, states):
            inputs.append(h)
            out, state = lstm.row(h, state, col)
            new_states.append(state)
            h = h + residual(out)
        return self.output(h)[:, 0, 0], new_states, inputs

    @torch.no_grad()
    def sample_steps(self, n: int, generator: torch.Generator | None = None, prefix: torch.Tensor | None = None):
        """Draw n images pixel by pixel, yielding (i, x [n, side * side]) after pixel i. Each layer
        keeps its recurrent state from the row above, so a pixel costs one row of work (Row LSTM)
        or one LSTM step per layer (Diagonal BiLSTM), not a pass over the image. `prefix` [n, P]
        fixes the first P pixels (completion)."""
        device = self.input.weight.device
        x = torch.zeros(n, 1, self.side, self.side, device=device)
        flat = x.view(n, -1)
        start = 0 if prefix is None else prefix.shape[1]
        if prefix is not None:
            flat[:, :start] = prefix.to(device)
        states = [lstm.empty_state(x) for lstm in self.lstms]
        for r in range(self.side):
            row_states = states
            for col in range(self.side):
                i = r * self.side + col
                if i < start and col < self.side - 1:
                    continue                      # a given pixel: the row's last column still updates the state
                logits, row_states, inputs = self.row_logits(x, r, col, row_states)
                if i >= start:
                    flat[:, i] = torch.bernoulli(torch.sigmoid(logits[:, col]), generator=generator)
                    yield i, flat
            states = [lstm.finish_row(inp, state) for lstm, inp, state in zip(self.lstms, inputs, row_states)]

    def sample(self, n: int, generator: torch.Generator | None = None, prefix: torch.Tensor | None = None):
        x = prefix
        for _, x in self.sample_steps(n, generator, prefix):
            pass
        return x.clone()

    @torch.no_grad()
    def sample_naive(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The same sampler without the recurrent state: a whole forward pass per pixel. Kept for
        the benchmark and the equivalence test only."""
        x = torch.zeros(n, 1, self.side, self.side, device=self.input.weight.device)
        flat = x.view(n, -1)
        for i in range(flat.shape[1]):
            flat[:, i] = torch.bernoulli(torch.sigmoid(self.logits(x).flatten(1)[:, i]), generator=generator)
        return flat
