"""Progressive GAN (Karras et al. 2018): G and D grow together from 4 x 4 to 32 x 32, each new block faded
in; shipped with the same nets trained at 32 x 32 from the start for as long, to show what growing buys.

Registration only describes the demo; torch models are built on first use.
"""
from hub import DemoSpec, ModelSpec, hookimpl, lazy, load_model, package_parts, weights_dir

__version__ = "0.1.0"
DEMO_ID = "progan"
DESCRIPTION = """**Progressive GAN** (Karras et al., 2018): the generator and the discriminator start at 4 x 4 and
grow together, a block at a time, to 8 x 8, 16 x 16 and 32 x 32. Each new block is faded in: its output
is blended with the upsampled output of the old one, alpha going from 0 to 1, so the nets that already
work are never shocked by a fresh layer. Coarse structure is learnt first, where it is cheap, and the
detail last."""


def load(directory=None):
    from .progan import TrainedGenerators

    return load_model(TrainedGenerators, directory or weights_dir(DEMO_ID))[0]


@hookimpl
def register_demos(register):
    register(DemoSpec(id=DEMO_ID, title="Progressive GAN", description=DESCRIPTION, group="Implicit models",
                      models=[ModelSpec(DEMO_ID, load, weights_dir(DEMO_ID))], **package_parts(__name__),
                      sample=lazy(f"{__name__}.progan", "compare_sample"), likelihood="none",
                      headline="FLD {fld:.1f} (without growing {fld_without_growing:.1f})"))
