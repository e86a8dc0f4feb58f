"""The input widgets the demos share: the image upload that reads only real uploads, and the canvas
for drawing a digit."""
from __future__ import annotations

import gradio as gr

from ..uploads import is_uploaded

NOT_UPLOADED = "Only an image uploaded on this page can be read: upload it (again) and try once more."


def uploaded_path(payload) -> str | None:
    """An image upload's preprocessing: the path of a file the user uploaded, or a message.

    gr.Image's own would open any server path sent as `{"path": ...}` without Gradio's "meta" tag (its
    data model skips the upload-cache check that tagged files get), and answers a bad file with
    internals; the demo opens this path and explains instead."""
    if payload is None:
        return None
    path = getattr(payload, "path", None)
    if not isinstance(path, str) or not is_uploaded(path):
        raise gr.Error(NOT_UPLOADED, title="Please check the input", print_exception=False)
    return path


def image_upload(label: str = "Image", elem_id: str | None = None) -> gr.Image:
    """The hub's image upload (files and the clipboard); use it for every image a user sends."""
    image = gr.Image(label=label, type="filepath", sources=["upload", "clipboard"], format="png", elem_id=elem_id)
    image.preprocess = uploaded_path     # on the instance: a subclass would make Gradio write a .pyi here
    return image


def digit_sketchpad(elem_id: str) -> gr.Sketchpad:
    """A square canvas with a fixed black brush thick enough for MNIST-like strokes."""
    return gr.Sketchpad(label="Draw a digit", type="numpy", image_mode="RGBA", canvas_size=(280, 280),
                        elem_id=elem_id, brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"))


def drawing_tab(elem_prefix: str, button_label: str, button_elem_id: str | None = None):
    """A "Draw" tab of the hub's draw-or-upload panel: the digit canvas (elem_id "<prefix>-sketchpad") and
    the button that acts on it. Call inside a Column; returns (canvas, button)."""
    with gr.Tab("Draw"):
        canvas = digit_sketchpad(f"{elem_prefix}-sketchpad")
        button = gr.Button(button_label, variant="primary", elem_id=button_elem_id)
    return canvas, button


def caption_box(elem_id: str) -> gr.Textbox:
    """A caption of a digit to draw (`hub.kit.captions`), with example captions to click."""
    from .captions import EXAMPLE_CAPTIONS

    box = gr.Textbox(value=EXAMPLE_CAPTIONS[0], label="Caption", elem_id=elem_id)
    gr.Examples([[e] for e in EXAMPLE_CAPTIONS], inputs=box, label="Captions to try")
    return box
