"""Anomaly scores from an explicit model's likelihood, higher meaning more anomalous, and the AUROC
that judges them (shared by the anomaly benchmark and, later, the demos' verdicts):

- raw likelihood: -log p(x) in nats;
- complexity-corrected (Serra et al., ICLR 2020, Eq. 2): S(x) = -log2 p(x) - L(x), L(x) the bits a
  generic lossless compressor (PNG) needs for x. A blank image is cheap for every model and for PNG
  alike, so the difference removes what raw likelihood mostly measures on simple inputs: simplicity;
- typicality (Nalisnick et al. 2019, one input at a time): |-log p(x) - H|, H the mean -log p(x) of the
  validation digits. Picked over a likelihood ratio against a background model (Ren et al. 2019)
  because it needs no second model trained per explicit model; it flags inputs that are too likely,
  the failure raw likelihood has, as well as too unlikely ones.

For contrast, an implicit model has none of these: all a GAN can say about an image is its discriminator's
logit that the image is real (`discriminator`: minus that logit, so higher is again more anomalous).

A verdict places one input's score among the scores of digits the model did not train on (the validation
split; a GAN's held-apart training digits): `reference` keeps 101 quantiles of them in the model's
config.json (`python -m hub.kit.anomaly DEMO...` measures them), `judge` reads a percentile off them.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np

REFERENCE_KEY = "anomaly_reference"           # in a weights folder's config.json
PERCENTS = np.linspace(0, 100, 101)
BENCHMARK = Path(__file__).resolve().parents[2] / "bench" / "results" / "anomaly.json"   # bench/anomaly.py writes it
FLAGGED, UNUSUAL = 99, 95                    # a verdict's thresholds: percent of reference inputs scoring lower
SET_NAMES = {"mnist": "MNIST test", "fashion_mnist": "Fashion-MNIST"}        # as tables name the benchmark's sets


def png_bits(images: np.ndarray) -> np.ndarray:
    """L(x): the bits of each binary image [N, 28, 28] (or [N, 784]) saved as a 1-bit PNG at the
    strongest compression (the file's fixed header included: the same for every image)."""
    from PIL import Image

    x = np.asarray(images).reshape(len(images), 28, 28) > 0.5
    bits = []
    for image in x:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", optimize=True)
        bits.append(8 * buffer.getbuffer().nbytes)
    return np.array(bits, np.float64)


def scores(nll_nats: np.ndarray, images: np.ndarray, typical_nll: float) -> dict[str, np.ndarray]:
    """The three scores of images whose -log p(x) is `nll_nats`; `typical_nll` is the validation mean."""
    nll_nats = np.asarray(nll_nats, np.float64)
    return {"raw_likelihood": nll_nats,
            "complexity_corrected": nll_nats / math.log(2) - png_bits(images),
            "typicality": np.abs(nll_nats - typical_nll)}


def auroc(in_distribution: np.ndarray, out_of_distribution: np.ndarray) -> float:
    """The probability that an out-of-distribution input scores higher than an in-distribution one
    (ties count half): 1 is perfect, 0.5 chance, 0 a score that points the wrong way."""
    from scipy.stats import rankdata

    a, b = np.asarray(in_distribution, np.float64), np.asarray(out_of_distribution, np.float64)
    ranks = rankdata(np.concatenate([a, b]))                # ties get their mean rank
    return float((ranks[len(a):].sum() - len(b) * (len(b) + 1) / 2) / (len(a) * len(b)))


def reference(scored: dict[str, np.ndarray], **extra) -> dict:
    """What a verdict compares with: each score's 101 quantiles (0%, 1%, ..., 100%) over reference inputs."""
    return {**extra, "quantiles": {name: [round(float(q), 3) for q in np.percentile(values, PERCENTS)]
                                   for name, values in scored.items()}}


def percentile(value: float, quantiles: list[float]) -> float:
    """The percent of reference inputs whose score is lower than `value` (read off their quantiles)."""
    return float(np.interp(value, quantiles, PERCENTS))


def judge(value: float, quantiles: list[float]) -> tuple[float, str]:
    """(percentile, verdict in words) of one input's anomaly score among the reference digits' scores."""
    rank = percentile(value, quantiles)
    if value > quantiles[-1]:
        return rank, "flagged: above every reference digit"
    if value < quantiles[0]:
        return rank, "normal: below every reference digit"
    if rank >= FLAGGED:
        return rank, f"flagged: above {rank:.1f}% of them"
    if rank >= UNUSUAL:
        return rank, f"unusual: above {rank:.1f}% of them"
    return rank, f"normal: above {rank:.1f}% of them"


def validation_reference(demo, model, valid: np.ndarray) -> dict:
    """The reference of an explicit model: its scores on the binary validation digits [N, 28, 28]."""
    import torch

    nll = -demo.log_likelihood(model, torch.from_numpy(valid.reshape(len(valid), -1).astype(np.float32))).numpy()
    typical = float(nll.mean())
    return reference(scores(nll, valid, typical), split="valid", images=len(valid), typical_nll=round(typical, 3))


def discriminator_scores(demo, model, images: np.ndarray) -> np.ndarray:
    """The implicit side's only score: minus D's logit that each image [N, 28, 28] in [0, 1] is real."""
    return -demo.discriminator_score(model, images).numpy().astype(np.float64)


def held_apart_reference(demo, model, digits: np.ndarray) -> dict:
    """The reference of a GAN: D's scores on grayscale training digits it never trained on."""
    return reference({"discriminator": discriminator_scores(demo, model, digits)},
                     split="held-apart training digits", images=len(digits))


def benchmark_table(titles: dict[str, str], path: Path = BENCHMARK) -> str:
    """The benchmark's AUROC of each model x score x out-of-distribution set, and each set's mean NLL, as
    Markdown (`titles`: demo id -> title), or a line saying how to measure it."""
    if not path.is_file():
        return "No benchmark figures yet: `python bench/anomaly.py` measures them."
    result = json.loads(path.read_text())
    sets = list(next(iter(next(iter(result["auroc"].values())).values())))
    lines = ["| model | score | " + " | ".join(SET_NAMES.get(s, s) for s in sets) + " |",
             "|---|---|" + "---:|" * len(sets)]
    for demo_id, by_score in result["auroc"].items():
        for score, values in by_score.items():
            cells = [f"**{values[s]:.3f}**" if values[s] >= 0.95 else f"{values[s]:.3f}" for s in sets]
            lines.append(f"| {titles.get(demo_id, demo_id)} | {score.replace('_', ' ')} | " + " | ".join(cells) + " |")
    nll = result.get("mean_nll", {})
    if nll:
        names = list(next(iter(nll.values())))
        lines += ["", "| mean -log p(x), nats | " + " | ".join(SET_NAMES.get(n, n) for n in names) + " |",
                  "|---|" + "---:|" * len(names)]
        lines += [f"| {titles.get(d, d)} | " + " | ".join(f"{v[n]:.1f}" for n in names) + " |" for d, v in nll.items()]
    sizes = ", ".join(f"{SET_NAMES.get(name, name)} {size:,}" for name, size in result.get("sizes", {}).items())
    return (f"AUROC with the MNIST test digits as the normal set (1 is perfect, 0.5 chance, 0 points the wrong "
            f"way; **bold** at 0.95 or more). Images: {sizes}. Measured by `python bench/anomaly.py`.\n\n"
            + "\n".join(lines))


def main(demo_ids: list[str]) -> None:
    """`python -m hub.kit.anomaly DEMO...`: measure the verdicts' reference of shipped models (explicit ones on
    the validation split, GANs on the held-apart training digits) into their config.json; weights untouched."""
    from .. import weights
    from ..core import Hub
    from . import data, evaluator

    hub = Hub.create(entry_points=False)
    for demo_id in demo_ids:
        demo = hub.demos[demo_id]
        with hub.handle(demo_id).use(demo.models[0].name) as model:
            if demo.log_likelihood:
                found = validation_reference(demo, model, data.binarized_mnist("valid")[0])
            else:
                found = held_apart_reference(demo, model, data.mnist("train")[0][-evaluator.HELD_APART:] / 255.0)
        directory = demo.models[0].weights_dir
        weights.write_config(directory, {**weights.read_config(directory), REFERENCE_KEY: found})
        print(demo_id, {k: v for k, v in found.items() if k != "quantiles"}, flush=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
