"""The lecture as pages that compute: self-attention step by step with the lecture's own numbers, multi-head
attention, positional encoding, masking and decoding with the shipped translation model, counting parameters,
the ELBO of the shipped VAE and the GAN objective on a toy. At /lecture."""
from hub import DemoSpec, hookimpl, lazy

__version__ = "1.0.0"
DESCRIPTION = ("The lecture, computed: self-attention step by step with its own numbers (112 and 96 become 14 and "
               "12, then 0.88 and 0.12), multi-head attention, positional encoding, masking, counting parameters, "
               "the ELBO and the GAN objective. Edit any input and every step changes.")


@hookimpl
def register_demos(register):
    register(DemoSpec(id="lecture", title="Lecture", description=DESCRIPTION, group="Tools",
                      build_ui=lazy(f"{__name__}.page", "build_ui"), tab_order=-1,
                      thumbnail=lazy(f"{__name__}.page", "thumbnail")))
