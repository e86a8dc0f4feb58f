"""Two properties of a handwritten digit measured on the image itself, shared by every demo that
names or changes them (the text-to-image captions, StarGAN's domains):

    thickness = 2 * ink area / ink edges   (a stroke of width w and length l has area w*l and about 2l
                                            edges: the mean stroke width in pixels)
    slant     = -cov(column, row) / var(row) over the ink  (how many columns the ink moves right per
                                            row upwards: the shear that would make the digit upright)

The bands sit near the quartiles of MNIST's training digits; a digit between two bands gets no word.
"""
from __future__ import annotations

import numpy as np

THIN_BELOW, THICK_ABOVE = 1.65, 2.35                      # pixels of stroke width
LEFT_BELOW, UPRIGHT_WITHIN, RIGHT_ABOVE = -0.1, 0.1, 0.3  # columns per row


def measure(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(thickness, slant) of each image in [N, 28, 28] (uint8 or floats in [0, 1])."""
    x = np.asarray(images, np.float32).reshape(-1, 28, 28)
    x = x / 255 if x.max() > 1 else x
    ink = x > 0.5
    edges = (ink[:, 1:] != ink[:, :-1]).sum((1, 2)) + (ink[:, :, 1:] != ink[:, :, :-1]).sum((1, 2))
    thickness = 2 * ink.sum((1, 2)) / np.maximum(edges, 1)
    rows, cols = np.mgrid[0:28, 0:28]
    mass = x / np.maximum(x.sum((1, 2), keepdims=True), 1e-6)
    row_mean, col_mean = (mass * rows).sum((1, 2), keepdims=True), (mass * cols).sum((1, 2), keepdims=True)
    row_var = (mass * (rows - row_mean) ** 2).sum((1, 2))
    covariance = (mass * (rows - row_mean) * (cols - col_mean)).sum((1, 2))
    return thickness, -covariance / np.maximum(row_var, 1e-6)


def thickness_word(thickness: float) -> str | None:
    return "thin" if thickness < THIN_BELOW else "thick" if thickness > THICK_ABOVE else None


def slant_word(slant: float) -> str | None:
    if slant < LEFT_BELOW:
        return "left"
    if abs(slant) <= UPRIGHT_WITHIN:
        return "upright"
    return "right" if slant > RIGHT_ABOVE else None
