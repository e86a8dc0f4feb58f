"""Seconds per training step of the two PixelRNNs (forward and backward on one batch of binarized
digits, the shipped nets' sizes and training batch, one thread): what sets their training time.
With --widths, also Row LSTMs of other sizes on one and two threads: what a wider net would cost; with
--batch-sizes, each of them at other batch sizes too (keys "7x32@64"): what a larger batch would save an epoch.

    python bench/pixelrnn_steps.py [--steps 10] [--widths 6x16,6x32,7x24] [--batch-sizes 32,64]
                                   [--out bench/results/pixelrnn_steps.json]
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
from hub.kit import parameter_count  # noqa: E402
from plugins.pixelrnn.model import PixelRNN  # noqa: E402

BATCH = 32


def seconds_per_step(model: PixelRNN, batch_size: int, steps: int) -> float:
    model.train()
    x = (torch.rand(batch_size, 784, generator=torch.Generator().manual_seed(0)) < 0.15).float()
    for _ in range(2):                                        # warm-up
        (-model.log_prob(x).mean()).backward()
    started = time.perf_counter()
    for _ in range(steps):
        (-model.log_prob(x).mean()).backward()
    return (time.perf_counter() - started) / steps


def shipped(demo: str, steps: int) -> float:
    config = weights.read_config(weights.weights_dir(demo))
    return seconds_per_step(PixelRNN(**config["model"]), config["training"]["batch_size"], steps)


def row_width(size: str, steps: int, batch_size: int = BATCH) -> dict:
    """A Row LSTM of `size` ("LAYERSxHIDDEN"): its parameters and seconds a step on one and two threads."""
    layers, hidden = (int(n) for n in size.split("x"))
    model = PixelRNN("row", layers, hidden)
    timings = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        timings[f"{threads}_thread{'s' if threads > 1 else ''}"] = round(seconds_per_step(model, batch_size, steps), 3)
    torch.set_num_threads(1)
    return {"parameters": parameter_count(model), "batch_size": batch_size, **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--widths", default="", help="Row LSTM sizes to time as well, LAYERSxHIDDEN, comma-separated")
    parser.add_argument("--batch-sizes", default=str(BATCH), help="batch sizes of the --widths, comma-separated")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "pixelrnn_steps.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = {"machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread",
              "seconds_per_step": {demo: round(shipped(demo, args.steps), 3)
                                   for demo in ("pixelrnn_row", "pixelrnn_diagonal")}}
    if args.widths:
        result["row_lstm_widths"] = {size + (f"@{batch}" if batch != BATCH else ""): row_width(size, args.steps, batch)
                                     for size in args.widths.split(",")
                                     for batch in (int(b) for b in args.batch_sizes.split(","))}
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
