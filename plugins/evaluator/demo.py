"""The evaluator's tab: draw a digit and see what the hub's judge of generated digits reads."""
from __future__ import annotations

import functools

from hub.kit import (digit_sketchpad, evaluator, figure_image, grayscale_ink, grayscale_test_digits, pyplot,
                     to_mnist)


def classify(models, image):
    digit = to_mnist(grayscale_ink(image))
    with models.use() as model:
        probabilities = evaluator.outputs(model, digit[None])[1][0]
    return {str(d): float(p) for d, p in enumerate(probabilities)}


def thumbnail(ctx):
    """The gallery's picture: test digit 0 beside what the evaluator reads in it."""
    plt = pyplot()

    digit = grayscale_test_digits()[0][0] / 255.0
    probabilities = classify(ctx.models, digit)
    figure, (left, right) = plt.subplots(1, 2, figsize=(4, 2), gridspec_kw={"width_ratios": [1, 1.6]})
    left.imshow(digit, cmap="gray")
    left.axis("off")
    right.barh(list(probabilities), list(probabilities.values()), color="#08519c")
    right.invert_yaxis()
    right.set_xlim(0, 1)
    right.set_title("reads", fontsize=9)
    figure.tight_layout()
    plt.close(figure)
    return figure_image(figure)


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
