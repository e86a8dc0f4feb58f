"""Showing small images and likelihoods: crisp enlargements, grids, heat maps, and where one
image's log-likelihood falls among a reference split's (the anomaly-detection verdict)."""
from __future__ import annotations

import functools

import math

import numpy as np

from . import data
from ..errors import InputError


def enlarge(image: np.ndarray, factor: int = 4) -> np.ndarray:
    """[H, W] in [0, 1] -> uint8 enlarged with crisp pixels for display."""
    return (np.kron(np.clip(image, 0, 1), np.ones((factor, factor))) * 255).astype(np.uint8)


def tile(images: np.ndarray, columns: int, pad: int = 2) -> np.ndarray:
    """[N, H, W] -> one [rows*H, columns*W] grid with a dark gap between cells."""
    n, h, w = images.shape
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + pad) - pad, columns * (w + pad) - pad), 0.25, np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = image
    return grid


def labelled_grid(images: np.ndarray, columns: int, row_labels: list[str], column_labels: list[str],
                  row_title: str = "", column_title: str = "", factor: int = 3) -> np.ndarray:
    """A grid of [N, H, W] images in [0, 1] with a label beside each row and above each column, and a
    title for each: RGB uint8 (a sweep reads as a table)."""
    from PIL import Image, ImageDraw, ImageFont

    cells = enlarge(tile(images, columns), factor)
    h, w = images.shape[1:]
    step_y, step_x = (h + 2) * factor, (w + 2) * factor          # tile() leaves a 2-pixel gap
    font = ImageFont.load_default(size=14)
    left = 16 + max(int(font.getlength(label)) for label in row_labels) + (22 if row_title else 0)
    top = 26 + (22 if column_title else 0)
    canvas = Image.new("RGB", (left + cells.shape[1] + 8, top + cells.shape[0] + 8), "white")
    canvas.paste(Image.fromarray(cells).convert("RGB"), (left, top))
    draw = ImageDraw.Draw(canvas)
    for c, label in enumerate(column_labels):
        draw.text((left + c * step_x + w * factor / 2, top - 6), label, fill="black", font=font, anchor="md")
    for r, label in enumerate(row_labels):
        draw.text((left - 8, top + r * step_y + h * factor / 2), label, fill="black", font=font, anchor="rm")
    if column_title:
        draw.text((left + cells.shape[1] / 2, 4), column_title, fill="black", font=font, anchor="mt")
    if row_title:
        title = Image.new("RGB", (cells.shape[0], 20), "white")
        ImageDraw.Draw(title).text((cells.shape[0] / 2, 2), row_title, fill="black", font=font, anchor="mt")
        canvas.paste(title.rotate(90, expand=True), (2, top))
    return np.asarray(canvas)


def percentile_of(value: float, percentiles: dict[str, float]) -> float:
    """Where `value` falls among the stored validation percentiles ("0" the least likely digit, "100"
    the most likely), by linear interpolation; 0 below all of them, 100 above."""
    points = sorted((float(p), v) for p, v in percentiles.items())
    if value <= points[0][1]:
        return points[0][0] * (0.5 if value < points[0][1] else 1.0)
    for (p0, v0), (p1, v1) in zip(points, points[1:]):
        if value <= v1:
            return p0 + (p1 - p0) * (value - v0) / max(v1 - v0, 1e-9)
    return points[-1][0]


def verdict(log_likelihood: float, percentiles: dict[str, float]) -> tuple[float, str]:
    """(percentile among validation digits, the verdict in words) for one image's log p(x). Both tails
    are unusual: far less likely than the digits the model knows, or far *more* likely (raw likelihood
    rewards simple images: a blank canvas scores higher than any real digit)."""
    rank, p = percentile_of(log_likelihood, percentiles), percentiles
    if log_likelihood < p["0"]:
        return rank, ("anomalous: less likely than every validation digit; the model finds it very unlike "
                      "MNIST")
    if log_likelihood < p["0.1"]:
        return rank, "anomalous: less likely than 99.9% of validation digits; the model finds it very unlike MNIST"
    if log_likelihood < p["5"]:
        return rank, f"unusual: only {rank:.1f}% of validation digits are less likely"
    if log_likelihood <= p["99"]:
        return rank, f"typical: as likely as most MNIST digits ({rank:.1f}% of validation digits are less likely)"
    if log_likelihood <= p["100"]:
        return rank, (f"unusually likely: more likely than {rank:.1f}% of validation digits (simple strokes, "
                      "like a plain 1, are)")
    return rank, ("unusual at the other end: more likely than every validation digit. Raw likelihood rewards "
                  "simplicity, so an empty or nearly empty image scores higher than any real digit; a very high "
                  "likelihood is no sign of a typical digit")


