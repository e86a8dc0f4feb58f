"""The Compare tab's table, measured once for the README: every trained model that draws digits,
the same number of digits from one seed, scored by the shared evaluator, with its drawing speed.

    python bench/generators.py [--digits 1000] [--seed 0]
    python bench/generators.py --demos dcgan      # one retrained model's row again, the others kept from --out
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
    parser.add_argument("--demos", nargs="+", help="measure only these demos and replace their rows in --out")
    args = parser.parse_args()
    hub = Hub.create(entry_points=False, devices=parse_inventory(""))
    machine = f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    demos = [demo for demo in compare.generators(hub) if not args.demos or demo.id in args.demos]
    if args.demos:
        result = json.loads(Path(args.out).read_text())
        if (result["digits"], result["seed"]) != (args.digits, args.seed):
            raise SystemExit(f"{args.out} was measured with --digits {result['digits']} --seed {result['seed']}")
        rows = [[row[column] for column in compare.COLUMNS] for row in result["rows"]]
    else:
        result = {"machine": machine, "digits": args.digits, "seed": args.seed}
        rows = [list(row) for row in compare.floors(args.digits, args.seed)]
    for demo in demos:
        row = list(compare.measure(hub, demo, args.digits, args.seed)[1])
        print(json.dumps(dict(zip(compare.COLUMNS, row))), flush=True)
        at = [i for i, old in enumerate(rows) if old[0] == row[0]]
        if at:
            rows[at[0]] = row
        else:
            rows.append(row)
        if args.demos:
            result.setdefault("measured_again", {})[demo.id] = machine
    result["rows"] = [dict(zip(compare.COLUMNS, row)) for row in rows]
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| " + " | ".join(compare.COLUMNS) + " |\n|" + "---|" * len(compare.COLUMNS))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
