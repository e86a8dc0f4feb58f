"""The plugin kit: what model plugins share, and the only part of the hub besides `hub` itself that
a plugin may import (`from hub.kit import tile, training, ...`).

Importing this package is cheap: each name is imported on first use, so a plugin's registration
can name kit functions without loading torch. `SURFACE` below is the whole declared surface; every
entry has a one-line docstring and a test fails on any plugin import from elsewhere in `hub`.
"""
from __future__ import annotations

import importlib

from ..specs import lazy

# name -> the kit module that holds it (or a hub module, by its full name); a name that is itself a
# module is used as a namespace
SURFACE = {
    # namespaces
    "data": "data", "download": "download", "training": "training", "adversarial": "adversarial", "evaluator": "evaluator",
    "likelihood": "likelihood", "cards": "cards", "strokes": "strokes", "captions": "captions", "anomaly": "anomaly",
    # checking what users send
    "integer": "inputs", "number": "inputs", "one_of": "inputs",
    # images between their forms
    "grayscale_ink": "images", "to_mnist": "images", "mnist_layout": "images", "binary_digit": "images",
    "to_signed": "images", "to_unit": "images", "unit_images": "images", "model_sample": "images",
    # showing images and likelihoods
    "enlarge": "display", "tile": "display", "labelled_grid": "display", "heat_map": "display", "verdict": "display",
    "likelihood_plot": "display", "figure_image": "display", "pyplot": "display", "test_digits": "display", "grayscale_test_digits": "display",
    # input widgets
    "digit_sketchpad": "widgets", "image_upload": "widgets", "drawing_tab": "widgets", "caption_box": "widgets",
    # attention blocks
    "MultiHeadAttention": "attention", "EncoderLayer": "attention", "DecoderLayer": "attention",
    "PositionalEncoding": "attention", "causal_mask": "attention", "scaled_dot_product_attention": "attention", "padding_mask": "attention",
    "reorder_cache": "attention", "keep_cache_rows": "attention",
    # bigger checkpoints in the same interface
    "specs_from_env": "pretrained", "load_local": "pretrained",
    # model sizes
    "parameter_count": "hub.weights",
}

pixel_by_pixel_ui = lazy(f"{__name__}.pixel_demo", "build_ui")
pixel_by_pixel_ui.__doc__ = ("`build_ui` for a demo whose model samples and scores 28 x 28 binary digits pixel by "
                             "pixel (NADE, PixelRNN): streamed sampling, likelihood of a drawing, completion.")

__all__ = sorted([*SURFACE, "pixel_by_pixel_ui"])


def __getattr__(name: str):
    if name not in SURFACE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    where = SURFACE[name]
    module = importlib.import_module(where if where.startswith("hub.") else f"{__name__}.{where}")
    value = module if name == SURFACE[name] else getattr(module, name)
    globals()[name] = value
    return value
