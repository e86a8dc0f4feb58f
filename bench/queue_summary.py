"""What Gradio's queue spends after every event on the summary behind its monitoring page: milliseconds to
rebuild it from N recorded events (Gradio keeps up to 10,000), with Gradio's default setting and with the
hub's (`app.put_off_queue_summary`), median of --repeats.

    python bench/queue_summary.py [--repeats 20]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from app import QUEUE_SUMMARY_EVERY, put_off_queue_summary  # noqa: E402
from serving import cpu_description  # noqa: E402

EVENTS = (100, 2_400, 10_000)


def milliseconds_an_event(events: int, repeats: int) -> float:
    """The median time of one event's summary call on a queue that has recorded `events` events."""
    import gradio as gr

    with gr.Blocks() as app:
        gr.Number()
    app.queue()
    queue = app._queue
    records = [{"time": time.time(), "status": "success", "function": f"action_{i % 4}", "process_time": 0.05 + i % 7,
                "session_hash": f"session{i % 16}"} for i in range(events)]
    times = []
    for _ in range(repeats):
        queue.events_recorded += 1                  # as Gradio counts each event before it summarises
        started = time.perf_counter()
        queue.compute_analytics_summary(records)
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "queue_summary.json"))
    args = parser.parse_args()
    os.environ.pop(QUEUE_SUMMARY_EVERY, None)
    default = {str(n): milliseconds_an_event(n, args.repeats) for n in EVENTS}
    put_off_queue_summary()
    hub = {str(n): milliseconds_an_event(n, args.repeats) for n in EVENTS}
    report = {"cpu": cpu_description(), "repeats": args.repeats,
              "ms_an_event_by_events_recorded": {"gradio_default": default, "hub": hub}}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
