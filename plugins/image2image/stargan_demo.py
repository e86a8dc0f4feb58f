"""The StarGAN demo: one digit (a test digit of either style, a drawing or an upload) and a target
domain in; out come G(x, c), the way back G(G(x, c), c'), and the same digit rendered in every domain."""
from __future__ import annotations

import numpy as np
import torch

from hub.kit import evaluator, grayscale_ink, integer, labelled_grid, one_of, strokes, tile, to_mnist

from . import domains
from .inputs import digit_inputs
from .stargan import GROUPS, LABEL_SETS, domain_code, stroke_labels

MNIST, USPS = "MNIST", "USPS"
STROKE_DOMAINS = [f"{t}, {s}" for t in GROUPS["thickness"] for s in GROUPS["slant"]]
STYLE_DOMAINS = [f"{MNIST} style", f"{USPS} style"]
DOMAINS = STROKE_DOMAINS + STYLE_DOMAINS
LOSSES = """**What each loss term does**
- **L_adv** (WGAN-GP): D_src scores real digits above G(x, c); G learns to make its outputs score like real ones.
- **L_cls^r**: D_cls learns on real digits which domain each is in (its thickness and slant, or its style).
- **L_cls^f**: G is rewarded when D_cls puts G(x, c) in the target domain c: this is what makes the change happen.
- **L_rec** = |x - G(G(x, c), c')|: going back to the original domain c' must give the digit back, so G may change only what c asks for (CycleGAN's cycle, with one generator).
- **Gradient penalty**: keeps D_src 1-Lipschitz, as WGAN-GP needs.
- **Mask vector**: the last two entries of c say which label set (strokes or style) the rest of c speaks for."""


def domain_codes(image: np.ndarray, own_style: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The code of every domain in DOMAINS, and for each the code of the way back (the digit's own
    nearest stroke bands, or its own style)."""
    own = stroke_labels(image[None], nearest=True)
    targets = [domain_code("strokes", thickness=t, slant=s)
               for t in range(len(GROUPS["thickness"])) for s in range(len(GROUPS["slant"]))]
    targets += [domain_code("style", style=i) for i in range(len(GROUPS["style"]))]
    back_strokes = domain_code("strokes", **{g: int(own[g][0]) for g in LABEL_SETS["strokes"]})
    back_style = domain_code("style", style=[MNIST, USPS].index(own_style))
    backs = [back_strokes] * len(STROKE_DOMAINS) + [back_style] * len(STYLE_DOMAINS)
    return torch.cat(targets), torch.cat(backs)


def describe(image: np.ndarray) -> str:
    thickness, slant = (float(v[0]) for v in strokes.measure(image[None]))
    thick, lean = strokes.thickness_word(thickness) or "between bands", strokes.slant_word(slant) or "between bands"
    return f"stroke width {thickness:.2f} px ({thick}), slant {slant:+.2f} ({lean})"


class StarGANDemo:
    def __init__(self, models):
        self.models = models

    def every_domain(self, image: np.ndarray, own_style: str) -> tuple[np.ndarray, np.ndarray]:
        """[len(DOMAINS), 28, 28] translations of one digit, and each translated back."""
        targets, backs = domain_codes(image, own_style)
        x = torch.from_numpy(np.repeat(image[None].astype(np.float32), len(DOMAINS), 0))
        with self.models.use() as model:
            model.eval()
            translated = model.translate(x, targets)
            returned = model.translate(translated, backs)
        return translated.numpy(), returned.numpy()

    def picture(self, image: np.ndarray, own_style: str, target: str) -> tuple[np.ndarray, np.ndarray, str]:
        target = one_of(target, "Target domain", DOMAINS)
        translated, returned = self.every_domain(image, own_style)
        k = DOMAINS.index(target)
        trio = np.stack([image, translated[k], returned[k]])
        digits = evaluator.outputs(evaluator.load(), np.concatenate([image[None], translated]))[1].argmax(1)
        result = labelled_grid(trio, 3, [""], ["input", target, "back again"], factor=5)
        row = labelled_grid(translated, len(DOMAINS), [""], [d.replace(" style", "") for d in DOMAINS], factor=3)
        kept = int((digits[1:] == digits[0]).sum())
        note = (f"Input: {describe(image)}; the evaluator reads a {digits[0]}.  \n"
                f"Output ({target}): {describe(translated[k])}; read as a {digits[1 + k]}.  \n"
                f"Round trip error {float(np.abs(returned[k] - image).mean()):.3f} a pixel. "
                f"The digit is read the same in {kept} of the {len(DOMAINS)} domains.")
        return result, row, note

    def test_digit(self, style, index, target):
        style = one_of(style, "Test set", [MNIST, USPS])
        x, y = domains.mnist("test") if style == MNIST else domains.usps("test")
        index = integer(index, "Test image number", 0, len(x) - 1)
        result, row, note = self.picture(x[index], style, target)
        return result, row, f"Test digit {index} ({style}, labelled {y[index]}).  \n{note}"

    def drawing(self, value, target):
        """A drawing or an upload, laid out as MNIST lays out its digits."""
        return self.picture(to_mnist(grayscale_ink(value)), MNIST, target)


def thumbnail(ctx) -> np.ndarray:
    """The gallery's picture: MNIST test digit 0 (top left), then in every domain."""
    image = domains.mnist("test")[0][0]
    translated, _ = StarGANDemo(ctx.models).every_domain(image, MNIST)
    return tile(np.concatenate([image[None].astype(np.float32), translated]), 3)


def build_ui(ctx) -> None:
    import gradio as gr

    demo = StarGANDemo(ctx.models)
    with gr.Row():
        with gr.Column():
            target = gr.Dropdown(DOMAINS, value="thick, right", label="Target domain")
            given = digit_inputs("stargan", lambda: gr.Radio([MNIST, USPS], value=MNIST, label="Test set"))
        with gr.Column():
            result = gr.Image(label="Input, translation, back again", format="png", elem_id="stargan-result")
            note = gr.Markdown(elem_id="stargan-note")
    row = gr.Image(label="The same digit in every domain", format="png")
    gr.Markdown(LOSSES)
    style, index = given["extras"], given["index"]
    gr.Examples([[MNIST, 0, "thick, right"], [MNIST, 7, "thin, left"], [USPS, 3, f"{MNIST} style"],
                 [MNIST, 11, f"{USPS} style"]], [style, index, target], label="Examples (click, then translate)")
    outputs = [result, row, note]
    ctx.on(given["pick"].click, "translate_test_digit", demo.test_digit, [style, index, target], outputs)
    ctx.on(given["draw"].click, "translate", demo.drawing, [given["sketch"], target], outputs)
    ctx.on(given["upload_button"].click, "translate_upload", demo.drawing, [given["upload"], target], outputs)
