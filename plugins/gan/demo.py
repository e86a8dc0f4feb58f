"""The GAN demos' actions (plain functions of a model handle) and their Gradio interface."""
from __future__ import annotations

import numpy as np
import torch

from hub import Batched, InputError
from hub.kit import enlarge, integer, labelled_grid, number, tile, to_unit

from . import paper
from .infogan import DIGITS

ANY = "any"


def grid(images: torch.Tensor, columns: int) -> np.ndarray:
    return enlarge(tile(images.cpu().numpy(), columns), 3)


def digit_choice(value) -> int | None:
    if value in (None, ANY):
        return None
    if str(value) not in [str(d) for d in range(DIGITS)]:
        raise InputError(f"Unknown digit {value!r}: choose 0-9 or '{ANY}'.")
    return int(value)


class GANDemo:
    def __init__(self, models, digit_of_category: list[int] | None = None):
        """`digit_of_category`: InfoGAN's category-to-digit matching measured at evaluation, if any."""
        self.models, self.digit_of_category = models, digit_of_category
        # (seed, count, digit, category, c2, c3, fix codes) -> a grid of digits
        self.generate = Batched(self.generate_request, self.generate_batch, self.generate_grid)

    def category_choices(self) -> list[tuple[str, str]]:
        """The c1 dropdown: each value labelled with the digit it was matched to."""
        return [(ANY, ANY)] + [(f"{c} (matched to {d})" if self.digit_of_category else str(c), str(c))
                               for c, d in zip(range(DIGITS), self.digit_of_category or range(DIGITS))]

    def codes(self, n: int, digit=ANY, category=ANY, c2=0.0, c3=0.0, fixed_codes=False) -> dict:
        """The conditioning of n samples: a digit (cGAN) or InfoGAN's codes."""
        digit, category = digit_choice(digit), digit_choice(category)
        codes = {}
        if digit is not None:
            codes["digits"] = torch.full((n,), digit)
        if category is not None:
            codes["category"] = torch.full((n,), category)
        if fixed_codes:
            codes["codes"] = torch.tensor([[number(c2, "Code c2", -2, 2), number(c3, "Code c3", -2, 2)]]).repeat(n, 1)
        return codes

    def generate_request(self, seed, count, digit=ANY, category=ANY, c2=0.0, c3=0.0, fix_codes=False) -> tuple:
        seed = integer(seed, "Seed", 0, 2**31 - 1)
        count = integer(count, "Number of digits", 1, 64)
        return seed, count, self.codes(count, digit, category, c2, c3, bool(fix_codes))

    def generate_batch(self, requests: list[tuple]) -> list[torch.Tensor]:
        """Every request's digits in one pass of G; each latent drawn from its own seed, as if alone."""
        with self.models.use() as model, torch.no_grad():
            latent = torch.cat([model.latent(count, torch.Generator().manual_seed(seed), **codes)
                                for seed, count, codes in requests])
            model.eval()
            images = to_unit(model.generate(latent)[:, 0]).cpu()
        return list(images.split([count for _, count, _ in requests]))

    @staticmethod
    def generate_grid(images: torch.Tensor) -> np.ndarray:
        return grid(images, min(len(images), 8))

    def interpolate(self, seed_a, seed_b, steps, digit=ANY, category=ANY):
        """Frames along the straight line between the z of two seeds (the codes held fixed)."""
        seed_a, seed_b = integer(seed_a, "Seed A", 0, 2**31 - 1), integer(seed_b, "Seed B", 0, 2**31 - 1)
        steps = integer(steps, "Frames", 2, 16)
        with self.models.use() as model, torch.no_grad():
            ends = [model.latent(1, torch.Generator().manual_seed(s), **self.codes(1, digit, category))
                    for s in (seed_a, seed_b)]
            t = torch.linspace(0, 1, steps, device=ends[0].device)[:, None]
            latent = (1 - t) * ends[0] + t * ends[1]
            model.eval()
            images = to_unit(model.generate(latent)[:, 0])
        return grid(images, steps)

    def code_sweep(self, seed, code):
        """InfoGAN: rows are the ten categories (in the order of their matched digits), columns one
        continuous code from -2 to 2 (trained on -1 to 1: the outer columns extrapolate), one z."""
        seed = integer(seed, "Seed", 0, 2**31 - 1)
        if code not in ("c2", "c3"):
            raise InputError("Choose the continuous code to vary: c2 or c3.")
        values = torch.linspace(-2, 2, 9)
        rows = torch.arange(DIGITS) if self.digit_of_category is None else torch.tensor(self.digit_of_category).argsort()
        category = rows.repeat_interleave(len(values))                   # rows in the order of their digits
        codes = torch.zeros(len(category), 2)
        codes[:, 0 if code == "c2" else 1] = values.repeat(DIGITS)
        with self.models.use() as model, torch.no_grad():
            z = model.latent(1, torch.Generator().manual_seed(seed))[:, :model.z_dim].repeat(len(category), 1)
            latent = torch.cat([z, torch.nn.functional.one_hot(category, DIGITS).float().to(z), codes.to(z)], 1)
            model.eval()
            images = to_unit(model.generate(latent)[:, 0])
        matched = self.digit_of_category is not None
        rows_shown = [f"{k} -> {self.digit_of_category[k]}" if matched else str(k) for k in rows.tolist()]
        return labelled_grid(images.cpu().numpy(), len(values), rows_shown, [f"{v:+.1f}" for v in values.tolist()],
                             row_title="category c1 -> its matched digit" if matched else "category c1",
                             column_title=f"{code} (trained on -1 to +1; the outer columns extrapolate)")


