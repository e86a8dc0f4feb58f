"""The CycleGAN demo: a digit of either style in (a test digit, a drawing or an upload); out come its
translation, the translation translated back, and where the round trip lost ink."""
from __future__ import annotations

import numpy as np
import torch

from hub.kit import grayscale_ink, integer, labelled_grid, one_of, tile, to_mnist

from . import domains
from .by_hand import fill_frame
from .inputs import digit_inputs

TO_USPS, TO_MNIST = "MNIST -> USPS (G, then F back)", "USPS -> MNIST (F, then G back)"
COLUMNS = ["input", "translated", "back again", "|back - input|"]


class CycleGANDemo:
    def __init__(self, models):
        self.models = models

    def round_trip(self, images: np.ndarray, direction: str) -> np.ndarray:
        """[N, 28, 28] -> [N, 4, 28, 28]: input, translation, translation back, absolute error."""
        there, back = ("usps", "mnist") if direction == TO_USPS else ("mnist", "usps")
        with self.models.use() as model:
            model.eval()
            translated = model.translate(torch.from_numpy(images), there)
            returned = model.translate(translated, back).numpy()
        x = images.astype(np.float32)
        return np.stack([x, translated.numpy(), returned, np.abs(returned - x)], 1)

    def picture(self, image: np.ndarray, direction: str) -> tuple[np.ndarray, str]:
        trip = self.round_trip(image[None], direction)[0]
        error = float(trip[3].mean())
        style = "USPS" if direction == TO_USPS else "MNIST"
        return (labelled_grid(trip, 4, [""], COLUMNS, factor=5),
                f"Translated into the {style} style and back; mean cycle error {error:.3f} a pixel "
                f"(0 = the round trip gave the digit back exactly).")

    def test_digit(self, index, direction):
        direction = one_of(direction, "Direction", [TO_USPS, TO_MNIST])
        x, y = domains.mnist("test") if direction == TO_USPS else domains.usps("test")
        index = integer(index, "Test image number", 0, len(x) - 1)
        image, note = self.picture(x[index], direction)
        return image, f"Test digit {index} ({'MNIST' if direction == TO_USPS else 'USPS'}, labelled {y[index]}). {note}"

    def drawing(self, value, direction):
        direction = one_of(direction, "Direction", [TO_USPS, TO_MNIST])
        gray = grayscale_ink(value)
        return self.picture(to_mnist(gray) if direction == TO_USPS else fill_frame(gray), direction)

    def grid(self, direction, start):
        """16 test digits in a row: inputs, translations, round trips."""
        direction = one_of(direction, "Direction", [TO_USPS, TO_MNIST])
        x, _ = domains.mnist("test") if direction == TO_USPS else domains.usps("test")
        start = integer(start, "First test digit", 0, len(x) - 16)
        trip = self.round_trip(x[start:start + 16], direction)[:, :3]
        rows = trip.transpose(1, 0, 2, 3).reshape(-1, 28, 28)
        return labelled_grid(rows, 16, COLUMNS[:3], [str(start + i) for i in range(16)], factor=3)


def thumbnail(ctx) -> np.ndarray:
    """The gallery's picture: four MNIST test digits (left), in the USPS style, and back."""
    trip = CycleGANDemo(ctx.models).round_trip(domains.mnist("test")[0][:4], TO_USPS)[:, :3]
    return tile(trip.reshape(-1, 28, 28), 3)


def build_ui(ctx) -> None:
    import gradio as gr

    demo = CycleGANDemo(ctx.models)
    direction = gr.Radio([TO_USPS, TO_MNIST], value=TO_USPS, label="Direction")
    with gr.Tab("One digit"):
        with gr.Row():
            with gr.Column():
                given = digit_inputs("cyclegan")
            with gr.Column():
                result = gr.Image(label="Input, translation, back again, cycle error", format="png",
                                  elem_id="cyclegan-result")
                note = gr.Markdown(elem_id="cyclegan-note")
    with gr.Tab("16 test digits"):
        start = gr.Number(value=0, precision=0, label="First test digit")
        go = gr.Button("Translate 16 test digits", variant="primary")
        grid = gr.Image(label="Inputs, translations, round trips", format="png")
    ctx.on(given["pick"].click, "translate_test_digit", demo.test_digit, [given["index"], direction], [result, note])
    ctx.on(given["draw"].click, "translate", demo.drawing, [given["sketch"], direction], [result, note])
    ctx.on(given["upload_button"].click, "translate_upload", demo.drawing, [given["upload"], direction], [result, note])
    ctx.on(go.click, "grid", demo.grid, [direction, start], grid)
