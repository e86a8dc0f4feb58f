"""The Compare tab: every trained demo that draws digits (DemoSpec.sample), side by side, scored by
the shared evaluator. It answers the lecture's closing question with the hub's own models."""
from hub import DemoSpec, hookimpl, lazy

__version__ = "1.0.0"
DESCRIPTION = ("Every model that draws digits, side by side: the same evaluator's distance to real digits, what "
               "each can say about the likelihood of a digit, and how fast it draws.")


@hookimpl
def register_demos(register):
    register(DemoSpec(id="compare", title="Compare", description=DESCRIPTION, group="Tools",
                      build_ui=lazy(f"{__name__}.tab", "build_ui"), tab_order=1,
                      thumbnail=lazy(f"{__name__}.tab", "thumbnail")))
