"""Latency of the shipped English-German Transformer, one sentence at a time (as the demo
translates): greedy and beam search, each with and without the decoder's key/value cache. With
`--batches`, instead: milliseconds a sentence when N sentences share one beam search (as the batched hub
serves a crowd), against one at a time: the most batching can buy in the model itself.

    python bench/translation.py [--sentences 100] [--beam 5] [--threads 2]
    python bench/translation.py --batches 1 4 8 16 --out bench/results/translation_batches.json
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


def batch_scaling(translator, sentences: list[str], beam: int, sizes: list[int], repeats: int = 3) -> list[dict]:
    """For each size N: the sentences in passes of N (best of `repeats`), milliseconds a pass and a sentence."""
    rows = []
    for size in sizes:
        passes = [sentences[i:i + size] for i in range(0, len(sentences) - size + 1, size)]
        best = min(timed(lambda: [translator.translate_ids(group, beam=beam) for group in passes])
                   for _ in range(repeats))
        rows.append({"sentences_a_pass": size, "ms_a_pass": round(1000 * best / len(passes), 1),
                     "ms_a_sentence": round(1000 * best / (len(passes) * size), 1)})
        rows[-1]["speed_up_over_one_at_a_time"] = round(rows[0]["ms_a_sentence"] / rows[-1]["ms_a_sentence"], 2)
        print(json.dumps(rows[-1]), flush=True)
    return rows


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100, help="the first N test_2016_flickr sentences")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", help="sentences a pass to compare (beam search only)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "translation.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    translator = load_translator()
    sentences = data.multi30k("test_2016_flickr")[0][:args.sentences]
    latencies(translator, sentences[:5], 1, True)                       # warm-up
    machine = f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {args.threads} threads"
    if args.batches:
        rows = batch_scaling(translator, sentences, args.beam, args.batches)
        Path(args.out).write_text(json.dumps({"machine": machine, "sentences": len(sentences), "beam": args.beam,
                                              "split": "test_2016_flickr", "rows": rows}, indent=2) + "\n")
        return
    rows = []
    for name, beam in (("greedy", 1), (f"beam {args.beam}", args.beam)):
        times = {cache: latencies(translator, sentences, beam, cache) for cache in (True, False)}
        rows.append({"decoding": name,
                     "ms_per_sentence_with_cache": round(statistics.mean(times[True]), 1),
                     "ms_per_sentence_without_cache": round(statistics.mean(times[False]), 1),
                     "median_ms_with_cache": round(statistics.median(times[True]), 1),
                     "speed_up_from_cache": round(statistics.mean(times[False]) / statistics.mean(times[True]), 2)})
        print(json.dumps(rows[-1]), flush=True)
    result = {"machine": machine, "sentences": len(sentences), "split": "test_2016_flickr", "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| decoding | ms/sentence, cache | ms/sentence, no cache | speed-up |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['decoding']} | {r['ms_per_sentence_with_cache']} | {r['ms_per_sentence_without_cache']} | "
              f"{r['speed_up_from_cache']}x |")


if __name__ == "__main__":
    main()
