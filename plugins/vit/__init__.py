"""Vision Transformer classifying digits (trained here on MNIST), with attention rollout; or a
pretrained Hugging Face image classifier (e.g. an ImageNet ViT) in the same interface.

Registration only describes the demo; torch models are built on first use.
"""
from hub import DemoSpec, ModelSpec, hookimpl, lazy, package_parts, weights_dir
from hub.kit import specs_from_env

__version__ = "1.0.0"
DEMO_ID = "vit"
TRAINED = "ViT (trained here on MNIST)"
PRETRAINED_ENV_VAR = "DEMO_HUB_VIT_MODEL"        # a local directory or a model id in the HF cache
DESCRIPTION = """**Vision Transformer** (Dosovitskiy et al., 2021): the image is cut into 4 x 4-pixel patches,
each patch becomes a token, a learnable class token is put in front, and a Transformer encoder reads
them all; the class token's output is classified. Draw a digit, upload one or pick a test digit, and
see where the class token looks (attention rollout) and what each layer and head attends to."""


def load_classifier(directory=None):
    from hub import load_model

    from .classifier import DigitClassifier
    from .model import ViT

    model, config = load_model(ViT, directory or weights_dir(DEMO_ID))
    return DigitClassifier(model, config.get("calibration", {}).get("temperature", 1.0))


@hookimpl
def register_demos(register):
    register(DemoSpec(id=DEMO_ID, title="ViT", description=DESCRIPTION, group="Transformer",
                      models=model_specs(), **package_parts(__name__), headline="test accuracy {accuracy:.2%}",
                      thumbnail=lazy(f"{__name__}.demo", "thumbnail")))


load_pretrained = lazy(f"{__name__}.classifier", "PretrainedClassifier")      # PretrainedClassifier(source), imported on first use


def model_specs() -> list[ModelSpec]:
    """The ViT trained here, and the pretrained checkpoint named by $DEMO_HUB_VIT_MODEL if set."""
    return [ModelSpec(TRAINED, load_classifier, weights_dir(DEMO_ID)), *specs_from_env(PRETRAINED_ENV_VAR, load_pretrained)]
