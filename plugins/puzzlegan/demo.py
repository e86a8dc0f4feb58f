"""The Puzzle-GAN demo: three patches of a test digit (ticked on a numbered grid, or drawn at random among
the ones holding ink) or three uploaded patches in; the patches, the digit drawn around them, each
patch's mask over it, and the original with the true places out."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from hub import InputError
from hub.kit import enlarge, evaluator, grayscale_ink, grayscale_test_digits, integer, labelled_grid

from .puzzle import PATCH, PATCHES, crop, key_places

FACTOR = 8                                    # screen pixels per digit pixel
CELL_STARTS = (2, 10, 18)                     # the numbered 3 x 3 grid of places to pick from
CELLS = [(r, c) for r in CELL_STARTS for c in CELL_STARTS]
COLOURS = np.array([[230, 60, 60], [60, 200, 80], [70, 120, 255]], np.float32)
LARGEST_UPLOAD = 64


def cells_image(digit: np.ndarray) -> np.ndarray:
    """The digit with the nine numbered squares one can keep."""
    canvas = Image.fromarray(enlarge(digit, FACTOR)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    for number, (r, c) in enumerate(CELLS, 1):
        box = [c * FACTOR, r * FACTOR, (c + PATCH) * FACTOR - 1, (r + PATCH) * FACTOR - 1]
        draw.rectangle(box, outline=(255, 200, 0))
        draw.text((box[0] + 4, box[1] + 2), str(number), fill=(255, 200, 0))
    return np.asarray(canvas)


def boxed(digit: np.ndarray, places: np.ndarray) -> np.ndarray:
    """The digit with each patch's place outlined in its colour."""
    canvas = Image.fromarray(enlarge(digit, FACTOR)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    for (r, c), colour in zip(places, COLOURS):
        draw.rectangle([c * FACTOR, r * FACTOR, (c + PATCH) * FACTOR - 1, (r + PATCH) * FACTOR - 1],
                       outline=tuple(int(v) for v in colour), width=2)
    return np.asarray(canvas)


def masks_over(digit: np.ndarray, masks: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Each patch's mask tinted in its colour over the generated digit, the place found for it outlined."""
    base = np.repeat(digit[..., None] * 255, 3, -1)
    for mask, colour in zip(masks, COLOURS):
        weight = 0.6 * np.clip(mask, 0, 1)[..., None]
        base = base * (1 - weight) + colour * weight
    small = base.clip(0, 255).astype(np.uint8)
    large = np.repeat(np.repeat(small, FACTOR, 0), FACTOR, 1)
    canvas = Image.fromarray(large)
    draw = ImageDraw.Draw(canvas)
    for (r, c), colour in zip(places, COLOURS):
        draw.rectangle([c * FACTOR, r * FACTOR, (c + PATCH) * FACTOR - 1, (r + PATCH) * FACTOR - 1],
                       outline=tuple(int(v) for v in colour), width=1)
    return np.asarray(canvas)


def patch_from_upload(value, number: int) -> np.ndarray:
    """An uploaded patch -> [8, 8] in [0, 1], ink bright: square, 8 to 64 pixels a side."""
    if value is None:
        raise InputError(f"Patch {number} is missing: upload three patches (or use a test digit).")
    gray = grayscale_ink(value, f"Patch {number} is blank: a patch needs some ink to be placed.")
    height, width = gray.shape
    if height != width or height > LARGEST_UPLOAD:
        raise InputError(f"Patch {number} is {width} x {height} pixels: a patch is a square piece of a digit, "
                         f"{PATCH} x {PATCH} (or enlarged to at most {LARGEST_UPLOAD} x {LARGEST_UPLOAD}).")
    small = Image.fromarray((gray * 255).astype(np.uint8)).resize((PATCH, PATCH), Image.BOX)
    return np.asarray(small, np.float32) / 255


def first_cells() -> np.ndarray | None:
    """The squares over test digit 0, to show before anything is pressed (none if the data is missing)."""
    try:
        return cells_image(grayscale_test_digits()[0][0].astype(np.float32) / 255)
    except InputError:
        return None


class PuzzleDemo:
    def __init__(self, models):
        self.models = models

    def test_digit(self, index) -> tuple[np.ndarray, int, int]:
        x, y = grayscale_test_digits()
        index = integer(index, "Test image number", 0, len(x) - 1)
        return x[index].astype(np.float32) / 255, int(y[index]), index

    def show_cells(self, index):
        digit, _, _ = self.test_digit(index)
        return cells_image(digit)

    def kept_cells(self, index, kept, seed):
        """The patches under the ticked squares."""
        digit, label, index = self.test_digit(index)
        kept = sorted({int(k) for k in (kept or [])})
        if not kept:
            raise InputError(f"No patch chosen: tick {PATCHES} of the numbered squares, or press 'Random key patches'.")
        if len(kept) != PATCHES or not all(1 <= k <= len(CELLS) for k in kept):
            raise InputError(f"Tick exactly {PATCHES} of the squares 1-{len(CELLS)} (you ticked {len(kept)}).")
        places = torch.tensor([[CELLS[k - 1] for k in kept]])
        return self.solve(digit, label, index, places, seed)

    def random_patches(self, index, seed):
        """Three patches drawn at random among the places holding ink, as in training (from `seed`)."""
        digit, label, index = self.test_digit(index)
        seed = integer(seed, "Seed", 0, 2**31 - 1)
        places = key_places(torch.from_numpy(digit)[None], torch.Generator().manual_seed(seed))
        return self.solve(digit, label, index, places, seed)

    def solve(self, digit, label, index, places, seed):
        patches = crop(torch.from_numpy(digit)[None], places)
        order = torch.randperm(PATCHES, generator=torch.Generator().manual_seed(integer(seed, "Seed", 0, 2**31 - 1)))
        patches, places = patches[:, order], places[:, order]        # the model is never told the order
        images, note = self.assemble(patches[0].numpy(), seed)
        found = images[-1]
        error = np.linalg.norm(found - places[0].numpy(), axis=1)
        lines = [f"Test digit {index}, labelled {label}. " + note,
                 "Place found for each patch (row, column of its top-left pixel) against the true one: " +
                 "; ".join(f"patch {k + 1}: {tuple(map(int, f))} vs {tuple(map(int, t))} ({e:.1f} px off)"
                           for k, (f, t, e) in enumerate(zip(found, places[0].numpy(), error)))]
        return (*images[:-1], boxed(digit, places[0].numpy()), "  \n".join(lines))

    def uploads(self, first, second, third, seed):
        patches = np.stack([patch_from_upload(v, k) for k, v in enumerate((first, second, third), 1)])
        images, note = self.assemble(patches, seed)
        return (*images[:-1], None, note)

    def assemble(self, patches: np.ndarray, seed) -> tuple[tuple, str]:
        """patches [3, 8, 8] -> (the patches row, the digit, the masks over it, the places found), a note."""
        seed = integer(seed, "Seed", 0, 2**31 - 1)
        with self.models.use() as model:
            z = torch.randn(1, model.z_dim, generator=torch.Generator().manual_seed(seed))
            out = model.solve(torch.from_numpy(patches)[None].float(), z)
        digit, masks, places = out["digit"][0].numpy(), out["masks"][0].numpy(), out["places"][0].numpy()
        probabilities = evaluator.outputs(evaluator.load(), digit[None])[1][0]
        read = int(probabilities.argmax())
        row = labelled_grid(patches, PATCHES, [""], [f"patch {k + 1}" for k in range(PATCHES)], factor=FACTOR)
        blank = [k + 1 for k, p in enumerate(patches) if p.sum() < 1]
        note = (f"The evaluator reads the generated digit as a **{read}** ({100 * probabilities[read]:.0f}%)."
                + (f" Patch {', '.join(map(str, blank))} holds almost no ink: nothing tells where it goes." if blank else ""))
        return (row, enlarge(digit, FACTOR), masks_over(digit, masks, places), places), note


def thumbnail(ctx) -> np.ndarray:
    """The gallery's picture: the digit assembled from three patches of test digit 0, the masks over it."""
    return PuzzleDemo(ctx.models).random_patches(0, 0)[2]


def build_ui(ctx) -> None:
    import gradio as gr

    from hub.kit import image_upload

    demo = PuzzleDemo(ctx.models)
    with gr.Row():
        with gr.Column():
            seed = gr.Number(value=0, precision=0, label="Seed (the noise z, and the random patches)")
            with gr.Tab("Test digit"):
                index = gr.Number(value=0, precision=0, label="Test image number (0-9999)")
                grid = gr.Image(value=first_cells(), label="Numbered squares", format="png", height=240)
                kept = gr.CheckboxGroup([str(k) for k in range(1, len(CELLS) + 1)], value=["1", "5", "9"],
                                        label=f"Squares to keep ({PATCHES})")
                with gr.Row():
                    keep = gr.Button("Assemble from the ticked squares", variant="primary", elem_id="puzzlegan-keep")
                    shuffle = gr.Button("Random key patches", elem_id="puzzlegan-random")
            with gr.Tab("Upload patches"):
                gr.Markdown(f"Three square patches of one digit, light ink on dark or dark on light, "
                            f"{PATCH} x {PATCH} pixels (or enlarged, up to {LARGEST_UPLOAD} a side).")
                with gr.Row():
                    first, second, third = (image_upload(f"Patch {k}") for k in (1, 2, 3))
                upload = gr.Button("Assemble from uploads", variant="primary")
        with gr.Column():
            patches = gr.Image(label="The patches, in the order the model gets them", format="png")
            with gr.Row():
                digit = gr.Image(label="Generated digit", format="png", elem_id="puzzlegan-digit")
                masks = gr.Image(label="Each patch's mask over it", format="png")
                original = gr.Image(label="Original, true places", format="png")
            note = gr.Markdown(elem_id="puzzlegan-note")
    gr.Examples([[0, ["1", "5", "9"], 0], [3, ["2", "4", "6"], 1], [7, ["1", "2", "3"], 2], [15, ["4", "5", "6"], 3]],
                [index, kept, seed], label="Examples (click, then assemble)")
    outputs = [patches, digit, masks, original, note]
    ctx.on(index.change, "cells", demo.show_cells, [index], grid)
    ctx.on(keep.click, "assemble", demo.kept_cells, [index, kept, seed], outputs)
    ctx.on(shuffle.click, "random_patches", demo.random_patches, [index, seed], outputs)
    ctx.on(upload.click, "assemble_uploads", demo.uploads, [first, second, third, seed], outputs)
