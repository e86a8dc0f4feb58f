"""Text-to-image in the manner of DALL-E: a VQ-VAE turns digits into 7 x 7 image tokens, a decoder-only
transformer writes those tokens after a caption, and the hub's evaluator re-ranks the samples.

Registration only describes the demo; torch models are built on first use.
"""
from hub import DemoSpec, ModelSpec, hookimpl, lazy, package_parts, weights_dir

__version__ = "1.0.0"
DEMO_ID = "text2image"
DESCRIPTION = """**Text-to-image, a small DALL-E** (Ramesh et al., 2021). Stage 1: a VQ-VAE turns each 28 x 28
digit into a 7 x 7 grid of image tokens (codes from a codebook of 128) and back. Stage 2: a decoder-only
transformer reads the caption's words and then writes the 49 image tokens one at a time, each from the
caption and the tokens before it (a causal mask); classifier-free guidance pushes each token further from what
the model would write for no caption at all. Several samples are drawn and re-ranked by the hub's digit
classifier and by measuring thickness and slant, the way DALL-E re-ranked its samples with CLIP."""


def load_model(directory=None):
    from hub import load_model as load

    from .model import SmallDallE

    return load(SmallDallE, directory or weights_dir(DEMO_ID))[0]


def caption_sample(model, texts, generator):
    """One image [28, 28] in [0, 1] for each caption, with the shipped sampling settings and no re-ranking
    (the side-by-side view's sampler)."""
    sampling = model.default_sampling()
    images, _ = model.sample(model.caption_ids(list(texts)), generator, sampling["temperature"], sampling["top_k"],
                             sampling["guidance"])
    return images.cpu().numpy()


@hookimpl
def register_demos(register):
    register(DemoSpec(
        id=DEMO_ID, title="Text to image", description=DESCRIPTION, group="Transformer",
        models=[ModelSpec("small DALL-E", load_model, weights_dir(DEMO_ID))], caption_sample=caption_sample,
        headline="digit match {digit_match:.1%}, FLD {fld:.1f}", thumbnail=lazy("hub.kit.captions", "caption_thumbnail"),
        **package_parts(__name__),
    ))
