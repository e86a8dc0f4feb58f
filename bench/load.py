"""A short request's latency while the heaviest valid requests run, and the hub's memory under load.

1. Lanes: p50 / p95 / max of the VAE's "Sample" (a 4 x 4 grid, milliseconds of work) called every
   0.25 s by one user, for --window seconds or until the heavy requests end, while two others run:
   (a) two PixelRNN Row LSTM sampling runs of 32 digits, (b) two Compare runs, every model at 2,000
   digits (minutes each). Each short call gives up
   after --give-up seconds (counted as that long). Run it against another checkout with --root to
   measure the hub before a change.
2. Memory: the hub's resident memory (RSS) warm, then every 500 requests over four endpoints (VAE
   sample, ViT on a test digit, NADE likelihood of a drawing, translation), each request from a new
   session as a crowd's would be.
3. Sessions: what Gradio's state for one session costs (tracemalloc), with those four plugins and
   with every plugin.

    python bench/load.py [--root DIR] [--part lanes|memory|sessions|all] [--requests 4000]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import free_port, start  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {
    "two PixelRNN Row LSTM sampling runs (32 digits each)": ("/pixelrnn_row_sample", (0, 32)),
    "two Compare runs (every model, 2,000 digits each)": ("/compare_generators", (None, 2000, 0)),
}


def percentiles(samples: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(samples, 50)), 1), "p95_ms": round(float(np.percentile(samples, 95)), 1),
            "max_ms": round(max(samples), 1), "calls": len(samples)}


def short_calls(client, seconds: float, give_up: float, busy=lambda: True) -> list[float]:
    """The VAE's Sample every 0.25 s for `seconds` or until `busy()` turns false; a call that takes past
    `give_up` counts as that long."""
    samples, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline and busy():
        started = time.perf_counter()
        job = client.submit(0, 1.0, 4, api_name="/vae_sample")
        try:
            job.result(timeout=give_up)
        except TimeoutError:
            job.cancel()
        samples.append(1000 * (time.perf_counter() - started))
        time.sleep(0.25)
    return samples


def lanes(root: Path, window: float, give_up: float) -> dict:
    from gradio_client import Client
    port = free_port()
    process, _ = start([sys.executable, "app.py", "--port", str(port)], port, cwd=root)
    url = f"http://127.0.0.1:{port}/"
    try:
        client = Client(url, verbose=False)
        everyone = [m for m in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
                    ["/compare_generators"]["parameters"][0]["type"]["items"]["enum"]]
        client.predict(0, 1.0, 4, api_name="/vae_sample")                  # loaded: measure serving only
        result = {"no load": percentiles(short_calls(client, 10, give_up))}
        for name, (api, args) in HEAVY.items():
            args = tuple(everyone if a is None else a for a in args)
            heavy = [Client(url, verbose=False).submit(*args, api_name=api) for _ in range(2)]
            time.sleep(1.0)                                                  # both started or queued
            samples = short_calls(client, window, give_up, busy=lambda: not all(job.done() for job in heavy))
            running = sum(not job.done() for job in heavy)
            for job in heavy:
                try:
                    job.cancel()
                except Exception:  # noqa: BLE001 - a busy server may answer the cancel late; it ends below
                    pass
            result[name] = {**percentiles(samples), "heavy requests still running at the end": running}
            print(name, result[name], flush=True)
            time.sleep(3)
        return result
    finally:
        process.terminate()
        process.wait()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


def memory(root: Path, requests: int, extra_env: dict) -> dict:
    from gradio_client import Client, handle_file
    from PIL import Image
    port = free_port()
    process, _ = start([sys.executable, "app.py", "--port", str(port), "--plugins", "vae,vit,nade,translation"],
                       port, cwd=root, env=extra_env)
    url = f"http://127.0.0.1:{port}/"
    drawing = np.zeros((280, 280, 4), np.uint8)
    drawing[60:220, 130:150, 3] = 255                                        # a one
    sketch_path = Path(tempfile.mkdtemp()) / "one.png"
    Image.fromarray(drawing).save(sketch_path)
    try:
        calls = [lambda c: c.predict(0, 1.0, 4, api_name="/vae_sample"),
                 lambda c: c.predict(7, "ViT (trained here on MNIST)", "rollout (all layers)", "average", 3,
                                     api_name="/vit_classify_test_digit"),
                 lambda c: c.predict(handle_file(str(sketch_path)), api_name="/nade_likelihood_upload"),
                 lambda c: c.predict("A man rides a bike.", "Greedy", 1, "transformer (trained here)", api_name="/translation_translate")]
        for call in calls:
            call(Client(url, verbose=False))
        curve = [{"requests": 0, "rss_mib": rss_mib(process.pid)}]
        lock, done = threading.Lock(), [0]

        def worker():
            while True:
                with lock:
                    if done[0] >= requests:
                        return
                    done[0] += 1
                    i = done[0]
                calls[i % len(calls)](Client(url, verbose=False, download_files=False))
                if i % 500 == 0:
                    with lock:
                        curve.append({"requests": i, "rss_mib": rss_mib(process.pid)})

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {"env": extra_env, "rss_curve": sorted(curve, key=lambda point: point["requests"])}
    finally:
        process.terminate()
        process.wait()


def session_size(plugins: str | None, sessions: int = 20) -> dict:
    """What Gradio's state for one session costs (tracemalloc, in this process), for the hub with
    `plugins` (comma-separated; None = all)."""
    import tracemalloc

    from gradio.state_holder import SessionState

    sys.path.insert(0, str(ROOT))
    from hub.core import Hub
    from hub.placement import parse_inventory
    from hub.ui import build_app

    app = build_app(Hub.create(allow=plugins, entry_points=False, devices=parse_inventory("")))
    app.config = app.get_config_file()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [SessionState(app) for _ in range(sessions)]
    per_session = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    tracemalloc.stop()
    return {"plugins": plugins or "all", "components": len(app.blocks), "kib_per_session": round(per_session / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose app.py is measured")
    parser.add_argument("--part", choices=["lanes", "memory", "sessions", "all"], default="all")
    parser.add_argument("--window", type=float, default=60, help="seconds of short calls under each heavy load")
    parser.add_argument("--give-up", type=float, default=120)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment of the measured hub (memory part)")
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    result = {"machine": f"{os.cpu_count()} CPU cores, no GPU", "root": str(root)}
    if args.part in ("lanes", "all"):
        result["short request (VAE sample) latency"] = lanes(root, args.window, args.give_up)
    if args.part in ("memory", "all"):
        result["memory"] = memory(root, args.requests, dict(item.split("=", 1) for item in args.env))
    if args.part in ("sessions", "all"):
        result["gradio state per session"] = [session_size("vae,vit,nade,translation"), session_size(None)]
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
