"""The lecture's closing question, answered with the hub's own models: when to pick a GAN, a VAE or
an autoregressive model?

Every trained demo that draws digits (DemoSpec.sample) draws n of them from one seed; the shared
evaluator scores them against the real test digits; the table adds what each model can say about
the likelihood of a digit and how fast it draws.
"""
from __future__ import annotations

import functools
import logging
import time

import numpy as np
import torch

from hub import InputError, read_config
from hub.kit import data, enlarge, evaluator, integer, tile

log = logging.getLogger(__name__)

LIKELIHOOD = {"exact": "exact log p(x)", "bound": "a lower bound on log p(x)", "none": "none (samples only)"}
COLUMNS = ["model", "likelihood", "test -log p(x), nats", "FLD (lower is better)", "smallest digit share",
           "mean confidence", "ms per digit"]


NOTHING_YET = ("Nothing to compare yet: this tab needs the evaluator's weights (`python -m hub train evaluator`) "
               "and at least one trained model that draws digits.")


def generators(hub) -> list:
    return [demo for demo in hub.demos.values() if demo.sample is not None and demo.trained]


def ready(hub) -> bool:
    """The tab needs the evaluator's weights and at least one model that draws digits."""
    return evaluator.available() and bool(generators(hub))


def test_nll(demo) -> str:
    """The demo's own test figure, from its shipped config: exact, or the tightest bound."""
    metrics = read_config(demo.models[0].weights_dir).get("metrics", {}) if demo.models else {}
    if "nll_nats" in metrics:
        return f"{metrics['nll_nats']:.2f}"
    bounds = [-v for k, v in metrics.items() if k.startswith("log_likelihood_k") or k == "elbo"]
    return f"<= {min(bounds):.2f}" if bounds else "-"


@functools.lru_cache(maxsize=8)
def floors(n: int, seed: int) -> tuple[tuple, ...]:
    """Real digits scored the same way: grayscale training digits the evaluator never saw, and
    binarized ones (NADE, PixelRNN and the VAE model binarized digits, so part of their distance
    is the binarization itself)."""
    rng = np.random.default_rng(seed)
    held = data.mnist("train")[0][-evaluator.HELD_APART:]
    binary = data.binarized_mnist("valid")[0]
    rows = []
    for name, images in [("real digits (floor)", held[rng.choice(len(held), n, replace=False)] / 255.0),
                         ("real digits, binarized", binary[rng.choice(len(binary), n, replace=False)])]:
        figures = evaluator.judge(images.astype(np.float32))
        rows.append((name, "-", "-", figures["fld"], figures["smallest_class_share"], figures["mean_confidence"], "-"))
    return tuple(rows)


def measure(hub, demo, n: int, seed: int) -> tuple[np.ndarray, list]:
    """A demo with several models (the AAE's priors) is measured on its first."""
    with hub.handle(demo.id).use(demo.models[0].name) as model:
        started = time.perf_counter()
        images = demo.sample(model, n, torch.Generator().manual_seed(seed))
        seconds = time.perf_counter() - started
    figures = evaluator.judge(images)
    return images, [demo.title, LIKELIHOOD.get(demo.likelihood, demo.likelihood or "-"), test_nll(demo),
                    figures["fld"], figures["smallest_class_share"], figures["mean_confidence"],
                    round(1000 * seconds / n, 2)]


def failed_row(demo, error: Exception) -> list:
    """The row of a model whose measurement failed: the others are still shown."""
    reason = str(error) if isinstance(error, InputError) else f"failed ({type(error).__name__}); see the hub's log"
    log.error("compare: %s failed", demo.id, exc_info=error)
    return [demo.title, LIKELIHOOD.get(demo.likelihood, demo.likelihood or "-"), reason, "-", "-", "-", "-"]


def compare(hub, chosen: list[str], n, seed):
    """Stream (grids, table, progress) as each chosen model is measured; a model that fails gets a
    marked row and the rest go on."""
    n, seed = integer(n, "Digits per model", 100, 2000), integer(seed, "Seed", 0, 2**31 - 1)
    demos = [d for d in generators(hub) if d.title in (chosen or [])]
    if not demos:
        raise InputError("Choose at least one model to compare.")
    yield [], [], f"Scoring {n} real digits (the floor), then {len(demos)} models..."
    rows, grids, failed = [list(row) for row in floors(n, seed)], [], 0   # floors computed once per (n, seed)
    for done, demo in enumerate(demos):
        yield grids, rows, f"Measuring {demo.title} ({done + 1} of {len(demos)})..."
        try:
            images, row = measure(hub, demo, n, seed)
        except Exception as error:  # noqa: BLE001 - one model's failure must not cost the others' rows
            rows.append(failed_row(demo, error))
            failed += 1
            continue
        grids.append((enlarge(tile(images[:32], 8), 2), demo.title))
        rows.append(row)
    yield grids, rows, f"Done: {len(demos) - failed} of {len(demos)} models measured" + \
        (f"; {failed} failed (marked in the table)." if failed else ".")


def thumbnail(ctx) -> np.ndarray:
    """The gallery's picture: four digits from each of the first four models, a row each (seed 0)."""
    rows = [measure(ctx.hub, demo, 4, 0)[0] for demo in generators(ctx.hub)[:4]]
    return tile(np.concatenate(rows), 4)


def build_ui(ctx) -> None:
    import gradio as gr

    hub = ctx.hub
    if not ready(hub):
        gr.Markdown(NOTHING_YET)
        return
    titles = [d.title for d in generators(hub)]
    gr.Markdown(__doc__.split("\n\n")[0].replace("\n", " ") + "\n\n" + """Explicit models (NADE, PixelRNN: exact;
VAE: a bound) give a likelihood, so they can score a digit, find anomalies and compress; implicit ones
(the GANs) only draw samples, but draw them in one pass. Every model below draws the same number of
digits from the same seed; the evaluator's **Frechet LeNet Distance** (FLD) compares them with the real
test digits. The first two rows are real digits scored the same way: the floor for this many digits.
All models at 2,000 digits take minutes on a CPU: the line under the buttons says where the run is,
and Stop ends it once the model being measured is done.""")
    with gr.Row():
        chosen = gr.CheckboxGroup(titles, value=titles, label="Models")
        n = gr.Slider(100, 2000, value=500, step=100, label="Digits per model")
        seed = gr.Number(value=0, precision=0, label="Seed")
    with gr.Row():
        go = gr.Button("Compare", variant="primary")
        stop = gr.Button("Stop", variant="stop")
    progress = gr.Markdown(elem_id="compare-progress")
    table = gr.Dataframe(headers=COLUMNS, interactive=False, label="Figures (FLD and shares on these digits)",
                         wrap=True, column_widths=["19%", "19%", "13%", "13%", "13%", "12%", "11%"],
                         elem_id="compare-table")
    gallery = gr.Gallery(label="Samples (the first 32 of each)", columns=3, height="auto")

    def run(chosen, n, seed):
        yield from compare(hub, chosen, n, seed)

    event = ctx.on(go.click, "generators", run, [chosen, n, seed], [gallery, table, progress], heavy=True)
    stop.click(lambda: "Stopped.", outputs=progress, cancels=[event], api_visibility="undocumented", queue=False)
