"""The text-to-image GAN's tabs: a caption in, samples out with their checks; the same noise under other
words (style and content apart); a blend of two captions (GAN-INT's interpolation); and every
caption-to-image model of the hub on the same caption, side by side."""
from __future__ import annotations

import time

import numpy as np
import torch

from hub import InputError
from hub.kit import caption_box, captions, enlarge, integer, labelled_grid

RESTYLE_EXAMPLE = "a thin one\na thick one\na seven slanted to the left\na seven slanted to the right\na thick 0, upright"
MAX_LINES = 8
SAMPLE_COLUMNS = ["sample", *captions.CHECK_COLUMNS]
SIDE_COLUMNS = ["model", "digit match", "words met", "ms per image", "images"]


def caption_lines(text) -> list[str]:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    if not lines:
        raise InputError("Write at least one caption, one a line.")
    if len(lines) > MAX_LINES:
        raise InputError(f"{len(lines)} captions: give at most {MAX_LINES}, one a line.")
    return lines


def read_each(tokenizer, lines: list[str]) -> list:
    """Each line read, a bad one named by its number."""
    reads = []
    for number, line in enumerate(lines, 1):
        try:
            reads.append(tokenizer.read(line))
        except InputError as error:
            raise InputError(f"Caption {number} ({line[:40]!r}): {error}") from None
    return reads


def checked_gallery(images: np.ndarray, read) -> tuple[list, list, dict]:
    """Gallery items and check rows of images drawn for one caption, and the checks themselves."""
    checked = captions.check_images(images, read)
    rows = [[i + 1, *captions.check_row(checked, i, read)] for i in range(len(images))]
    gallery = [(enlarge(image, 4), f"#{i + 1}: reads {row[1]}, {row[-1]}") for i, (image, row) in
               enumerate(zip(images, rows))]
    return gallery, rows, checked


class TextToImageGANDemo:
    def __init__(self, models, hub=None):
        self.models, self.hub = models, hub

    def generate(self, caption, count=16, seed=0):
        """Samples for the caption, each with what the evaluator reads and what is measured."""
        count, seed = integer(count, "Number of samples", 1, 64), integer(seed, "Seed", 0, 2**31 - 1)
        with self.models.use() as model:
            read = model.tokenizer.read(caption)
            started = time.perf_counter()
            images = model.sample([caption] * count, torch.Generator().manual_seed(seed)).cpu().numpy()
            milliseconds = 1000 * (time.perf_counter() - started) / count
        gallery, rows, _ = checked_gallery(images, read)
        note = captions.reading_note(read, model.tokenizer.known_words())
        return gallery, rows, note + f"\n\nOne forward pass of G: {milliseconds:.2f} ms an image."

    def restyle(self, text, count=8, seed=0):
        """The same noise z (a column) under each caption (a row): what the words change and what z keeps."""
        count, seed = integer(count, "Number of noise vectors", 1, 12), integer(seed, "Seed", 0, 2**31 - 1)
        lines = caption_lines(text)
        with self.models.use() as model:
            read_each(model.tokenizer, lines)
            z = model.noise(count, torch.Generator().manual_seed(seed))
            phi = model.embed(lines)
            images = model.draw(phi.repeat_interleave(count, 0), z.repeat(len(lines), 1)).cpu().numpy()
        return labelled_grid(images, count, lines, [f"z{i + 1}" for i in range(count)], "caption",
                             "the same noise z in every row")

    def interpolate(self, first, second, steps=7, seed=0):
        """G at fixed noise for (1 - a) phi(first) + a phi(second), a from 0 to 1: GAN-INT's blends."""
        steps, seed = integer(steps, "Steps", 2, 11), integer(seed, "Seed", 0, 2**31 - 1)
        with self.models.use() as model:
            read_each(model.tokenizer, [first, second])
            phi_first, phi_second = model.embed([first, second])
            alphas = torch.linspace(0, 1, steps)
            phi = (1 - alphas[:, None]) * phi_first + alphas[:, None] * phi_second
            rows = 4
            z = model.noise(rows, torch.Generator().manual_seed(seed))
            images = model.draw(phi.repeat(rows, 1), z.repeat_interleave(steps, 0)).cpu().numpy()
        return labelled_grid(images, steps, [f"z{i + 1}" for i in range(rows)], [f"{a:.2f}" for a in alphas.tolist()],
                             "noise", f"a: from '{first}' (0) to '{second}' (1)")

    def caption_models(self) -> list:
        return [] if self.hub is None else [d for d in self.hub.demos.values() if d.caption_sample and d.trained]

    def side_by_side(self, caption, count=8, seed=0):
        """Every caption-to-image model of the hub on the same caption and seed: a gallery each, the
        checks of every image, and the milliseconds an image."""
        count, seed = integer(count, "Number of samples", 1, 16), integer(seed, "Seed", 0, 2**31 - 1)
        read = captions.CaptionTokenizer().read(caption)
        galleries, summary, rows = [], [], []
        for demo in self.caption_models():
            with self.hub.handle(demo.id).use(demo.models[0].name) as model:
                started = time.perf_counter()
                images = np.asarray(demo.caption_sample(model, [caption] * count, torch.Generator().manual_seed(seed)))
                milliseconds = 1000 * (time.perf_counter() - started) / count
            gallery, checks, checked = checked_gallery(images, read)
            galleries.append(gallery)
            rows += [[demo.title, *row] for row in checks]
            matched = np.mean(checked["probabilities"].argmax(1) == read.digit) if read.digit is not None else None
            words = f"{checked['met'].sum() / (checked['named'] * count):.0%}" if checked["named"] else "-"
            summary.append([demo.title, "-" if matched is None else f"{matched:.0%}", words, round(milliseconds, 2),
                            count])
        return (*galleries, summary, rows, captions.reading_note(read, captions.CaptionTokenizer().known_words()))


