"""Pixel-by-pixel sampling with kept state (NADE's running pre-activation, PixelRNN's row-wise
recurrent state) against naive recompute of the whole image at every pixel, on the shipped
weights of each demo, same seed, same draws.

    python bench/sampling.py [DEMO ...] [--digits 16] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from hub.core import Hub  # noqa: E402
from hub.placement import parse_inventory  # noqa: E402

DEMOS = ["nade", "pixelrnn_row", "pixelrnn_diagonal"]
DEMO_DEFAULT = 8             # the demos' default number of digits (hub/kit/pixel_demo.py)


def best_of(repeats: int, run) -> tuple[float, torch.Tensor]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def first_row(model, digits: int) -> float:
    """Seconds until the demo can show the first row of `digits` digits (it streams one frame a row)."""
    started = time.perf_counter()
    for i, _ in model.sample_steps(digits, torch.Generator().manual_seed(0)):
        if i == 27:
            return time.perf_counter() - started


def bench(model, digits: int, repeats: int) -> dict:
    stateful, fast = best_of(repeats, lambda: model.sample(digits, torch.Generator().manual_seed(0)))
    naive, slow = best_of(1, lambda: model.sample_naive(digits, torch.Generator().manual_seed(0)))
    demo_whole, _ = best_of(repeats, lambda: model.sample(DEMO_DEFAULT, torch.Generator().manual_seed(0)))
    return {"digits": digits, "stateful_s": round(stateful, 3), "naive_recompute_s": round(naive, 2),
            "speedup": round(naive / stateful, 1), "same_samples": bool(torch.equal(fast, slow)),
            f"demo_default_{DEMO_DEFAULT}_digits_first_row_s": round(first_row(model, DEMO_DEFAULT), 3),
            f"demo_default_{DEMO_DEFAULT}_digits_whole_s": round(demo_whole, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demos", nargs="*", default=DEMOS)
    parser.add_argument("--digits", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "sampling.json"))
    args = parser.parse_args()
    hub = Hub.create(entry_points=False, devices=parse_inventory(""))
    results = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    results["machine"] = f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    for demo in args.demos:
        with hub.handle(demo).use() as model:
            results[demo] = bench(model, args.digits, args.repeats)
        print(demo, json.dumps(results[demo]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
