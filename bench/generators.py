"""The Compare tab's table, measured once for the README: every trained model that draws digits,
the same number of digits from one seed, scored by the shared evaluator, with its drawing speed.

    python bench/generators.py [--digits 1000] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from plugins.compare import tab as compare  # noqa: E402
from hub.core import Hub  # noqa: E402
from hub.placement import parse_inventory  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "generators.json"))
    args = parser.parse_args()
    hub = Hub.create(entry_points=False, devices=parse_inventory(""))
    rows = compare.floors(args.digits, args.seed)
    for demo in compare.generators(hub):
        rows.append(compare.measure(hub, demo, args.digits, args.seed)[1])
        print(json.dumps(dict(zip(compare.COLUMNS, rows[-1]))), flush=True)
    result = {"machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
              "digits": args.digits, "seed": args.seed, "rows": [dict(zip(compare.COLUMNS, row)) for row in rows]}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| " + " | ".join(compare.COLUMNS) + " |\n|" + "---|" * len(compare.COLUMNS))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
