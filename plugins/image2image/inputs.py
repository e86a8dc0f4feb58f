"""The ways a digit comes into both image-to-image demos: a test digit by number, a drawing, an upload."""
from __future__ import annotations

from typing import Callable


def digit_inputs(prefix: str, test_extras: Callable[[], object] = lambda: None) -> dict:
    """The three input tabs (call inside a Column). `test_extras()` places more widgets at the top of the
    test-digit tab; what it returns comes back as "extras". Elem ids: "<prefix>-test" (the test-digit
    button) and "<prefix>-sketchpad"."""
    import gradio as gr

    from hub.kit import drawing_tab, image_upload

    with gr.Tab("Test digit"):
        extras = test_extras()
        index = gr.Number(value=0, precision=0, label="Test image number (MNIST 0-9999, USPS 0-2006)")
        pick = gr.Button("Translate test digit", variant="primary", elem_id=f"{prefix}-test")
    sketch, draw_button = drawing_tab(prefix, "Translate drawing")
    with gr.Tab("Upload"):
        upload = image_upload()
        upload_button = gr.Button("Translate image", variant="primary")
    return {"extras": extras, "index": index, "pick": pick, "sketch": sketch, "draw": draw_button,
            "upload": upload, "upload_button": upload_button}
