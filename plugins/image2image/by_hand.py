"""The changes StarGAN learns, made by hand with geometry alone: a shear to a target slant, and each data
set's own layout for the style (MNIST fits a digit into a 20 x 20 box and centres its mass in the
28 x 28 frame; USPS digits fill their frame). How many of these the evaluator still reads says what a
change of domain costs by itself, and so how much of StarGAN's loss is the generator's.
Images are [N, 28, 28] in [0, 1]."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as functional
from PIL import Image

from hub.kit import mnist_layout, strokes

SIDE = 28


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
    grid = torch.stack([(source_cols + 0.5) / (SIDE / 2) - 1,
                        ((rows + 0.5) / (SIDE / 2) - 1).expand_as(source_cols)], -1)
    return functional.grid_sample(x[:, None], grid, align_corners=False)[:, 0].clamp(0, 1).numpy()


def fill_frame(gray: np.ndarray, size: int = SIDE) -> np.ndarray:
    """USPS's own preprocessing, roughly: the digit cropped to its ink and scaled to fill the frame."""
    rows, cols = np.nonzero(gray > 0.05)
    crop = gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    side = max(crop.shape)
    square = np.zeros((side, side), np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    return np.asarray(Image.fromarray(square).resize((size, size), Image.BILINEAR), np.float32).clip(0, 1)


def as_mnist(images: np.ndarray) -> np.ndarray:
    """MNIST's layout (`hub.kit.mnist_layout`): the ink fitted into a 20 x 20 box, its centre of mass on
    the frame's centre."""
    return np.stack([mnist_layout(image) for image in images])


def as_usps(images: np.ndarray) -> np.ndarray:
    """USPS's layout (`fill_frame`): the ink fitted to the whole frame."""
    return np.stack([fill_frame(image) for image in images])
