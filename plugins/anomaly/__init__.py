"""The Anomaly tab: every explicit model's verdict on one image under three likelihood scores, beside the
benchmark's AUROC table; the implicit models' row says what they cannot do."""
from hub import DemoSpec, hookimpl, lazy

__version__ = "1.0.0"
DESCRIPTION = ("Is this image a digit? Every model with a likelihood answers under three scores, raw -log p(x) "
               "among them, the one a blank page fools; the GANs can only say what their discriminator thinks.")


@hookimpl
def register_demos(register):
    register(DemoSpec(id="anomaly", title="Anomaly", description=DESCRIPTION, group="Tools",
                      build_ui=lazy(f"{__name__}.tab", "build_ui"), tab_order=1,
                      thumbnail=lazy(f"{__name__}.tab", "thumbnail")))
