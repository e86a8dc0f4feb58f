"""NADE sampling: the running pre-activation (O(DH) per image) against naive recompute of every
conditional at every pixel (O(D^2 H)), on the shipped weights, same seed, same draws.

    python bench/nade_sampling.py [--digits 16] [--repeats 3]
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
from plugins.nade import load_nade  # noqa: E402


def best_of(repeats: int, run) -> tuple[float, torch.Tensor]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "nade_sampling.json"))
    args = parser.parse_args()
    model = load_nade()
    stateful, fast = best_of(args.repeats, lambda: model.sample(args.digits, torch.Generator().manual_seed(0)))
    naive, slow = best_of(1, lambda: model.sample_naive(args.digits, torch.Generator().manual_seed(0)))
    result = {"machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
              "digits": args.digits, "stateful_s": round(stateful, 3), "naive_recompute_s": round(naive, 2),
              "speedup": round(naive / stateful, 1), "same_samples": bool(torch.equal(fast, slow))}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
