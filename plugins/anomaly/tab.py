"""Anomaly detection, explicit against implicit: one image (a drawing, an upload or a picked example) through
every model of the hub that can judge it.

An explicit model (DemoSpec.log_likelihood) gives -log p(x), and from it the three scores of
`hub.kit.anomaly`; each is placed among the model's scores of the validation digits (a percentile), and
flagged above the 99th. An implicit model (a GAN) has no p(x): its only say is its discriminator's logit,
placed the same way among held-apart training digits.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from hub import InputError, read_config
from hub.kit import (anomaly, binary_digit, data, enlarge, figure_image, grayscale_ink, integer, one_of, pyplot,
                     to_mnist)

log = logging.getLogger(__name__)

EXAMPLES = ("MNIST test digit", "Fashion-MNIST test item", "Uniform noise", "Blank")
SCORES = {"raw_likelihood": "raw -log p(x)", "complexity_corrected": "complexity corrected",
          "typicality": "typicality"}
UNITS = {"raw_likelihood": "nats", "complexity_corrected": "bits", "typicality": "nats", "discriminator": ""}
EXPLICIT_COLUMNS = ["model", "likelihood", "-log p(x), nats", *SCORES.values()]
IMPLICIT_COLUMNS = ["model", "likelihood", "discriminator: P(real)", "its verdict (for contrast)"]
WHY_FOOLED = ("Raw likelihood can be fooled because it mostly measures how simple an image is: a model must "
              "spread probability over every possible image, and an almost empty page is the easiest of all "
              "to predict pixel by pixel, so it gets a *higher* p(x) than any real digit (Nalisnick et al. 2019). "
              "The complexity-corrected score subtracts the bits PNG needs for the same image (Serra et al. "
              "2020), which removes the simplicity and leaves what the model knows about digits.")
CANNOT = ("**Implicit models cannot do this.** A GAN has no p(x): it cannot say how likely an image is, so none "
          "of the three scores exists for it. All it has is its discriminator, trained to tell the generator's "
          "fakes from digits, not digits from everything else; its answer is shown for contrast, placed among "
          "held-apart training digits (the benchmark below shows how unreliable it is).")
NO_REFERENCE = "no reference yet: run `python -m hub.kit.anomaly {id}`"


def explicit_demos(hub) -> list:
    return [d for d in hub.demos.values() if d.log_likelihood is not None and d.trained]


def implicit_demos(hub) -> list:
    return [d for d in hub.demos.values() if d.discriminator_score is not None and d.trained]


def example(kind: str, index) -> tuple[np.ndarray, np.ndarray]:
    """(grayscale [28, 28] in [0, 1], binary [28, 28]) of a picked example. A test image is binarized the way
    static binarized MNIST was, each pixel drawn once from its intensity; `index` also seeds the noise."""
    kind = one_of(kind, "Example", EXAMPLES)
    index = integer(index, "Item number (or noise seed)", 0, 9999)
    if kind == "Blank":
        return np.zeros((28, 28), np.float32), np.zeros((28, 28), np.float32)
    if kind == "Uniform noise":
        gray = np.random.default_rng(index).integers(0, 256, (28, 28), dtype=np.uint8)
    else:
        name = "mnist" if kind == EXAMPLES[0] else "fashion_mnist"
        try:
            gray = data.mnist("test", name)[0][index]
        except data.DataNotFound as error:
            raise InputError(f"The {kind} examples need the data set: {error}") from None
    return gray / np.float32(255), data.binarized(gray, seed=index).astype(np.float32)


def from_image(image) -> tuple[np.ndarray, np.ndarray]:
    """(grayscale, binary) of a drawn or uploaded image, centred the way MNIST digits are."""
    return to_mnist(grayscale_ink(image)), binary_digit(image)


def reference_of(demo) -> dict | None:
    return read_config(demo.models[0].weights_dir).get(anomaly.REFERENCE_KEY)


def cell(value: float, quantiles: list[float], score: str) -> str:
    return f"{anomaly.judge(value, quantiles)[1]} ({value:,.1f} {UNITS[score]})".replace(" )", ")")


def explicit_row(hub, demo, binary: np.ndarray) -> tuple[list, dict]:
    """The row of one explicit model, and which scores flag the image ({score: bool})."""
    kind = "exact" if demo.likelihood == "exact" else "a lower bound"
    reference = reference_of(demo)
    with hub.handle(demo.id).use(demo.models[0].name) as model:
        nll = float(-demo.log_likelihood(model, torch.from_numpy(binary.reshape(1, -1)))[0])
    if reference is None:
        return [demo.title, kind, f"{nll:.1f}", *[NO_REFERENCE.format(id=demo.id)] * len(SCORES)], {}
    scored = anomaly.scores(np.array([nll]), binary[None], reference["typical_nll"])
    quantiles = reference["quantiles"]
    flags = {s: anomaly.percentile(scored[s][0], quantiles[s]) >= anomaly.FLAGGED for s in SCORES}
    return [demo.title, kind, f"{nll:.1f}", *[cell(scored[s][0], quantiles[s], s) for s in SCORES]], flags


def implicit_row(hub, demo, gray: np.ndarray) -> list:
    reference = reference_of(demo)
    with hub.handle(demo.id).use(demo.models[0].name) as model:
        score = float(anomaly.discriminator_scores(demo, model, gray[None])[0])
    verdict = (cell(score, reference["quantiles"]["discriminator"], "discriminator") if reference
               else NO_REFERENCE.format(id=demo.id))
    return [demo.title, "none (samples only)", f"{1 / (1 + np.exp(score)):.3f}", verdict]


def failed_row(demo, error: Exception, width: int) -> list:
    """A model that failed gets a marked row; the others are still shown."""
    log.error("anomaly: %s failed", demo.id, exc_info=error)
    return [demo.title, f"failed ({type(error).__name__}); see the hub's log", *["-"] * (width - 2)]


def summary(flags: list[dict], rows: int) -> str:
    """How many explicit models each score makes flag the image, and what that says."""
    if not rows:
        return "No explicit model is trained yet: nothing here can score a likelihood."
    counts = {s: sum(f.get(s, False) for f in flags) for s in SCORES}
    line = "; ".join(f"{name}: **{counts[s]} of {rows}**" for s, name in SCORES.items())
    text = f"Models that flag this image (above 99% of their validation digits): {line}."
    if counts["complexity_corrected"] > counts["raw_likelihood"]:
        text += (" Raw likelihood lets it pass where the corrected score does not: the image is simple, and simple "
                 "images get a high p(x) from every model.")
    return text


def judge(hub, gray: np.ndarray, binary: np.ndarray):
    """(the image as the explicit models see it, as the GANs see it, summary, explicit rows, implicit rows)."""
    rows, flags = [], []
    for demo in explicit_demos(hub):
        try:
            row, flagged = explicit_row(hub, demo, binary)
            flags.append(flagged)
        except Exception as error:  # noqa: BLE001 - one model's failure must not cost the others' verdicts
            row = failed_row(demo, error, len(EXPLICIT_COLUMNS))
        rows.append(row)
    implicit = []
    for demo in implicit_demos(hub):
        try:
            implicit.append(implicit_row(hub, demo, gray))
        except Exception as error:  # noqa: BLE001
            implicit.append(failed_row(demo, error, len(IMPLICIT_COLUMNS)))
    return enlarge(binary, 5), enlarge(gray, 5), summary(flags, len(flags)), rows, implicit


def thumbnail(ctx) -> np.ndarray:
    """The gallery's picture: the benchmark's AUROC on blank images, raw likelihood against the corrected score."""
    import json

    plt = pyplot()
    auroc = {ctx.hub.demos[d].title if d in ctx.hub.demos else d: v for d, v in
             json.loads(anomaly.BENCHMARK.read_text())["auroc"].items() if "raw_likelihood" in v}
    figure, axes = plt.subplots(figsize=(3.2, 2.6))
    y = np.arange(len(auroc))
    axes.barh(y - 0.2, [v["raw_likelihood"]["blank"] for v in auroc.values()], 0.4, label="raw", color="#bbb")
    axes.barh(y + 0.2, [v["complexity_corrected"]["blank"] for v in auroc.values()], 0.4, label="corrected",
              color="#08519c")
    axes.set_yticks(y, [name.replace("PixelRNN · ", "") for name in auroc], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_title("AUROC, blank images", fontsize=9)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    plt.close(figure)
    return figure_image(figure)


def build_ui(ctx) -> None:
    import gradio as gr

    from hub.kit import drawing_tab, image_upload

    hub = ctx.hub
    titles = {d.id: d.title for d in hub.demos.values()}
    gr.Markdown("Anomaly detection is what a likelihood is for: an image the model finds unlikely is not one "
                "of its digits. Each score below is placed among the model's scores of its 10,000 validation "
                "digits (the *reference digits*) and flagged above 99% of them.\n\n" + WHY_FOOLED +
                " The typicality score flags images that are *too* likely as well as too unlikely.")
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Tab("Example"):
                kind = gr.Radio(list(EXAMPLES), value=EXAMPLES[0], label="Example", elem_id="anomaly-kind")
                index = gr.Number(value=0, precision=0, label="Item (or seed), 0-9999")
                example_button = gr.Button("Judge this example", variant="primary", elem_id="anomaly-example")
                gr.Examples([[EXAMPLES[3], 0], [EXAMPLES[1], 0], [EXAMPLES[0], 7], [EXAMPLES[2], 1]],
                            inputs=[kind, index], label="Try")
            canvas, draw_button = drawing_tab("anomaly", "Judge drawing", "anomaly-draw")
            with gr.Tab("Upload"):
                upload = image_upload(elem_id="anomaly-upload")
                upload_button = gr.Button("Judge image", variant="primary")
        with gr.Column(scale=3):
            with gr.Row():
                binary = gr.Image(label="What the explicit models see (binary)", format="png", height=170)
                gray = gr.Image(label="What the GANs see (grayscale)", format="png", height=170)
            verdict = gr.Markdown(elem_id="anomaly-summary")
            explicit = gr.Dataframe(headers=EXPLICIT_COLUMNS, interactive=False, wrap=True, elem_id="anomaly-explicit",
                                    label="Explicit models: the verdict of each score",
                                    column_widths=["16%", "13%", "8%", "21%", "21%", "21%"])
            gr.Markdown(CANNOT)
            implicit = gr.Dataframe(headers=IMPLICIT_COLUMNS, interactive=False, wrap=True, elem_id="anomaly-implicit",
                                    label="Implicit models: samples only", column_widths=["17%", "20%", "20%", "43%"])
            with gr.Accordion("Benchmark: AUROC of each score on whole test sets", open=True):
                gr.Markdown(anomaly.benchmark_table(titles), elem_id="anomaly-benchmark")
    outputs = [binary, gray, verdict, explicit, implicit]
    ctx.on(example_button.click, "example", lambda k, i: judge(hub, *example(k, i)), [kind, index], outputs)
    ctx.on(draw_button.click, "drawing", lambda image: judge(hub, *from_image(image)), canvas, outputs)
    ctx.on(upload_button.click, "upload", lambda image: judge(hub, *from_image(image)), upload, outputs)
