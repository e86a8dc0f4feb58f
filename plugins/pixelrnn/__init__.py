"""PixelRNN on static binarized MNIST: a Row LSTM and a Diagonal BiLSTM, each its own demo with
exact likelihood, pixel-by-pixel sampling and completion.

Registration only describes the demos; torch models are built on first use.
"""
from functools import partial

from hub import DemoSpec, ModelSpec, hookimpl, lazy, weights_dir
from hub.kit import model_sample, pixel_by_pixel_ui

__version__ = "1.0.0"
DEMOS = {
    "row": ("pixelrnn_row", "PixelRNN · Row LSTM", """**PixelRNN with Row LSTM layers** (van den Oord et al., 2016): the image is read a
row at a time, each row's LSTM state computed from the row above (a 1 x 3 convolution), so each
pixel sees a triangle of context above it. Exact likelihood; draws one pixel at a time."""),
    "diagonal": ("pixelrnn_diagonal", "PixelRNN · Diagonal BiLSTM", """**PixelRNN with Diagonal BiLSTM layers** (van den Oord et al., 2016): the LSTMs run along
the image's diagonals in both directions, so each pixel sees every pixel above it and to its
left. Exact likelihood; draws one pixel at a time."""),
}


def load_pixelrnn(demo_id: str, directory=None):
    from hub import load_model

    from .model import PixelRNN

    model, config = load_model(PixelRNN, directory or weights_dir(demo_id))
    model.reference = config["valid_log_likelihood_percentiles"]      # validation log p(x) percentiles
    return model


@hookimpl
def register_demos(register):
    for kind, (demo_id, title, description) in DEMOS.items():
        register(DemoSpec(
            id=demo_id, title=title, description=description, group="Explicit models", build_ui=pixel_by_pixel_ui,
            models=[ModelSpec(demo_id, partial(load_pixelrnn, demo_id), weights_dir(demo_id))],
            train=partial(lazy(f"{__name__}.train", "train"), kind, demo_id),
            evaluate=lazy(f"{__name__}.train", "evaluate"),
            sample=model_sample, likelihood="exact", headline="test -log p(x) {nll_nats:.2f} nats",
            log_likelihood=lazy("hub.kit.likelihood", "log_likelihoods"),
        ))
