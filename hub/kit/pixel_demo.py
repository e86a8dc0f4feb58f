"""The demo of an autoregressive model of binary 28 x 28 digits (NADE, PixelRNN, ...): streamed
pixel-by-pixel sampling, completion of the top rows, exact likelihood with a per-pixel surprise map.

The model behind `ctx.models` provides:
    sample_steps(n, generator, prefix) -> yields (i, x [n, 784]) after drawing pixel i
    log_prob_per_pixel(x [1, 784]) -> log p(x_i | x_<i) [1, 784]
    reference: percentiles of log p(x) over the validation split (for the verdict)
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from .display import enlarge, heat_map, likelihood_plot, test_digits, tile, verdict
from .images import binary_digit
from .inputs import integer

SIDE = 28
STREAM_EVERY = SIDE          # pixels between two streamed frames: one row
FRAME_PAUSE = 0.03           # seconds; sampling takes milliseconds, this lets the eye follow the rows


def frame(x: torch.Tensor, done: int, columns: int) -> np.ndarray:
    """The images so far; pixels not yet drawn are shown mid-grey."""
    images = x.view(-1, SIDE, SIDE).cpu().numpy().copy()
    pending = np.arange(SIDE * SIDE).reshape(SIDE, SIDE) >= done
    images[:, pending] = 0.35
    return enlarge(tile(images, columns), 3)


class PixelByPixelDemo:
    def __init__(self, models):
        self.models = models                  # lazy handle: models.use() -> the model

    def sample(self, seed, count):
        """Stream digits as the model draws them, one row of pixels per frame."""
        seed = integer(seed, "Seed", 0, 2**31 - 1)
        count = integer(count, "Number of digits", 1, 32)
        yield from self._stream(count, torch.Generator().manual_seed(seed), prefix=None)

    def complete(self, source, index, drawing, rows, count, seed):
        """Keep the top `rows` rows of a test digit (or a drawing) and stream `count` completions."""
        rows = integer(rows, "Rows to keep", 0, SIDE)
        count = integer(count, "Number of completions", 1, 16)
        seed = integer(seed, "Seed", 0, 2**31 - 1)
        if source == "Test digit":
            x, _ = test_digits()
            index = integer(index, "Test image number", 0, len(x) - 1)
            digit = x[index].astype(np.float32)
        else:
            digit = binary_digit(drawing)
        prefix = torch.from_numpy(digit.reshape(1, -1)[:, :rows * SIDE]).repeat(count, 1)
        yield from self._stream(count, torch.Generator().manual_seed(seed), prefix=prefix)

    def _stream(self, count: int, generator: torch.Generator, prefix: torch.Tensor | None):
        columns = min(count, 4 if count <= 16 else 8)     # digits big enough to see
        done = 0 if prefix is None else prefix.shape[1]
        x = torch.zeros(count, SIDE * SIDE)
        if prefix is not None:
            x[:, :done] = prefix
        yield frame(x, done, columns)                     # the kept rows show at once
        with self.models.use() as model:
            for i, x in model.sample_steps(count, generator, prefix):
                if (i + 1) % STREAM_EVERY == 0:
                    yield frame(x, i + 1, columns)
                    time.sleep(FRAME_PAUSE)

    def likelihood(self, image):
        """(model input, surprise map, report, plot) for a drawn or uploaded digit."""
        x = torch.from_numpy(binary_digit(image).reshape(1, -1))
        with self.models.use() as model, torch.no_grad():
            per_pixel = model.log_prob_per_pixel(x)[0].cpu().numpy()
            reference = model.reference
        log_px = float(per_pixel.sum())
        _, text = verdict(log_px, reference)
        surprise = -per_pixel.reshape(SIDE, SIDE)
        worst = np.unravel_index(surprise.argmax(), surprise.shape)
        report = (f"**-log p(x) = {-log_px:.1f} nats** exactly ({-log_px / math.log(2) / x.shape[1]:.4f} bits per "
                  f"pixel).\n\n**Verdict: {text}.**\n\n"
                  f"The map shows -log p(x_i | x_<i) for each pixel (brighter = more surprising); the most "
                  f"surprising pixel, row {worst[0]}, column {worst[1]}, cost {surprise.max():.1f} nats.")
        return enlarge(x.view(SIDE, SIDE).numpy()), heat_map(surprise, vmax=max(4.0, surprise.max())), report, \
            likelihood_plot(log_px, reference)


def build_ui(ctx) -> None:
    import gradio as gr

    from .widgets import digit_sketchpad as sketchpad
    from .widgets import drawing_tab, image_upload

    demo = PixelByPixelDemo(ctx.models)
    name, prefix = ctx.demo.title, ctx.demo.id.replace("_", "-")      # elem_ids: "<demo>-samples", ...
    with gr.Tab("Sample"):
        with gr.Row():
            with gr.Column(scale=1):
                seed = gr.Number(value=0, precision=0, label="Seed")
                count = gr.Slider(1, 32, value=8, step=1, label="Number of digits")
                sample_button = gr.Button("Sample pixel by pixel", variant="primary")
                gr.Examples([[0, 8], [1, 16], [2024, 4]], inputs=[seed, count])
            samples = gr.Image(label="Samples (grey: not drawn yet)", format="png", elem_id=f"{prefix}-samples")
        ctx.on(sample_button.click, "sample", demo.sample, [seed, count], samples, heavy=True)

    with gr.Tab("Complete"):
        gr.Markdown(f"Keep the top rows of a digit and let {name} draw the rest, several times.")
        with gr.Row():
            with gr.Column():
                source = gr.Radio(["Test digit", "My drawing"], value="Test digit", label="Start from")
                index = gr.Number(value=0, precision=0, label="Test image number (0-9999)")
                drawing = sketchpad(f"{prefix}-complete-sketchpad")
                rows = gr.Slider(0, SIDE, value=14, step=1, label="Rows to keep (k)")
                completions = gr.Slider(1, 16, value=8, step=1, label="Completions")
                complete_seed = gr.Number(value=0, precision=0, label="Seed")
                complete_button = gr.Button("Complete", variant="primary")
                gr.Examples([["Test digit", 0, 14, 8, 0], ["Test digit", 7, 10, 8, 1]],
                            inputs=[source, index, rows, completions, complete_seed])
            completed = gr.Image(label="Completions", format="png")
        ctx.on(complete_button.click, "complete", demo.complete,
               [source, index, drawing, rows, completions, complete_seed], completed, heavy=True)

    with gr.Tab("Likelihood"):
        gr.Markdown("Draw a digit (or upload one) and get its exact log-likelihood.")
        with gr.Row():
            with gr.Column():
                sketch, draw_button = drawing_tab(prefix, "Score drawing", f"{prefix}-score")
                with gr.Tab("Upload"):
                    upload = image_upload()
                    upload_button = gr.Button("Score image", variant="primary")
            with gr.Column():
                with gr.Row():
                    seen = gr.Image(label="What the model sees (28x28, binarised)", format="png")
                    surprise = gr.Image(label="Surprise: -log p(x_i | x_<i)", format="png")
                report = gr.Markdown(elem_id=f"{prefix}-likelihood")
                plot = gr.Plot(label="Where it falls among validation digits")
        outputs = [seen, surprise, report, plot]
        ctx.on(draw_button.click, "likelihood", demo.likelihood, sketch, outputs)
        ctx.on(upload_button.click, "likelihood_upload", demo.likelihood, upload, outputs)
