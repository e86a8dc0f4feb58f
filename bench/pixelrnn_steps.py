"""Seconds per training step of the two PixelRNNs (forward and backward on one batch of binarized
digits, the shipped nets' sizes and training batch, one thread): what sets their training time.

    python bench/pixelrnn_steps.py [--steps 10] [--out bench/results/pixelrnn_steps.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from hub import weights  # noqa: E402
from plugins.pixelrnn.model import PixelRNN  # noqa: E402


def seconds_per_step(demo: str, steps: int) -> float:
    config = weights.read_config(weights.weights_dir(demo))
    model = PixelRNN(**config["model"]).train()
    x = (torch.rand(config["training"]["batch_size"], 784, generator=torch.Generator().manual_seed(0)) < 0.15).float()
    for _ in range(2):                                        # warm-up
        (-model.log_prob(x).mean()).backward()
    started = time.perf_counter()
    for _ in range(steps):
        (-model.log_prob(x).mean()).backward()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "pixelrnn_steps.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = {"machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread",
              "seconds_per_step": {demo: round(seconds_per_step(demo, args.steps), 3)
                                   for demo in ("pixelrnn_row", "pixelrnn_diagonal")}}
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
