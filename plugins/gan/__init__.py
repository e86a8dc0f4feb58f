"""The GAN family on MNIST: GAN, DCGAN, conditional GAN and InfoGAN, each its own demo, judged by
the hub's evaluator (they give samples, no likelihood).

Registration only describes the demos; torch models are built on first use.
"""
import importlib
from functools import partial

from hub import DemoSpec, ModelSpec, hookimpl, lazy, load_model, weights_dir
from hub.kit import model_sample

__version__ = "1.0.0"
DEMOS = {
    "gan": ("GAN", """**GAN** (Goodfellow et al., 2014): a generator G(z) and a discriminator D(x), both
multilayer perceptrons, play the minimax game min_G max_D E[log D(x)] + E[log(1 - D(G(z)))]. It
draws samples; it has no likelihood to report."""),
    "dcgan": ("DCGAN", """**DCGAN** (Radford et al., 2016): the same game with a convolutional generator
(transposed convolutions, batch norm, ReLU) and discriminator (strided convolutions, LeakyReLU)."""),
    "cgan": ("Conditional GAN", """**Conditional GAN** (Mirza & Osindero, 2014): G and D both see the digit
y, so you choose which digit to draw: G(z, y)."""),
    "infogan": ("InfoGAN", """**InfoGAN** (Chen et al., 2016): part of G's input is a code c (a 10-way
category and two continuous values) that G must keep recoverable from its image, by maximising the
mutual information I(c; G(z, c)). Without labels, the category tends to become the digit and the
continuous codes its slant and width."""),
}


HEADLINES = {"cgan": "FLD {fld:.1f}, {accuracy_on_requested_digit:.1%} the digit asked for"}   # else the FLD alone
PAPERS = {"gan": "GAN", "dcgan": "DCGAN", "cgan": "ConditionalGAN", "infogan": "InfoGAN"}   # in the file <demo id>.py


def paper(demo_id: str) -> type:
    """A demo's model class, from its paper's file (this imports torch: only to load or train)."""
    return getattr(importlib.import_module(f"{__name__}.{demo_id}"), PAPERS[demo_id])


def load_gan(demo_id: str, directory=None):
    return load_model(paper(demo_id), directory or weights_dir(demo_id))[0]


@hookimpl
def register_demos(register):
    for kind, (title, description) in DEMOS.items():
        register(DemoSpec(
            id=kind, title=title, description=description, group="Implicit models",
            build_ui=lazy(f"{__name__}.demo", "build_ui"),
            models=[ModelSpec(kind, partial(load_gan, kind), weights_dir(kind))],
            train=partial(lazy(f"{__name__}.train", "train"), kind, kind),
            evaluate=lazy(f"{__name__}.train", "evaluate"),
            sample=model_sample, likelihood="none", discriminator_score=lazy("hub.kit.adversarial", "realness"),
            headline=HEADLINES.get(kind, "FLD {fld:.1f}"),
        ))
