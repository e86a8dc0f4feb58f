"""English-to-German translation with the lecture's encoder-decoder Transformer, trained on
Multi30k, with its attention maps; or a pretrained Hugging Face seq2seq checkpoint (MarianMT) in
the same interface.

Registration only describes the demo; torch models are built on first use.
"""
from hub import DemoSpec, ModelSpec, hookimpl, lazy, package_parts, weights_dir
from hub.kit import specs_from_env

__version__ = "1.0.0"
DEMO_ID = "translation"
TRAINED = "transformer (trained here)"
PRETRAINED_ENV_VAR = "DEMO_HUB_TRANSLATION_MODEL"        # a local directory or a model id in the HF cache
DESCRIPTION = """**Transformer** (Vaswani et al., 2017) translating English to German: an encoder of
self-attention layers reads the sentence, a decoder writes the translation one subword at a time,
attending to its own output so far (masked) and to the encoder's output (cross-attention). Trained
here on Multi30k (image captions), so it knows that domain best."""


def load_translator(directory=None):
    from hub import load_model

    from .model import Transformer
    from .tokenizer import load
    from .translator import Translator

    directory = directory or weights_dir(DEMO_ID)
    return Translator(load_model(Transformer, directory)[0], load(directory))


load_pretrained = lazy(f"{__name__}.pretrained", "PretrainedTranslator")      # PretrainedTranslator(source), imported on first use


def model_specs() -> list[ModelSpec]:
    """The Transformer trained here, and the pretrained checkpoint named by $DEMO_HUB_TRANSLATION_MODEL if set."""
    return [ModelSpec(TRAINED, load_translator, weights_dir(DEMO_ID)), *specs_from_env(PRETRAINED_ENV_VAR, load_pretrained)]


def decoding_steps(translator, text: str, top: int = 5):
    """The demo's `decoding_steps` (the trained Transformer's; a pretrained checkpoint has none)."""
    from hub import InputError

    if not hasattr(translator, "decoding_steps"):
        raise InputError("Step-by-step decoding needs the Transformer trained here, not a pretrained checkpoint.")
    return translator.decoding_steps(text, top)


@hookimpl
def register_demos(register):
    register(DemoSpec(
        id=DEMO_ID, title="Translation", description=DESCRIPTION, group="Transformer",
        models=model_specs(), **package_parts(__name__), headline="BLEU {beam[bleu]:.1f} (Multi30k test 2016)",
        thumbnail=lazy(f"{__name__}.demo", "thumbnail"), decoding_steps=decoding_steps,
    ))
