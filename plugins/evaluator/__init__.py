"""The shared evaluator of generated digits as a demo of its own: a LeNet-style classifier whose
features give the Frechet LeNet Distance (FLD) every generator in the hub is judged by, and whose
tab classifies a drawn digit. The measuring code itself is the kit's (`hub.kit.evaluator`)."""
from hub import DemoSpec, ModelSpec, hookimpl, lazy, package_parts, weights_dir

__version__ = "1.0.0"
DEMO_ID = "evaluator"
DESCRIPTION = ("A small LeNet-style CNN trained on grayscale MNIST. Its penultimate features give a Frechet "
               "distance between generated and real test images (FID with this net in place of Inception: a "
               "\"Frechet LeNet Distance\", FLD), its predictions give class coverage (the share of each digit "
               "among samples) and mean confidence. The floor is real against real: the test split against "
               "10,000 training images the classifier never trained on.")


def load():
    from hub.kit import evaluator

    return evaluator.load_fresh()


@hookimpl
def register_demos(register):
    register(DemoSpec(id=DEMO_ID, title="Evaluator", description=DESCRIPTION, group="Tools",
                      models=[ModelSpec(DEMO_ID, load, weights_dir(DEMO_ID))], **package_parts(__name__),
                      headline="test accuracy {accuracy:.2%}", thumbnail=lazy(f"{__name__}.demo", "thumbnail")))
