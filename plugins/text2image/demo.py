"""The text-to-image demo: a caption in, re-ranked samples out; and the image tokenizer on its own."""
from __future__ import annotations

import numpy as np
import torch

from hub.kit import caption_box, captions, enlarge, grayscale_test_digits, integer, number, unit_images

from .train import rerank_scores

RANKING_COLUMNS = ["rank", *captions.CHECK_COLUMNS, "score"]


class Text2ImageDemo:
    def __init__(self, models, sampling: dict | None = None):
        """`sampling`: the defaults chosen after training (config.json), shown on the sliders."""
        self.models, self.sampling = models, {"temperature": 1.0, "top_k": None, "guidance": 1.0, **(sampling or {})}

    def generate(self, caption, count=8, temperature=None, top_k=None, seed=0, guidance=None):
        """Samples for the caption, best first by the re-ranking score, with the ranking and the top
        sample's image tokens."""
        count = integer(count, "Number of samples", 1, 64)
        seed = integer(seed, "Seed", 0, 2**31 - 1)
        with self.models.use() as model:
            defaults = model.default_sampling()
            temperature = number(defaults["temperature"] if temperature is None else temperature, "Temperature",
                                 0.05, 3.0)
            top_k = integer(defaults["top_k"] or 0 if top_k is None else top_k, "Top-k", 0, model.vqvae.codes) or None
            guidance = number(defaults["guidance"] if guidance is None else guidance, "Guidance scale", 0.0, 10.0)
            read = model.captions.read(caption)
            images, tokens = model.sample(model.caption_ids([caption] * count), torch.Generator().manual_seed(seed),
                                          temperature, top_k, guidance)
        images, tokens = images.cpu().numpy(), tokens.cpu().numpy()
        checked = captions.check_images(images, read)
        scores = rerank_scores(checked["probabilities"], read.digit, checked["met"], checked["named"])
        order = np.argsort(-scores, kind="stable")
        rows, gallery = [], []
        for rank, i in enumerate(order, 1):
            row = captions.check_row(checked, i, read)
            rows.append([rank, *row, round(float(scores[i]), 3)])
            gallery.append((enlarge(images[i], 4), f"#{rank}: a {row[0]}, {scores[i]:.2f}"))
        note = captions.reading_note(read, model.captions.known_words())
        if read.digit is None:
            note += " The score uses the evaluator's top probability."
        return gallery, rows, tokens[order[0]].tolist(), note

    def tokenize(self, index):
        """A test digit, its 7 x 7 image tokens and the VQ-VAE's reconstruction from those tokens."""
        x, y = grayscale_test_digits()
        index = integer(index, "Test image number", 0, len(x) - 1)
        image = unit_images(x[index:index + 1])
        with self.models.use() as model, torch.no_grad():
            model.eval()
            tokens = model.vqvae.encode(image.to(model.transformer.head.weight.device))
            reconstruction = model.vqvae.decode(tokens)[0].cpu().numpy()
        error = float(np.mean((reconstruction - image[0].numpy()) ** 2))
        note = (f"Test digit {index}, labelled {y[index]}: 784 pixels become {tokens.numel()} tokens "
                f"(each one of {model.vqvae.codes} codes); squared error of the reconstruction {error:.4f} a pixel.")
        return enlarge(image[0].numpy(), 8), tokens[0].cpu().tolist(), enlarge(reconstruction, 8), note


def build_ui(ctx) -> None:
    import gradio as gr

    from hub import read_config

    sampling = read_config(ctx.demo.models[0].weights_dir).get("sampling", {})
    demo = Text2ImageDemo(ctx.models, sampling)
    with gr.Tab("Generate"):
        with gr.Row():
            with gr.Column(scale=1):
                caption = caption_box("t2i-caption")
                count = gr.Slider(1, 64, value=8, step=1, label="Number of samples (re-ranked)")
                temperature = gr.Slider(0.1, 2.0, value=demo.sampling["temperature"], step=0.05, label="Temperature")
                top_k = gr.Slider(0, 128, value=demo.sampling["top_k"] or 0, step=1, label="Top-k (0: off)")
                guidance = gr.Slider(0, 6, value=demo.sampling["guidance"], step=0.25,
                                     label="Guidance scale (1: the caption alone; more: follow it harder)")
                seed = gr.Number(value=0, precision=0, label="Seed")
                go = gr.Button("Generate", variant="primary", elem_id="t2i-generate")
            with gr.Column(scale=2):
                note = gr.Markdown()
                gallery = gr.Gallery(label="Samples, best first (the digit the evaluator reads, the score)",
                                     columns=4, height="auto", elem_id="t2i-gallery")
                ranking = gr.Dataframe(headers=RANKING_COLUMNS, label="Re-ranking (evaluator and measurements)",
                                       wrap=True, column_widths=["8%", "13%", "13%", "17%", "21%", "14%", "14%"],
                                       elem_id="t2i-ranking")
                tokens = gr.Dataframe(label="Image tokens of the top sample (7 x 7 codes, row by row)")
        ctx.on(go.click, "generate", demo.generate, [caption, count, temperature, top_k, seed, guidance],
               [gallery, ranking, tokens, note])
    with gr.Tab("Image tokens"):
        gr.Markdown("Stage 1 alone: the VQ-VAE turns a digit into 49 tokens and draws it back from them. "
                    "Stage 2 only ever writes such token grids.")
        with gr.Row():
            index = gr.Number(value=0, precision=0, label="MNIST test image number (0-9999)")
            show = gr.Button("Tokenize", variant="primary")
        with gr.Row():
            original = gr.Image(label="Test digit", format="png")
            grid = gr.Dataframe(label="Its image tokens")
            reconstruction = gr.Image(label="Drawn back from the tokens", format="png")
        token_note = gr.Markdown()
        ctx.on(show.click, "tokenize", demo.tokenize, index, [original, grid, reconstruction, token_note])
