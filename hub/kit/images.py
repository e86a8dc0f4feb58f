"""Images between the forms they take: an upload or a drawing, a float array in [0, 1], a tensor in
[-1, 1] inside a GAN, a uint8 grid for display. Every conversion the plugins share lives here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError

MAX_SIDE = 4096
MAX_PIXELS = 16_000_000
MIN_SIDE = 8
NOTHING_GIVEN = "No image yet: upload one (or draw a digit on the canvas) first."


def _open_image(path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"The file {path.name} could not be found; upload it again.")
    try:
        with Image.open(path) as image:
            check_size(*image.size)
            image.load()
            return image.copy()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise InputError(f"{path.name} is not an image this demo can read; upload a PNG or JPEG.") from None


def check_size(width: int, height: int) -> None:
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise InputError(f"The image is {width}x{height} pixels; the largest accepted is {MAX_SIDE} pixels a side.")
    if min(width, height) < MIN_SIDE:
        raise InputError(f"The image is {width}x{height} pixels; it needs at least {MIN_SIDE} pixels a side.")


def grayscale_ink(value, empty_message: str = "The canvas is empty: draw a digit first.") -> np.ndarray:
    """Any image a Gradio component may hand over -> float32 [H, W] in [0, 1], ink = 1.

    Accepts a Sketchpad/ImageEditor dict (its "composite"), a file path or FileData dict, a PIL
    image or a numpy array (grey, RGB or RGBA). Transparent pixels count as background, and a light
    background is inverted so the strokes become the bright pixels, as in MNIST."""
    if isinstance(value, dict):
        value = value.get("composite", value.get("path"))
        if value is None:
            raise InputError(empty_message)
    if value is None:                   # an upload box with no file (a canvas hands over a dict)
        raise InputError(NOTHING_GIVEN)
    if isinstance(value, (str, Path)):
        value = _open_image(value)
    if isinstance(value, Image.Image):
        check_size(*value.size)
        value = np.asarray(value.convert("RGBA") if value.mode in ("P", "LA", "RGBA") else value.convert("RGB"))
    array = np.asarray(value)
    if array.dtype == object or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InputError(f"Expected an image (height x width, optionally x 3 or 4 channels), got shape {array.shape}.")
    check_size(array.shape[1], array.shape[0])
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError("The image contains NaN or infinite values.")
    if array.max() > 1.0:
        array = array / 255.0
    if array.ndim == 3:
        alpha = array[..., 3] if array.shape[2] == 4 else np.ones(array.shape[:2], np.float32)
        rgb = array[..., :3] if array.shape[2] >= 3 else np.repeat(array, 3, axis=2)
        if array.shape[2] == 4 and alpha.max() > 0 and alpha.min() < 1:
            # strokes on a transparent layer: alpha is the ink (dark strokes) over a white page
            gray = 1.0 - alpha * (1.0 - rgb.mean(axis=2))
        else:
            gray = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    else:
        gray = array
    if array.ndim == 3 and array.shape[2] == 4 and alpha.min() > 0.99 and gray.max() < 0.05:
        raise InputError("The canvas is all ink: clear it and draw a digit.")
    if np.median(gray) > 0.5:          # dark ink on a light page -> light ink on black, like MNIST
        gray = 1.0 - gray
    if gray.max() - gray.min() < 0.05:
        raise InputError(empty_message)
    return np.clip(gray, 0.0, 1.0)


def to_mnist(gray: np.ndarray, box: int = 20, size: int = 28) -> np.ndarray:
    """A drawing or upload laid out as MNIST's digits are (`mnist_layout`); a size x size image is taken
    as laid out already."""
    if gray.shape == (size, size):
        return gray.astype(np.float32)
    return mnist_layout(gray, box, size)


def mnist_layout(gray: np.ndarray, box: int = 20, size: int = 28) -> np.ndarray:
    """MNIST's own preprocessing: crop to the ink, fit in a box x box square keeping the aspect
    ratio, place in a size x size image with the centre of mass at the centre."""
    rows, cols = np.nonzero(gray > 0.1)
    if len(rows) == 0:
        raise InputError("The canvas is empty: draw a digit first.")
    crop = gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = box / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((w, h), Image.LANCZOS),
                       np.float32) / 255.0
    total = small.sum()
    cy, cx = ((np.indices(small.shape) * small).reshape(2, -1).sum(1) / total) if total > 0 else (h / 2, w / 2)
    top = int(np.clip(round(size / 2 - cy), 0, size - h))
    left = int(np.clip(round(size / 2 - cx), 0, size - w))
    out = np.zeros((size, size), np.float32)
    out[top:top + h, left:left + w] = small
    return out


def binary_digit(image) -> np.ndarray:
    """What a binarized-MNIST model sees of any drawn or uploaded digit: centred 28x28, 0/1."""
    x = (to_mnist(grayscale_ink(image)) > 0.5).astype(np.float32)
    if x.sum() == 0:
        raise InputError("After binarising, nothing is left of the drawing: use a thicker brush.")
    return x


def unit_images(x, shape: tuple[int, ...] | None = None):
    """uint8 0-255 or float 0-1 images (numpy or torch) -> a float32 tensor in [0, 1], reshaped to
    `shape` when given (e.g. (-1, 1, 28, 28) for a convolution, (-1, 784) for a dense net)."""
    import torch

    x = torch.as_tensor(x)
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    return x.reshape(shape) if shape is not None else x


def to_signed(x):
    """[0, 1] -> [-1, 1]: the range a tanh output (a GAN's generator) lives in."""
    return x * 2 - 1


def to_unit(x):
    """[-1, 1] -> [0, 1]: a tanh output back to an image."""
    return (x + 1) / 2


def model_sample(model, n: int, generator) -> np.ndarray:
    """The Compare tab's sampler for a model whose `sample(n, generator)` returns n images (any layout):
    [n, 28, 28] floats in [0, 1]."""
    return model.sample(n, generator).reshape(n, 28, 28).cpu().numpy()
