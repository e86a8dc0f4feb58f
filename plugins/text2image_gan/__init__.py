"""Text-to-image GAN (Reed et al. 2016, GAN-INT-CLS): a caption's embedding conditions G and a
matching-aware D; shipped with the two ablations (GAN-CLS off, GAN-INT off) trained on the same budget.

Registration only describes the demo; torch models are built on first use.
"""
from hub import DemoSpec, ModelSpec, hookimpl, load_model, package_parts, weights_dir

__version__ = "0.1.0"
DEMO_ID = "text2image_gan"
DESCRIPTION = """**Text-to-image GAN** (Reed et al., 2016): a text encoder turns the caption into a vector
phi(t); the generator draws G(z, phi(t)) in one forward pass, and the discriminator judges image and caption
together. It learns to spot real digits under the wrong caption (GAN-CLS) and the generator also learns from
blends of two captions' vectors (GAN-INT). The same captions as the small DALL-E, so the two routes from a
sentence to an image can be put side by side."""


def load(directory=None):
    from .model import TextToImageGAN

    return load_model(TextToImageGAN, directory or weights_dir(DEMO_ID))[0]


def caption_sample(model, texts, generator):
    """One image [28, 28] in [0, 1] for each caption (the side-by-side view's sampler)."""
    return model.sample(list(texts), generator).cpu().numpy()


def compare_sample(model, n, generator):
    """The Compare tab's sampler: n digits, each asked for by name, the ten in turn."""
    return caption_sample(model, [str(i % 10) for i in range(n)], generator)


@hookimpl
def register_demos(register):
    register(DemoSpec(id=DEMO_ID, title="Text-to-image GAN", description=DESCRIPTION, group="Implicit models",
                      models=[ModelSpec(DEMO_ID, load, weights_dir(DEMO_ID))], sample=compare_sample,
                      caption_sample=caption_sample, likelihood="none", **package_parts(__name__),
                      headline="digit match {digit_match:.1%}, FLD {fld:.1f}"))
