"""The AAE demo: pick the prior, see the test digits' codes over it, click the map to decode a point."""
import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from hub import InputError
from hub.kit import enlarge, integer, number, test_digits, tile

from .model import sample_prior

EXTENT = 7.0                 # the map shows z in [-EXTENT, EXTENT]^2
SIZE = 420                   # pixels of the map itself
LEFT, TOP, AXIS, KEY = 44, 10, 34, 24      # margins: the z2 axis, above, the z1 axis, the colour key
WIDTH, HEIGHT = LEFT + SIZE + 12, TOP + SIZE + AXIS + KEY
TICKS = range(-6, 7, 2)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
ANY = "any"
LABELS = {"mixture": "Mixture of 10 Gaussians", "swiss_roll": "Swiss roll"}


def to_pixel(z: np.ndarray) -> np.ndarray:
    """Codes -> pixel positions on the whole picture (margins included)."""
    return np.stack([LEFT + (z[:, 0] + EXTENT) / (2 * EXTENT) * SIZE,
                     TOP + (EXTENT - z[:, 1]) / (2 * EXTENT) * SIZE], 1)


def to_code(x: float, y: float) -> tuple[float, float]:
    return -EXTENT + (x - LEFT) / SIZE * 2 * EXTENT, EXTENT - (y - TOP) / SIZE * 2 * EXTENT


def on_map(x: float, y: float) -> bool:
    return LEFT <= x < LEFT + SIZE and TOP <= y < TOP + SIZE


def draw_axes(draw: ImageDraw.ImageDraw) -> None:
    """A frame round the map, ticks every 2 units on both axes, the axis names z1 and z2, and the colour key."""
    font = ImageFont.load_default(size=12)
    draw.rectangle((LEFT, TOP, LEFT + SIZE, TOP + SIZE), outline="#606060")
    for value in TICKS:
        (x, y), = to_pixel(np.array([[value, value]], np.float32))
        draw.line((x, TOP + SIZE, x, TOP + SIZE + 5), fill="#606060")
        draw.text((x, TOP + SIZE + 7), str(value), fill="black", font=font, anchor="mt")
        draw.line((LEFT - 5, y, LEFT, y), fill="#606060")
        draw.text((LEFT - 8, y), str(value), fill="black", font=font, anchor="rm")
    draw.text((LEFT + SIZE / 2, TOP + SIZE + 21), "z1", fill="black", font=font, anchor="mt")
    draw.text((4, TOP + SIZE / 2), "z2", fill="black", font=font, anchor="lm")
    key_y = TOP + SIZE + AXIS + 6
    for digit, colour in enumerate(PALETTE):
        draw.rectangle((LEFT + 41 * digit, key_y, LEFT + 12 + 41 * digit, key_y + 12), fill=colour)
        draw.text((LEFT + 16 + 41 * digit, key_y), str(digit), fill="black", font=font)


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
        canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
        draw = ImageDraw.Draw(canvas)
        draw_axes(draw)
        for px, py in to_pixel(sample_prior(prior, 3000, torch.Generator().manual_seed(0)).numpy()):
            if on_map(px, py):
                draw.point((px, py), fill="#c8c8c8")
        for (px, py), digit in zip(to_pixel(codes), y[pick]):
            if on_map(px, py):
                draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=PALETTE[digit])
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
        x, y = number(index[0], "The clicked point's x", 0, WIDTH), number(index[1], "The clicked point's y", 0, HEIGHT)
        if not on_map(x, y):
            raise InputError("Click inside the map's frame (between the axes).")
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
