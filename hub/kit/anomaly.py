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
"""
from __future__ import annotations

import io
import math

import numpy as np


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
