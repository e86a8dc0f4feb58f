"""The evaluator's tab: draw a digit and see what the hub's judge of generated digits reads."""
from __future__ import annotations

import functools

from hub.kit import digit_sketchpad, evaluator, grayscale_ink, to_mnist


def classify(models, image):
    digit = to_mnist(grayscale_ink(image))
    with models.use() as model:
        probabilities = evaluator.outputs(model, digit[None])[1][0]
    return {str(d): float(p) for d, p in enumerate(probabilities)}


def build_ui(ctx) -> None:
    import gradio as gr

    gr.Markdown("The classifier that judges every generator in the hub. Draw a digit to see what it "
                "reads.")
    with gr.Row():
        with gr.Column():
            sketch = digit_sketchpad("evaluator-sketchpad")
            go = gr.Button("Classify", variant="primary")
        label = gr.Label(num_top_classes=3, label="The evaluator reads")
    ctx.on(go.click, "classify", functools.partial(classify, ctx.models), sketch, label)
