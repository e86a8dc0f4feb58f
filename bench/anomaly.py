"""Explicit models as anomaly detectors: every demo that scores binary digits (DemoSpec.log_likelihood)
scores the MNIST test digits (static binarized, as the models saw them) and out-of-distribution sets,
under each score of `hub.kit.anomaly`; AUROC of each score x model x set, and each set's mean NLL.

    python bench/anomaly.py [--limit N] [--threads 2]
    python bench/anomaly.py --demos dcgan      # one retrained model's figures again, the others kept from --out

Sets: `fashion_mnist` (the test split, binarized the way static binarized MNIST was: each pixel drawn once
from its intensity, seed 0), `noise` (pixels on with probability 1/2), `blank` (all off), 1,000 each of
the last two. The typical NLL for the typicality score is each model's mean on the validation split.

For contrast, every demo with a discriminator (DemoSpec.discriminator_score, the GANs) scores the same sets
as it was trained on them, in grayscale: MNIST test digits, Fashion-MNIST test items, uniform noise, blank;
its score `discriminator` is minus D's logit that the image is real.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from hub.core import Hub  # noqa: E402
from hub.kit import anomaly, data, likelihood  # noqa: E402
from hub.placement import parse_inventory  # noqa: E402


def image_sets(limit: int | None, synthetic: int = 1000) -> dict[str, np.ndarray]:
    """The in-distribution set ("mnist") and the out-of-distribution ones, binary [N, 28, 28]."""
    fashion = data.mnist("test", "fashion_mnist")[0]
    return {"mnist": data.spread_subset(data.binarized_mnist("test")[0], limit),
            "fashion_mnist": data.binarized(data.spread_subset(fashion, limit), seed=0),
            "noise": (np.random.default_rng(1).random((synthetic, 28, 28)) < 0.5).astype(np.uint8),
            "blank": np.zeros((synthetic, 28, 28), np.uint8)}


def grayscale_sets(limit: int | None, synthetic: int = 1000) -> dict[str, np.ndarray]:
    """The same sets as a GAN saw its data: grayscale in [0, 1]."""
    return {"mnist": data.spread_subset(data.mnist("test")[0], limit) / 255.0,
            "fashion_mnist": data.spread_subset(data.mnist("test", "fashion_mnist")[0], limit) / 255.0,
            "noise": np.random.default_rng(1).random((synthetic, 28, 28)),
            "blank": np.zeros((synthetic, 28, 28))}


def aurocs(scored: dict[str, dict[str, np.ndarray]]) -> dict:
    """{score: {ood set: AUROC against "mnist"}} from {set: {score: values}}."""
    return {score: {name: round(anomaly.auroc(scored["mnist"][score], values[score]), 4)
                    for name, values in scored.items() if name != "mnist"} for score in scored["mnist"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="images of MNIST and Fashion-MNIST (default: all 10,000)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "anomaly.json"))
    parser.add_argument("--demos", nargs="+", help="measure only these demos and replace their figures in --out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hub = Hub.create(entry_points=False, devices=parse_inventory(""))
    chosen = [d for d in hub.demos.values() if d.trained and (not args.demos or d.id in args.demos)]
    sets, valid = image_sets(args.limit), data.binarized_mnist("valid")[0]
    result = json.loads(Path(args.out).read_text()) if args.demos else \
        {"machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}", "sizes": {k: len(v) for k, v in
         sets.items()}, "auroc": {}, "mean_nll": {}}
    if result["sizes"] != {k: len(v) for k, v in sets.items()}:
        raise SystemExit(f"{args.out} was measured on other set sizes ({result['sizes']}): use its --limit")
    for demo in [d for d in chosen if d.log_likelihood]:
        with hub.handle(demo.id).use(demo.models[0].name) as model:
            nll = {name: -demo.log_likelihood(model, likelihood.flat(x)).numpy() for name, x in sets.items()}
            typical = float(-demo.log_likelihood(model, likelihood.flat(valid)).mean())
        result["mean_nll"][demo.id] = {name: round(float(v.mean()), 2) for name, v in nll.items()}
        result["auroc"][demo.id] = aurocs({name: anomaly.scores(nll[name], x, typical) for name, x in sets.items()})
        print(demo.id, json.dumps(result["auroc"][demo.id]), json.dumps(result["mean_nll"][demo.id]), flush=True)
    gray = grayscale_sets(args.limit)
    for demo in [d for d in chosen if d.discriminator_score]:
        with hub.handle(demo.id).use(demo.models[0].name) as model:
            scored = {name: {"discriminator": anomaly.discriminator_scores(demo, model, x)} for name, x in gray.items()}
        result["auroc"][demo.id] = aurocs(scored)
        print(demo.id, json.dumps(result["auroc"][demo.id]), flush=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    ood = [name for name in sets if name != "mnist"]
    print("| model | score | " + " | ".join(ood) + " |\n|---|---|" + "---|" * len(ood))
    for model, by_score in result["auroc"].items():
        for score, values in by_score.items():
            print(f"| {model} | {score} | " + " | ".join(f"{values[name]:.3f}" for name in ood) + " |")


if __name__ == "__main__":
    main()