def build_ui(ctx) -> None:
    import gradio as gr

    demo = TextToImageGANDemo(ctx.models, ctx.hub)
    with gr.Tab("Generate"):
        with gr.Row():
            with gr.Column(scale=1):
                caption = caption_box("t2ig-caption")
                count = gr.Slider(1, 64, value=16, step=1, label="Number of samples")
                seed = gr.Number(value=0, precision=0, label="Seed")
                go = gr.Button("Generate", variant="primary", elem_id="t2ig-generate")
            with gr.Column(scale=2):
                note = gr.Markdown()
                gallery = gr.Gallery(label="Samples (what the evaluator reads, the words met)", columns=8,
                                     height="auto", elem_id="t2ig-gallery")
                checks = gr.Dataframe(headers=SAMPLE_COLUMNS, label="Each sample, checked", wrap=True)
        ctx.on(go.click, "generate", demo.generate, [caption, count, seed], [gallery, checks, note])
    with gr.Tab("Keep z, change the words"):
        gr.Markdown("The paper's split of style and content: the noise z fixes how a digit is drawn, the caption "
                    "what is drawn. Each column keeps one z; each row is a caption.")
        with gr.Row():
            lines = gr.Textbox(value=RESTYLE_EXAMPLE, lines=5, label=f"Captions, one a line (at most {MAX_LINES})")
            with gr.Column():
                z_count = gr.Slider(1, 12, value=8, step=1, label="Noise vectors")
                z_seed = gr.Number(value=0, precision=0, label="Seed")
                restyle = gr.Button("Draw", variant="primary")
        grid = gr.Image(label="Rows: captions; columns: the same z", format="png")
        ctx.on(restyle.click, "restyle", demo.restyle, [lines, z_count, z_seed], grid)
        gr.Markdown("GAN-INT trained G on blends of two captions' vectors as well; here are such blends.")
        with gr.Row():
            first = gr.Textbox(value="a thin one upright", label="From")
            second = gr.Textbox(value="a thick seven slanted to the right", label="To")
            steps = gr.Slider(2, 11, value=7, step=1, label="Steps")
            blend = gr.Button("Blend")
        blended = gr.Image(label="Interpolated caption vectors at fixed noise", format="png")
        ctx.on(blend.click, "interpolate", demo.interpolate, [first, second, steps, z_seed], blended)
    with gr.Tab("Same caption, both models"):
        models = demo.caption_models()
        gr.Markdown("Every caption-to-image model of the hub on the same caption and seed, each sample checked the "
                    "same way: " + ", ".join(f"**{m.title}**" for m in models) + ". No re-ranking.")
        with gr.Row():
            side_caption = gr.Textbox(value=captions.EXAMPLE_CAPTIONS[0], label="Caption", elem_id="t2ig-side-caption")
            side_count = gr.Slider(1, 16, value=8, step=1, label="Samples a model")
            side_seed = gr.Number(value=0, precision=0, label="Seed")
            compare = gr.Button("Draw with every model", variant="primary", elem_id="t2ig-side-go")
        side_note = gr.Markdown()
        galleries = [gr.Gallery(label=m.title, columns=8, height="auto", elem_id=f"t2ig-side-{m.id}") for m in models]
        summary = gr.Dataframe(headers=SIDE_COLUMNS, label="Per model", elem_id="t2ig-side-summary")
        rows = gr.Dataframe(headers=["model", *SAMPLE_COLUMNS], label="Each image, checked", wrap=True)
        ctx.on(compare.click, "side_by_side", demo.side_by_side, [side_caption, side_count, side_seed],
               [*galleries, summary, rows, side_note])
