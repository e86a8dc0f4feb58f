"""The ViT demo: draw, upload or pick a test digit; see the top-k probabilities, the patches the
model reads, the attention rollout over the input and the class token's attention per layer and head."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
from PIL import Image

from hub import Batched
from hub.kit import grayscale_ink, grayscale_test_digits, integer, one_of

ROLLOUT = "rollout (all layers)"
AVERAGE = "average"
VIEW = 224                      # pixels a side of the pictures shown


def upscale(image: np.ndarray, size: int = VIEW) -> np.ndarray:
    """[H, W] or [H, W, 3] in [0, 1] -> RGB uint8 size x size, crisp pixels."""
    rgb = np.repeat(image[..., None], 3, 2) if image.ndim == 2 else image
    return np.asarray(Image.fromarray((255 * np.clip(rgb, 0, 1)).astype(np.uint8)).resize((size, size), Image.NEAREST))


def patch_grid(image: np.ndarray, grid: int) -> np.ndarray:
    """The input with the patch borders drawn: what the Transformer reads as grid x grid tokens."""
    out = upscale(image).copy()
    for k in range(1, grid):
        edge = round(k * VIEW / grid)
        out[edge, :] = out[:, edge] = (255, 80, 80)
    return out


def overlay(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The input under a heat map of `weights` ([grid, grid] in [0, 1])."""
    from matplotlib import colormaps

    heat = colormaps["inferno"](np.asarray(Image.fromarray((255 * weights).astype(np.uint8)).resize(
        (VIEW, VIEW), Image.BILINEAR), np.float32) / 255)[..., :3]
    return (255 * (0.45 * upscale(image) / 255 + 0.55 * heat)).astype(np.uint8)


@dataclass
class Request:
    """One image to classify and how to show the answer."""
    image: object
    model: str
    layer: object = ROLLOUT
    head: object = AVERAGE
    top_k: int = 5
    caption: str = ""              # said before the note (which test digit it was)


class ViTDemo:
    def __init__(self, models, model_names: list[str]):
        self.models, self.model_names = models, model_names
        # (image, model, layer, head, top k) -> (top k, patches, attention, note); the same for a test digit's number
        self.classify = Batched(self.image_request, self.read_batch, self.render, key=lambda r: r.model)
        self.classify_test_digit = Batched(self.test_digit_request, self.read_batch, self.render, key=lambda r: r.model)

    def image_request(self, image, model_label=None, layer=ROLLOUT, head=AVERAGE, top_k=5) -> Request:
        grayscale_ink(image)                    # the input's check, before it waits for a batch
        return Request(image, one_of(model_label, "model", self.model_names), layer, head,
                       integer(top_k, "Top k", 1, 20))

    def test_digit_request(self, index, model_label=None, layer=ROLLOUT, head=AVERAGE, top_k=5) -> Request:
        x, y = grayscale_test_digits()
        index = integer(index, "Test image number", 0, len(x) - 1)
        request = self.image_request(x[index].astype(np.float32) / 255, model_label, layer, head, top_k)
        request.caption = f"Test digit {index}, labelled {y[index]}. "
        return request

    def read_batch(self, requests: list[Request]) -> list[tuple[Request, object]]:
        """Every request's image read in one pass (they all name the same model)."""
        with self.models.use(requests[0].model) as classifier:
            return list(zip(requests, classifier.read_many([r.image for r in requests])))

    def render(self, answer: tuple[Request, object]):
        request, reading = answer
        layers, heads = len(reading.attentions), reading.attentions[0].size(0)
        if request.layer in (None, ROLLOUT):
            weights, what = reading.rollout(), "Attention rollout of the class token (Abnar & Zuidema 2020)"
        else:
            index = integer(request.layer, "Layer", 1, layers) - 1
            head_index = None if request.head in (None, AVERAGE) else integer(request.head, "Head", 1, heads) - 1
            weights = reading.class_token_attention(index, head_index)
            what = f"Class token's attention, layer {index + 1}, " + (
                "average of heads" if head_index is None else f"head {head_index + 1}")
        top = dict(sorted(reading.probabilities.items(), key=lambda kv: -kv[1])[:request.top_k])
        note = (f"{request.caption}{what}. The model cut the image into {reading.grid} x {reading.grid} = "
                f"{reading.grid ** 2} patches and has {layers} layers of {heads} heads.")
        return top, patch_grid(reading.seen, reading.grid), overlay(reading.seen, weights), note


def thumbnail(ctx) -> np.ndarray:
    """The gallery's picture: where the class token looks in test digit 0 (attention rollout)."""
    return ViTDemo(ctx.models, [spec.name for spec in ctx.demo.models]).classify_test_digit(0, ctx.demo.models[0].name)[2]


def build_ui(ctx) -> None:
    from hub.kit import drawing_tab, image_upload

    names = [spec.name for spec in ctx.demo.models]
    demo = ViTDemo(ctx.models, names)
    with gr.Row():
        model = gr.Radio(names, value=names[0], label="Model", visible=len(names) > 1)
        layer = gr.Dropdown([ROLLOUT, *map(str, range(1, 25))], value=ROLLOUT, label="Attention shown")
        head = gr.Dropdown([AVERAGE, *map(str, range(1, 17))], value=AVERAGE, label="Head (for one layer)")
        top_k = gr.Slider(1, 10, value=5, step=1, label="Top k")
    with gr.Row():
        with gr.Column():
            sketch, draw_button = drawing_tab("vit", "Classify drawing", "vit-classify")
            with gr.Tab("Upload"):
                upload = image_upload()
                upload_button = gr.Button("Classify image", variant="primary")
            with gr.Tab("Test digit"):
                index = gr.Number(value=0, precision=0, label="MNIST test image number (0-9999)")
                gr.Examples([[0], [18], [247], [1901]], inputs=index, label="Test digits to try")
                test_button = gr.Button("Classify test digit", variant="primary")
        with gr.Column():
            probabilities = gr.Label(label="Top k", elem_id="vit-label")
            with gr.Row():
                patches = gr.Image(label="What the model reads: the patches", format="png")
                attention = gr.Image(label="Where the class token looks", format="png")
            note = gr.Markdown()
    options = [model, layer, head, top_k]
    outputs = [probabilities, patches, attention, note]
    ctx.on(draw_button.click, "classify", demo.classify, [sketch, *options], outputs)
    ctx.on(upload_button.click, "classify_upload", demo.classify, [upload, *options], outputs)
    ctx.on(test_button.click, "classify_test_digit", demo.classify_test_digit, [index, *options], outputs)
