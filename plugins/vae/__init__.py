"""VAE on static binarized MNIST: sampling, reconstruction, interpolation, latent map and likelihood.

Registration only describes the demo; torch models are built on first use.
"""
from hub import DemoSpec, ModelSpec, hookimpl, lazy, package_parts, weights_dir

__version__ = "1.0.0"
DEMO_ID = "vae"
DESCRIPTION = """A **variational autoencoder** (Kingma & Welling, 2014): an encoder q(z|x), a prior p(z) and a
Bernoulli decoder p(x|z), trained by maximising the evidence lower bound (ELBO) on static binarized MNIST. The prior is
the VampPrior (Tomczak & Welling, 2018): the average of q(z|u) over learned pseudo-images u.
Being an *explicit* model, it gives every image a (bounded) likelihood: draw something and see how
typical the model finds it."""


def load_vae(directory=None):
    from hub import load_model

    from .model import VAE

    model, config = load_model(VAE, directory or weights_dir(DEMO_ID))
    model.reference = config["valid_log_likelihood_percentiles"]["values"]      # validation log p(x) percentiles
    return model


def sample_means(vae, n, generator):
    """Digits decoded from z ~ p(z): the Bernoulli means, as the Sample tab shows them."""
    import torch

    with torch.no_grad():
        z = vae.sample_prior(n, generator).to(next(vae.parameters()).device)
        return torch.sigmoid(vae.decode(z)).view(n, 28, 28).cpu().numpy()


@hookimpl
def register_demos(register):
    register(DemoSpec(
        id=DEMO_ID, title="VAE", description=DESCRIPTION, group="Explicit models",
        models=[ModelSpec("vae", load_vae, weights_dir(DEMO_ID))], **package_parts(__name__),
        elbo_parts=lazy(f"{__name__}.train", "elbo_parts"),
        headline="test log p(x) ≥ {log_likelihood_k5000:.2f} nats (k = 5000)",
        sample=sample_means, likelihood="bound", log_likelihood=lazy(f"{__name__}.train", "log_likelihood"),
    ))