@functools.lru_cache(maxsize=None)
def test_digits() -> tuple[np.ndarray, np.ndarray]:
    """Static binarized MNIST test digits and labels, or an InputError that says where the data is missing."""
    return available_test_split(data.binarized_mnist)


@functools.lru_cache(maxsize=None)
def grayscale_test_digits() -> tuple[np.ndarray, np.ndarray]:
    """MNIST's grayscale test digits (uint8) and labels, or an InputError that says where the data is missing."""
    return available_test_split(data.mnist)


def available_test_split(load) -> tuple[np.ndarray, np.ndarray]:
    """The test split, read once per process (a picked test digit would otherwise unpack all 10,000: 60 ms),
    read-only since every request shares it."""
    try:
        arrays = load("test")
    except data.DataNotFound as error:
        raise InputError(f"Test digits are not available here: {error}") from None
    for array in arrays:
        array.setflags(write=False)
    return arrays


def pyplot():
    """matplotlib.pyplot on the Agg backend: plots drawn in a server, with no display."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def likelihood_plot(log_px: float, reference: dict):
    """The validation distribution of log p(x) as a box plot (least and most likely digit marked),
    with this image marked."""
    import matplotlib
    plt = pyplot()
    p = reference
    fig, ax = plt.subplots(figsize=(6, 1.9))
    ax.plot([p["0.1"], p["99.9"]], [0, 0], color="#888", lw=1)
    ax.plot([p["5"], p["95"]], [0, 0], color="#555", lw=3)
    ax.plot([p["0"], p["100"]], [0, 0], "o", color="#555", ms=3)
    ax.add_patch(matplotlib.patches.Rectangle((p["25"], -0.25), p["75"] - p["25"], 0.5, color="#9ecae1"))
    ax.plot([p["50"]] * 2, [-0.25, 0.25], color="#08519c", lw=2)
    for q, name in (("0", "least"), ("5", "5%"), ("95", "95%"), ("100", "most")):
        ax.annotate(name, (p[q], 0), (p[q], 0.35), ha="center", fontsize=7, color="#555")
    ax.axvline(log_px, color="#d62728", lw=2)
    ax.annotate("your image", (log_px, -0.45), ha="center", fontsize=8, color="#d62728")
    ax.set_xlim(min(log_px, p["0"]) - 10, max(log_px, p["100"]) + 10)
    ax.set_ylim(-0.6, 0.6)
    ax.set_yticks([])
    ax.set_xlabel("log p(x) in nats of validation digits (box 25-75%, whiskers 5-95% and 0.1-99.9%, "
                  "dots: least and most likely)", fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def heat_map(values: np.ndarray, vmax: float | None = None, factor: int = 8) -> np.ndarray:
    """[H, W] non-negative values -> enlarged RGB uint8 image, dark (low) to bright (high), "inferno"."""
    from matplotlib import colormaps
    vmax = float(vmax if vmax is not None else max(values.max(), 1e-9))
    rgb = colormaps["inferno"](np.clip(values / vmax, 0, 1))[..., :3]
    return (np.kron(rgb, np.ones((factor, factor, 1))) * 255).astype(np.uint8)


def figure_image(figure) -> np.ndarray:
    """A matplotlib figure -> RGB uint8 [H, W, 3] (a demo's plot as a picture: the gallery's thumbnails)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)          # also for a figure already closed (pyplot let go of its canvas)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
