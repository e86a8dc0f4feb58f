"""The AAE demo: pick the prior, see the test digits' codes over it, click the map to decode a point."""
import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw

from hub import InputError
from hub.kit import enlarge, integer, number, test_digits, tile

from .model import sample_prior

EXTENT = 7.0                 # the map shows z in [-EXTENT, EXTENT]^2
SIZE = 420                   # pixels
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
ANY = "any"
LABELS = {"mixture": "Mixture of 10 Gaussians", "swiss_roll": "Swiss roll"}


def to_pixel(z: np.ndarray) -> np.ndarray:
    return np.stack([(z[:, 0] + EXTENT) / (2 * EXTENT) * SIZE, (EXTENT - z[:, 1]) / (2 * EXTENT) * SIZE], 1)


def to_code(x: float, y: float) -> tuple[float, float]:
    return -EXTENT + x / SIZE * 2 * EXTENT, EXTENT - y / SIZE * 2 * EXTENT


def prior_name(label) -> str:
    for prior, text in LABELS.items():
        if label in (prior, text):
            return prior
    raise InputError(f"Unknown prior {label!r}: choose one of {', '.join(LABELS.values())}.")


class AAEDemo:
    def __init__(self, models):
        self.models = models

    def latent_map(self, label, count):
        """The prior's samples (grey) and the codes of `count` test digits, coloured by digit."""
        prior, count = prior_name(label), integer(count, "Test digits", 100, 5000)
        x, y = test_digits()
        pick = np.linspace(0, len(x) - 1, count).astype(int)
        with self.models.use(prior) as model, torch.no_grad():
            model.eval()
            device = next(model.parameters()).device
            codes = model.encode(torch.from_numpy(x[pick].astype(np.float32)).to(device)).cpu().numpy()
        canvas = Image.new("RGB", (SIZE, SIZE + 24), "white")
        draw = ImageDraw.Draw(canvas)
        for px, py in to_pixel(sample_prior(prior, 3000, torch.Generator().manual_seed(0)).numpy()):
            draw.point((px, py), fill="#c8c8c8")
        for (px, py), digit in zip(to_pixel(codes), y[pick]):
            draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=PALETTE[digit])
        for digit, colour in enumerate(PALETTE):
            draw.rectangle((8 + 41 * digit, SIZE + 6, 20 + 41 * digit, SIZE + 18), fill=colour)
            draw.text((24 + 41 * digit, SIZE + 6), str(digit), fill="black")
        inside = np.abs(codes).max(1) <= EXTENT
        return np.asarray(canvas), (f"{count} test digits encoded; {100 * inside.mean():.0f}% fall inside the map. "
                                    "Grey: samples of the prior. Click anywhere on the map to decode that point.")

    def decode_point(self, label, evt: gr.EventData = None):
        """The decoder's digit at the clicked point; the click data is checked like any input
        (gr.EventData, not gr.SelectData, so that a malformed click reaches this check)."""
        prior = prior_name(label)
        click = getattr(evt, "_data", None)
        index = click.get("index") if isinstance(click, dict) else None
        if not isinstance(index, (list, tuple)) or len(index) != 2:
            raise InputError("Click a point on the map.")
        x, y = (number(value, "The clicked point's coordinate", 0, SIZE + 24) for value in index)
        if x >= SIZE or y >= SIZE:
            raise InputError("Click inside the map, above the colour key.")
        z = torch.tensor([to_code(x, y)], dtype=torch.float32)
        with self.models.use(prior) as model, torch.no_grad():
            model.eval()
            image = model.decode(z.to(next(model.parameters()).device))[0].cpu().numpy()
        return enlarge(image, 6), f"Decoded z = ({z[0, 0]:.2f}, {z[0, 1]:.2f})"

    def samples(self, label, seed, count, digit=ANY):
        """Decoded prior samples: from the whole prior, or from the part the chosen digit was given."""
        prior = prior_name(label)
        seed, count = integer(seed, "Seed", 0, 2**31 - 1), integer(count, "Number of digits", 1, 64)
        parts = None if digit in (None, ANY) else torch.full((count,), integer(digit, "Digit", 0, 9))
        with self.models.use(prior) as model:
            images = model.sample(count, torch.Generator().manual_seed(seed), parts).cpu().numpy()
        return enlarge(tile(images, min(count, 8)), 3)


def build_ui(ctx) -> None:
    demo = AAEDemo(ctx.models)
    prior = gr.Radio(list(LABELS.values()), value=LABELS["mixture"], label="Prior p(z) (one model per prior)")
    with gr.Tab("Latent map"):
        with gr.Row():
            with gr.Column():
                count = gr.Slider(100, 5000, value=2000, step=100, label="Test digits to encode")
                draw = gr.Button("Draw the map", variant="primary", elem_id="aae-draw")
                note = gr.Markdown()
                decoded = gr.Image(label="Decoded from the clicked point", format="png", elem_id="aae-decoded")
                where = gr.Markdown(elem_id="aae-where")
            latent = gr.Image(label="Codes of test digits over the prior (click to decode)", format="png",
                              interactive=False, elem_id="aae-map")
        ctx.on(draw.click, "latent_map", demo.latent_map, [prior, count], [latent, note])
        ctx.on(latent.select, "decode_point", demo.decode_point, prior, [decoded, where])
    with gr.Tab("Sample"):
        with gr.Row():
            seed = gr.Number(value=0, precision=0, label="Seed")
            n = gr.Slider(1, 64, value=32, step=1, label="Number of digits")
            digit = gr.Dropdown([ANY, *map(str, range(10))], value=ANY,
                                label="Part of the prior (training gave digit d the d-th part)")
            go = gr.Button("Sample from the prior and decode", variant="primary")
        grid = gr.Image(label="Samples", format="png")
        ctx.on(go.click, "sample", demo.samples, [prior, seed, n, digit], grid)
