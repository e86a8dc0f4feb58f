"""Replays a Zipf-distributed request mix over simulated models on mixed GPUs.

Reports evictions and bytes moved per 1,000 requests for the hub's placement (best fit + GDSF
eviction over all GPUs) beside two LRU baselines: one device (the ComfyUI style: a single GPU,
least-recently-used model offloaded to CPU) and LRU over the same GPUs (first fit).

    python bench/placement.py [--models 24] [--requests 20000] [--zipf 1.1] [--seeds 5]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hub.placement import Placement, parse_inventory  # noqa: E402

G = 1 << 30
INVENTORY = "24G,24G,12G,8G"


class FakeModel:
    def __init__(self, nbytes):
        self.nbytes = nbytes

    def to(self, device):
        return self


def model_sizes(n: int, rng: np.random.Generator) -> list[int]:
    """A mix like a real hub: many small demos, some mid-size, a few large checkpoints (0.2-16 GB)."""
    return [int(s * G) for s in np.clip(rng.lognormal(mean=0.6, sigma=1.0, size=n), 0.2, 16.0)]


def request_stream(n_models: int, n_requests: int, zipf: float, rng: np.random.Generator) -> np.ndarray:
    """Model indices with P(rank r) ~ 1/r^zipf; the popularity order is shuffled so it is unrelated to size."""
    weights = 1.0 / np.arange(1, n_models + 1) ** zipf
    order = rng.permutation(n_models)
    return order[rng.choice(n_models, size=n_requests, p=weights / weights.sum())]


def run_placement(sizes, requests, inventory=INVENTORY) -> dict:
    placement = Placement(parse_inventory(inventory, cpu="128G"), headroom=0.05)
    for i, size in enumerate(sizes):
        placement.add(f"m{i}", lambda size=size: FakeModel(size), size)
    for i in requests:
        with placement.lease(f"m{i}"):
            pass
    gpu_loads = sum(1 for _, _, to in placement.stats.moves if to and to.startswith("cuda"))
    return {"evictions": placement.stats.evictions, "bytes_moved": placement.stats.bytes_moved,
            "gpu_loads": gpu_loads, "cpu_served": placement.stats.cpu_fallbacks}


def run_lru(sizes, requests, capacities: list[int]) -> dict:
    """LRU baseline: first GPU with room, else evict the least recently used model (to CPU) from
    the first GPU that can make room; a model larger than every GPU is served from the CPU."""
    resident = [OrderedDict() for _ in capacities]      # per GPU: model -> size, in recency order
    loaded_once, evictions, moved, gpu_loads, cpu_served = set(), 0, 0, 0, 0
    for i in requests:
        where = next((g for g, models in enumerate(resident) if i in models), None)
        if where is not None:
            resident[where].move_to_end(i)
            continue
        size = sizes[i]
        if i not in loaded_once:                         # first use reads it from disk to the CPU
            loaded_once.add(i)
            moved += size
        fits = [g for g, cap in enumerate(capacities) if sum(resident[g].values()) + size <= cap]
        if not fits:
            fits = [g for g, cap in enumerate(capacities) if size <= cap]
            if not fits:
                cpu_served += 1
                continue
            g = fits[0]
            while sum(resident[g].values()) + size > capacities[g]:
                resident[g].popitem(last=False)
                evictions += 1
                moved += size
        g = fits[0]
        resident[g][i] = size
        moved += size
        gpu_loads += 1
    return {"evictions": evictions, "bytes_moved": moved, "gpu_loads": gpu_loads, "cpu_served": cpu_served}


def per_thousand(result: dict, n: int) -> dict:
    return {"evictions_per_1k": 1000 * result["evictions"] / n,
            "gb_moved_per_1k": 1000 * result["bytes_moved"] / n / G,
            "gpu_loads_per_1k": 1000 * result["gpu_loads"] / n,
            "cpu_served_per_1k": 1000 * result["cpu_served"] / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=24)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "placement.json"))
    args = parser.parse_args()

    capacities = [int(d.total * 0.95) for d in parse_inventory(INVENTORY) if d.kind == "cuda"]
    policies = {
        "hub placement (best fit + GDSF, 4 GPUs)": lambda s, r: run_placement(s, r),
        "LRU, 4 GPUs (first fit)": lambda s, r: run_lru(s, r, capacities),
        "LRU, one 24G GPU (ComfyUI style)": lambda s, r: run_lru(s, r, capacities[:1]),
    }
    totals = {name: [] for name in policies}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        sizes = model_sizes(args.models, rng)
        requests = request_stream(args.models, args.requests, args.zipf, rng)
        for name, run in policies.items():
            totals[name].append(per_thousand(run(sizes, requests), args.requests))
    summary = {name: {k: round(float(np.mean([r[k] for r in runs])), 2) for k in runs[0]}
               for name, runs in totals.items()}
    setup = {"models": args.models, "requests": args.requests, "zipf": args.zipf, "seeds": args.seeds,
             "inventory": INVENTORY, "headroom": 0.05}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"setup": setup, "results": summary}, indent=2) + "\n")
    print(f"{args.models} models, {args.requests} Zipf({args.zipf}) requests, GPUs {INVENTORY}, "
          f"mean of {args.seeds} seeds, per 1,000 requests:")
    print("| policy | evictions | GB moved | GPU loads | served on CPU |\n|---|---|---|---|---|")
    for name, r in summary.items():
        print(f"| {name} | {r['evictions_per_1k']:.1f} | {r['gb_moved_per_1k']:.1f} | "
              f"{r['gpu_loads_per_1k']:.1f} | {r['cpu_served_per_1k']:.1f} |")


if __name__ == "__main__":
    main()
