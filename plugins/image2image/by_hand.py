"""The changes StarGAN learns, made by hand with geometry alone: a shear to a target slant, and each data
set's own layout for the style (MNIST fits a digit into a 20 x 20 box and centres its mass in the
28 x 28 frame; USPS digits fill their frame). How many of these the evaluator still reads says what a
change of domain costs by itself, and so how much of StarGAN's loss is the generator's.
Images are [N, 28, 28] in [0, 1]."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as functional

from hub.kit import strokes

SIDE, MNIST_BOX = 28, 20


def shear(images: np.ndarray, target: float) -> np.ndarray:
    """Each image sheared about its rows' centre of mass until its measured slant (`hub.kit.strokes`:
    columns moved right per row upwards) is `target`: column c of row r moves by (target - slant) * (r_mean - r)."""
    x = torch.from_numpy(np.asarray(images, np.float32))
    _, slant = strokes.measure(images)
    rows, cols = torch.meshgrid(torch.arange(SIDE, dtype=torch.float32), torch.arange(SIDE, dtype=torch.float32),
                                indexing="ij")
    mass = x / x.sum((1, 2), keepdim=True).clamp_min(1e-6)
    row_mean = (mass * rows).sum((1, 2))[:, None, None]
    move = torch.from_numpy((target - slant).astype(np.float32))[:, None, None]
    source_cols = cols - move * (row_mean - rows)                   # where each output pixel is read from
    grid = torch.stack([(source_cols + 0.5) / (SIDE / 2) - 1, ((rows + 0.5) / (SIDE / 2) - 1).expand_as(source_cols)], -1)
    return functional.grid_sample(x[:, None], grid, align_corners=False)[:, 0].clamp(0, 1).numpy()


def fitted(image: np.ndarray, side: int) -> np.ndarray:
    """The ink's bounding box scaled so that its longer side is `side` pixels, its aspect kept."""
    rows, cols = np.nonzero(image > 0.1)
    box = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1] if rows.size else image
    height, width = (max(1, round(n * side / max(box.shape))) for n in box.shape)
    out = functional.interpolate(torch.from_numpy(np.ascontiguousarray(box, np.float32))[None, None],
                                 size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out[0, 0].clamp(0, 1).numpy()


def placed(digit: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """`digit` pasted into an empty frame with its point `centre` (row, column) on the frame's centre."""
    frame = np.zeros((SIDE, SIDE), np.float32)
    top, left = (int(np.clip(round(SIDE / 2 - c - 0.5), 0, SIDE - n)) for c, n in zip(centre, digit.shape))
    frame[top:top + digit.shape[0], left:left + digit.shape[1]] = digit
    return frame


def as_mnist(images: np.ndarray) -> np.ndarray:
    """MNIST's layout: the ink fitted into a 20 x 20 box, its centre of mass on the frame's centre."""
    def centre_of_mass(digit):
        rows, cols = np.indices(digit.shape)
        return (rows * digit).sum() / max(digit.sum(), 1e-6), (cols * digit).sum() / max(digit.sum(), 1e-6)
    return np.stack([placed(digit, centre_of_mass(digit)) for digit in (fitted(image, MNIST_BOX) for image in images)])


def as_usps(images: np.ndarray) -> np.ndarray:
    """USPS's layout: the ink fitted to the whole frame (its longer side fills it), centred."""
    return np.stack([placed(digit, ((digit.shape[0] - 1) / 2, (digit.shape[1] - 1) / 2))
                     for digit in (fitted(image, SIDE) for image in images)])