def build_ui(ctx) -> None:
    import gradio as gr

    from hub import read_config

    kind, controls = ctx.demo.id, paper(ctx.demo.id).CONTROLS
    metrics = read_config(ctx.demo.models[0].weights_dir).get("metrics", {})
    demo = GANDemo(ctx.models, metrics.get("digit_of_category"))
    choices = [ANY] + [str(d) for d in range(DIGITS)]
    with gr.Tab("Generate"):
        with gr.Row():
            with gr.Column(scale=1):
                seed = gr.Number(value=0, precision=0, label="Seed")
                count = gr.Slider(1, 64, value=32, step=1, label="Number of digits")
                digit = gr.Dropdown(choices, value="7" if "digit" in controls else ANY, label="Digit (the condition y)",
                                    visible="digit" in controls)
                category = gr.Dropdown(demo.category_choices(), value=ANY, label="Category code c1",
                                       visible="category" in controls)
                fix = gr.Checkbox(value=False, label="Fix the continuous codes", visible="category" in controls)
                c2 = gr.Slider(-2, 2, value=0, step=0.1, label="Continuous code c2", visible="category" in controls)
                c3 = gr.Slider(-2, 2, value=0, step=0.1, label="Continuous code c3", visible="category" in controls)
                go = gr.Button("Generate", variant="primary")
                gr.Examples([[0, 32], [1, 64], [7, 8]], inputs=[seed, count])
            samples = gr.Image(label="Samples", format="png", elem_id=f"{kind}-samples")
        ctx.on(go.click, "generate", demo.generate, [seed, count, digit, category, c2, c3, fix], samples)

    with gr.Tab("Interpolate"):
        gr.Markdown("A straight line in z between two seeds: a good generator changes smoothly along it.")
        with gr.Row():
            seed_a = gr.Number(value=0, precision=0, label="Seed A")
            seed_b = gr.Number(value=1, precision=0, label="Seed B")
            steps = gr.Slider(2, 16, value=10, step=1, label="Frames")
        strip = gr.Image(label="From A to B", format="png")
        go_line = gr.Button("Interpolate", variant="primary")
        ctx.on(go_line.click, "interpolate", demo.interpolate, [seed_a, seed_b, steps, digit, category], strip)

    if "codes" in controls:
        with gr.Tab("What the codes do"):
            gr.Markdown("Rows: the ten values of the category c1, in the order of the digit each was matched "
                        "to. Columns: one continuous code from -2 to 2 "
                        "(trained on -1 to 1), everything else fixed. Which digit trait does each code control?")
            with gr.Row():
                sweep_seed = gr.Number(value=0, precision=0, label="Seed (the shared z)")
                which = gr.Radio(["c2", "c3"], value="c2", label="Code to vary")
                go_sweep = gr.Button("Sweep", variant="primary")
            sweep = gr.Image(label="Code sweep", format="png")
            ctx.on(go_sweep.click, "code_sweep", demo.code_sweep, [sweep_seed, which], sweep)
