"""Milliseconds an image for every caption-to-image model of the hub (DemoSpec.caption_sample): the same
captions, one image a call and in batches, best of a few repeats, with each model's speed-up over the
slowest.

    python bench/text2image_speed.py [--repeats 3] [--threads 1]
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
from hub.kit.captions import EXAMPLE_CAPTIONS as CAPTIONS  # noqa: E402
from hub.placement import parse_inventory  # noqa: E402

BATCHES = (1, 8, 64)


def milliseconds_an_image(demo, model, batch: int, repeats: int) -> float:
    texts = [CAPTIONS[i % len(CAPTIONS)] for i in range(batch)]
    best = float("inf")
    for repeat in range(repeats + 1):                       # the first call warms up and is not counted
        started = time.perf_counter()
        demo.caption_sample(model, texts, torch.Generator().manual_seed(repeat))
        if repeat:
            best = min(best, time.perf_counter() - started)
    return 1000 * best / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "text2image_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hub = Hub.create(entry_points=False, devices=parse_inventory(""))
    rows = []
    for demo in [d for d in hub.demos.values() if d.caption_sample and d.trained]:
        with hub.handle(demo.id).use(demo.models[0].name) as model:
            row = {"demo": demo.id, "title": demo.title,
                   **{f"ms_per_image_batch_{b}": round(milliseconds_an_image(demo, model, b, args.repeats), 3)
                      for b in BATCHES}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    for row in rows:
        for b in BATCHES:
            slowest = max(r[f"ms_per_image_batch_{b}"] for r in rows)
            row[f"speedup_over_slowest_batch_{b}"] = round(slowest / row[f"ms_per_image_batch_{b}"], 1)
    result = {"machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {args.threads} thread(s)",
              "repeats": args.repeats, "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| model | " + " | ".join(f"ms an image, batch {b}" for b in BATCHES) + " | speed-up, batch 1 |")
    print("|---|" + "---|" * (len(BATCHES) + 1))
    for row in rows:
        print(f"| {row['title']} | " + " | ".join(str(row[f"ms_per_image_batch_{b}"]) for b in BATCHES)
              + f" | {row['speedup_over_slowest_batch_1']}x |")


if __name__ == "__main__":
    main()
