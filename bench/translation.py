"""Latency of the shipped English-German Transformer, one sentence at a time (as the demo
translates): greedy and beam search, each with and without the decoder's key/value cache.

    python bench/translation.py [--sentences 100] [--beam 5] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from hub.kit import data  # noqa: E402
from plugins.translation import load_translator  # noqa: E402


def latencies(translator, sentences: list[str], beam: int, use_cache: bool) -> list[float]:
    out = []
    for sentence in sentences:
        started = time.perf_counter()
        translator.translate_ids([sentence], beam=beam, use_cache=use_cache)
        out.append(1000 * (time.perf_counter() - started))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100, help="the first N test_2016_flickr sentences")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "translation.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    translator = load_translator()
    sentences = data.multi30k("test_2016_flickr")[0][:args.sentences]
    latencies(translator, sentences[:5], 1, True)                       # warm-up
    rows = []
    for name, beam in (("greedy", 1), (f"beam {args.beam}", args.beam)):
        times = {cache: latencies(translator, sentences, beam, cache) for cache in (True, False)}
        rows.append({"decoding": name,
                     "ms_per_sentence_with_cache": round(statistics.mean(times[True]), 1),
                     "ms_per_sentence_without_cache": round(statistics.mean(times[False]), 1),
                     "median_ms_with_cache": round(statistics.median(times[True]), 1),
                     "speed_up_from_cache": round(statistics.mean(times[False]) / statistics.mean(times[True]), 2)})
        print(json.dumps(rows[-1]), flush=True)
    result = {"machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {args.threads} threads",
              "sentences": len(sentences), "split": "test_2016_flickr", "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| decoding | ms/sentence, cache | ms/sentence, no cache | speed-up |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['decoding']} | {r['ms_per_sentence_with_cache']} | {r['ms_per_sentence_without_cache']} | "
              f"{r['speed_up_from_cache']}x |")


if __name__ == "__main__":
    main()
