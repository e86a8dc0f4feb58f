"""Puzzle-GAN (Lee et al. 2018): a whole digit, and where each piece belongs, from a few key patches given
without their places.

Registration only describes the demo; torch models are built on first use.
"""
from hub import DemoSpec, ModelSpec, hookimpl, lazy, load_model, package_parts, weights_dir

__version__ = "0.1.0"
DEMO_ID = "puzzlegan"
DESCRIPTION = """**Puzzle-GAN** (Lee et al., 2018, "Unsupervised Holistic Image Generation from Key Local Patches"):
give it three small patches of a digit, in any order and without saying where they came from, and it
draws the whole digit and a mask for each patch saying where it belongs. Nobody labels the parts: while
training, the patches are cut at random and their places are known; the discriminator learns that real
pieces in the wrong places make a fake."""


def load(directory=None):
    from .puzzle import PuzzleGAN

    return load_model(PuzzleGAN, directory or weights_dir(DEMO_ID))[0]


@hookimpl
def register_demos(register):
    register(DemoSpec(id=DEMO_ID, title="Puzzle-GAN", description=DESCRIPTION, group="Implicit models",
                      models=[ModelSpec(DEMO_ID, load, weights_dir(DEMO_ID))], **package_parts(__name__),
                      thumbnail=lazy(f"{__name__}.demo", "thumbnail"),
                      headline="digit read {digit_accuracy:.1%} (pasted patches {pasted_patches_accuracy:.1%})"))
