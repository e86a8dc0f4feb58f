"""NADE on static binarized MNIST: exact likelihood, pixel-by-pixel sampling and completion.

Registration only describes the demo; torch models are built on first use.
"""
from hub import DemoSpec, ModelSpec, hookimpl, lazy, weights_dir
from hub.kit import model_sample, pixel_by_pixel_ui

__version__ = "1.0.0"
DEMO_ID = "nade"
DESCRIPTION = """**NADE**, the neural autoregressive distribution estimator (Larochelle & Murray, 2011): each pixel's
probability given the pixels before it, p(x_i | x_<i), from one hidden layer whose weights all the
conditionals share. Its likelihood is *exact*, and it draws an image one pixel at a time."""


def load_nade(directory=None):
    from hub import load_model

    from .model import NADE

    model, config = load_model(NADE, directory or weights_dir(DEMO_ID))
    model.reference = config["valid_log_likelihood_percentiles"]      # validation log p(x) percentiles
    return model


@hookimpl
def register_demos(register):
    register(DemoSpec(
        id=DEMO_ID, title="NADE", description=DESCRIPTION, group="Explicit models", build_ui=pixel_by_pixel_ui,
        models=[ModelSpec("nade", load_nade, weights_dir(DEMO_ID))],
        train=lazy(f"{__name__}.train", "train"), evaluate=lazy(f"{__name__}.train", "evaluate"),
        sample=model_sample, likelihood="exact", headline="test -log p(x) {nll_nats:.2f} nats",
        log_likelihood=lazy("hub.kit.likelihood", "log_likelihoods"),
    ))
