"""Adversarial autoencoder on MNIST, with a prior a VAE cannot easily use (mixture of ten Gaussians,
swiss roll), selectable in the demo; judged by the hub's evaluator.

Registration only describes the demo; torch models are built on first use.
"""
from functools import partial

from hub import DemoSpec, ModelSpec, hookimpl, package_parts, weights_dir
from hub.kit import model_sample

__version__ = "1.0.0"
DEMO_ID = "aae"
PRIORS = ("mixture", "swiss_roll")
DESCRIPTION = """**Adversarial autoencoder** (Makhzani et al., 2016): an autoencoder with a 2-D code whose
distribution is pushed onto a prior by a discriminator on the codes, in place of the VAE's KL term. The
prior only has to be sampled, so it can be a ring of ten Gaussians or a swiss roll."""


def load_aae(prior: str, directory=None):
    from hub import load_model

    from .model import AdversarialAutoencoder

    return load_model(AdversarialAutoencoder, directory or weights_dir(DEMO_ID) / prior)[0]


@hookimpl
def register_demos(register):
    register(DemoSpec(
        id=DEMO_ID, title="AAE", description=DESCRIPTION, group="Implicit models",
        models=[ModelSpec(prior, partial(load_aae, prior), weights_dir(DEMO_ID) / prior) for prior in PRIORS],
        **package_parts(__name__),
        sample=model_sample, likelihood="none",          # the Compare tab draws from the first prior
        headline="FLD {fld:.1f} (mixture prior)",
    ))
