"""The translation demo: translate (greedy or beam search) and see the subword tokens; draw the
encoder's self-attention and the decoder's cross-attention for a layer and head, or their average."""
from __future__ import annotations

import gradio as gr
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from hub import Batched, InputError
from hub.kit import integer, one_of  # noqa: E402

from .translator import MAX_SOURCE_TOKENS  # noqa: E402

MAX_CHARS = 2000               # longer text is cut before tokenizing (the model reads 120 subwords anyway)
AVERAGE = "average"
METHODS = {"Beam search": "beam", "Greedy": "greedy"}
KINDS = {"Decoder cross-attention (German step -> English token)": "cross",
         "Encoder self-attention (English -> English)": "encoder"}
LECTURE_EXAMPLE = "The animal didn't cross the street because it was too tired."
EXAMPLES = [LECTURE_EXAMPLE,
            "A group of men are loading cotton onto a truck",          # the first val sentences
            "A man sleeping in a green room on a couch.",
            "A boy wearing headphones sits on a woman's shoulders.",
            "Two men setting up a blue ice fishing hut on an iced over lake",
            "A brown dog is running after the black dog.",
            "A young child is standing alone on some jagged rocks."]


def clean_text(text) -> tuple[str, list[str]]:
    """The sentence to translate and notices about what was changed; an InputError if there is none."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("Type an English sentence to translate.")
    notices = []
    text = " ".join(text.split())
    if len(text) > MAX_CHARS:
        notices.append(f"The text had {len(text):,} characters; only the first {MAX_CHARS:,} were read.")
        text = text[:MAX_CHARS]
    return text, notices


def reading_notices(translator, text: str) -> list[str]:
    notices = []
    unknown = translator.unknown_characters(text)
    if unknown:
        notices.append("Not in the model's vocabulary, so read as <unk>: " + " ".join(unknown[:20]) +
                       (" ..." if len(unknown) > 20 else "") + ". It was trained on English image captions.")
    count = translator.source_token_count(text)
    if count >= MAX_SOURCE_TOKENS:
        notices.append(f"The sentence is {count} subwords long; only the first {MAX_SOURCE_TOKENS - 1} were translated.")
    return notices


def beam_width(method, beam_size) -> int:
    if method not in METHODS and method not in METHODS.values():
        raise InputError(f"Unknown decoding method {method!r}: choose {' or '.join(METHODS)}.")
    return 1 if METHODS.get(method, method) == "greedy" else integer(beam_size, "Beam size", 1, 12)


def choice(value, name: str, count: int) -> int | None:
    """None for the average, else a 0-based index of a layer or head numbered from 1 in the UI."""
    if value in (None, AVERAGE):
        return None
    return integer(value, name, 1, count) - 1


def heat_map(weights: torch.Tensor, rows: list[str], columns: list[str], title: str):
    figure, axes = plt.subplots(figsize=(max(4.0, 0.45 * len(columns) + 2), max(3.0, 0.4 * len(rows) + 1.5)))
    axes.imshow(weights.numpy(), cmap="viridis", vmin=0, aspect="auto")
    axes.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=9)
    axes.set_yticks(range(len(rows)), rows, fontsize=9)
    axes.set_xlabel("attends to (keys)")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    plt.close(figure)
    return figure


class TranslationDemo:
    def __init__(self, models, model_names: list[str]):
        self.models, self.model_names = models, model_names
        # (text, method, beam size, model) -> (German, its subwords, notes)
        self.translate = Batched(self.translate_request, self.translate_batch, self.translation_shown,
                                 key=lambda r: (r["model"], r["beam"]))

    def translate_request(self, text, method, beam_size, model_label=None) -> dict:
        text, notices = clean_text(text)
        return {"text": text, "notices": notices, "beam": beam_width(method, beam_size),
                "model": one_of(model_label, "model", self.model_names)}

    def translate_batch(self, requests: list[dict]) -> list[dict]:
        """Every request's sentence in one beam search (they share the model and the beam width)."""
        with self.models.use(requests[0]["model"]) as translator:
            outputs = translator.translate([r["text"] for r in requests], beam=requests[0]["beam"])
            return [{"output": output, "tokens": translator.tokens(r["text"]),
                     "notices": r["notices"] + reading_notices(translator, r["text"])}
                    for r, output in zip(requests, outputs)]

    @staticmethod
    def translation_shown(result: dict) -> tuple[str, str, str]:
        tokens = result["tokens"]
        return (result["output"], f"{len(tokens)} subwords: {' | '.join(tokens)}",
                "\n".join(f"- {n}" for n in result["notices"]))

    def attention(self, text, method, beam_size, kind, layer, head, model_label=None):
        text, notices = clean_text(text)
        beam = beam_width(method, beam_size)
        kind = KINDS.get(kind, kind)
        if kind not in KINDS.values():
            raise InputError(f"Unknown attention {kind!r}: choose {' or '.join(KINDS)}.")
        with self.models.use(one_of(model_label, "model", self.model_names)) as translator:
            notices += reading_notices(translator, text)
            output, maps = translator.attention(text, beam)
        layers = maps.encoder if kind == "encoder" else maps.cross
        if not layers:
            raise InputError("This model does not return its attention weights.")
        layer_index, head_index = choice(layer, "Layer", len(layers)), choice(head, "Head", layers[0].size(0))
        stack = torch.stack(layers) if layer_index is None else layers[layer_index][None]    # [layers, heads, q, k]
        weights = stack.mean(0)
        weights = weights.mean(0) if head_index is None else weights[head_index]
        rows = maps.source_tokens if kind == "encoder" else maps.target_tokens
        where = (f"layer {layer_index + 1}" if layer_index is not None else "average of layers") + ", " + \
                (f"head {head_index + 1}" if head_index is not None else "average of heads")
        title = f"{'Encoder self' if kind == 'encoder' else 'Cross'}-attention, {where}"
        figure = heat_map(weights.float().cpu(), rows, maps.source_tokens, title)
        return figure, output, "\n".join(f"- {n}" for n in notices)


