"""The first tab: what the hub is, and every demo grouped the way the lecture groups the models."""
from hub import DemoSpec, hookimpl

__version__ = "1.0.0"
GROUPS = {
    "Transformer": "Self-attention throughout: an encoder-decoder for translation, an encoder for images, "
                   "a decoder over image tokens for text to image.",
    "Explicit models": "They give log p(x), exactly or as a bound: score a digit, find an anomaly, complete a "
                       "half-drawn one.",
    "Implicit models": "They only draw samples, in one pass, and are judged by what they draw.",
    "Tools": "What the hub measures every model with, and every model side by side.",
}
INTRO = ("Every demo runs a model trained here on real data (MNIST, binarized MNIST, Multi30k); its "
         "**Model card** (under each demo) says how it was trained and what it measures on the test split. "
         "Pick a tab above.")


def overview(demos) -> str:
    """The page: the intro, then each group with its demos (title and the first sentence of each)."""
    parts = [INTRO]
    for group, about in GROUPS.items():
        members = [d for d in demos if d.group == group]
        if members:
            parts.append(f"### {group}\n{about}\n\n" + "\n".join(f"- **{d.title}**: {first_sentence(d.description)}"
                                                                 for d in members))
    others = [d for d in demos if d.group not in GROUPS and d.id != "overview"]
    if others:
        parts.append("### More\n" + "\n".join(f"- **{d.title}**: {first_sentence(d.description)}" for d in others))
    return "\n\n".join(parts)


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def build_ui(ctx) -> None:
    import gradio as gr

    gr.Markdown(overview([d for d in ctx.hub.demos.values() if d.trained]), elem_id="overview")


@hookimpl
def register_demos(register):
    register(DemoSpec(id="overview", title="Overview", description="", build_ui=build_ui, tab_order=-1))
