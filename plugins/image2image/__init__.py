"""Image-to-image GANs: CycleGAN between MNIST and USPS digits, trained on unpaired images, and StarGAN,
one generator for several domains at once (stroke thickness, slant, and the MNIST or USPS style).

Registration only describes the demos; torch models are built on first use.
"""
from hub import DemoSpec, ModelSpec, hookimpl, lazy, load_model, weights_dir

__version__ = "0.1.0"
CYCLEGAN = "cyclegan"
CYCLEGAN_DESCRIPTION = """**CycleGAN** (Zhu et al., 2017): two generators, G: MNIST -> USPS and F: USPS -> MNIST,
each judged by a discriminator of its target style, and trained on **unpaired** digits: no MNIST digit
is ever shown with a USPS counterpart. What ties a digit to its translation is the cycle: F(G(x)) must
give x back, and G(F(y)) must give y back (the paper's horse that must become a zebra and then the same
horse again). USPS digits fill their frame, MNIST digits sit in a 20 x 20 box: the style to learn is
the layout as well as the stroke."""
STARGAN = "stargan"
STARGAN_DESCRIPTION = """**StarGAN** (Choi et al., 2018): one generator G(x, c) takes a digit into any target domain c
(thin or thick strokes; slanted left, upright or right; written in the MNIST or the USPS style) where
CycleGAN would need a pair of generators for every pair of domains. One discriminator says whether a
digit is real (D_src) and which domain it belongs to (D_cls). The stroke labels come from MNIST, the
style labels from both data sets; a mask vector at the end of c says which of the two label sets a
code speaks for, so the two data sets train one model."""


def load_cyclegan(directory=None):
    from .cyclegan import CycleGAN

    return load_model(CycleGAN, directory or weights_dir(CYCLEGAN))[0]


def load_stargan(directory=None):
    from .stargan import StarGAN

    return load_model(StarGAN, directory or weights_dir(STARGAN))[0]


@hookimpl
def register_demos(register):
    register(DemoSpec(id=CYCLEGAN, title="CycleGAN", description=CYCLEGAN_DESCRIPTION, group="Implicit models",
                      build_ui=lazy(f"{__name__}.cyclegan_demo", "build_ui"),
                      models=[ModelSpec(CYCLEGAN, load_cyclegan, weights_dir(CYCLEGAN))],
                      train=lazy(f"{__name__}.train_cyclegan", "train"),
                      evaluate=lazy(f"{__name__}.train_cyclegan", "evaluate"),
                      thumbnail=lazy(f"{__name__}.cyclegan_demo", "thumbnail"),
                      headline="MNIST→USPS adaptation {adaptation_accuracy_mnist_to_usps:.1%} "
                               "(source only {source_only_accuracy_mnist_to_usps:.1%})"))
    register(DemoSpec(id=STARGAN, title="StarGAN", description=STARGAN_DESCRIPTION, group="Implicit models",
                      build_ui=lazy(f"{__name__}.stargan_demo", "build_ui"),
                      models=[ModelSpec(STARGAN, load_stargan, weights_dir(STARGAN))],
                      train=lazy(f"{__name__}.train_stargan", "train"),
                      evaluate=lazy(f"{__name__}.train_stargan", "evaluate"),
                      thumbnail=lazy(f"{__name__}.stargan_demo", "thumbnail"),
                      headline="digit kept {digit_kept:.1%}, style reached {style_attainment:.1%}"))