def thumbnail(ctx):
    """The gallery's picture: the first model's cross-attention over the lecture's example sentence."""
    from hub.kit import figure_image

    names = [spec.name for spec in ctx.demo.models]
    figure = TranslationDemo(ctx.models, names).attention(LECTURE_EXAMPLE, "Greedy", 1, next(iter(KINDS)), None, None,
                                                          names[0])[0]
    return figure_image(figure)


def build_ui(ctx) -> None:
    names = [spec.name for spec in ctx.demo.models]
    demo = TranslationDemo(ctx.models, names)
    with gr.Row():
        text = gr.Textbox(value=LECTURE_EXAMPLE, label="English", lines=2, max_length=20_000, elem_id="translation-input")
        model = gr.Radio(names, value=names[0], label="Model", visible=len(names) > 1)
    with gr.Row():
        method = gr.Radio(list(METHODS), value="Beam search", label="Decoding")
        beam_size = gr.Slider(1, 12, value=5, step=1, label="Beam size")
    gr.Examples([[e] for e in EXAMPLES], inputs=[text], label="Examples (the lecture's sentence, then Multi30k val)")
    with gr.Tab("Translate"):
        go = gr.Button("Translate", variant="primary", elem_id="translation-go")
        output = gr.Textbox(label="German", elem_id="translation-output")
        tokens = gr.Markdown()
        notes = gr.Markdown()
        ctx.on(go.click, "translate", demo.translate, [text, method, beam_size, model], [output, tokens, notes])
    with gr.Tab("Attention maps"):
        with gr.Row():
            kind = gr.Radio(list(KINDS), value=list(KINDS)[0], label="Attention")
            layer = gr.Dropdown([AVERAGE, *map(str, range(1, 13))], value=AVERAGE, label="Layer")
            head = gr.Dropdown([AVERAGE, *map(str, range(1, 17))], value=AVERAGE, label="Head")
        show = gr.Button("Show attention", variant="primary")
        plot = gr.Plot(label="Attention weights (rows: queries, columns: keys)")
        translated = gr.Textbox(label="Translation the map belongs to")
        map_notes = gr.Markdown()
        ctx.on(show.click, "attention", demo.attention, [text, method, beam_size, kind, layer, head, model],
               [plot, translated, map_notes])
