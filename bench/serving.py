"""Cold start and action latency of the hub.

1. Cold start: seconds from launching `python app.py` to its first HTTP 200, beside a bare
   Gradio + torch app launched the same way (ratio = hub / bare); median of --starts runs.
2. Latency: p50 / p95 of every VAE action called through gradio_client on the running hub
   (the first call, which loads the model, is reported apart).

    python bench/serving.py [--starts 3] [--calls 30]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BARE_APP = """
import sys, torch, gradio as gr
with gr.Blocks() as app:
    box = gr.Textbox()
    gr.Button("Go").click(lambda s: s, box, box)
app.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
"""


def cpu_description() -> str:
    """The CPU's name and its wide vector units: this machine's host has changed between runs (AVX2 alone, then
    AVX-512 and AMX), and batched matrix products gain from them more than a lone sentence's small ones."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    wide = [flag for flag in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile") if flag in flags]
    return f"{name} ({', '.join(wide) or 'no AVX2'})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], port: int, cwd: Path = ROOT, env: dict | None = None) -> tuple[subprocess.Popen, float]:
    """Launch in `cwd` (with `env` added), wait for the first HTTP 200, return (process, seconds)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).status == 200:
                return process, time.perf_counter() - started
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}")
            time.sleep(0.05)


def cold_starts(runs: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(BARE_APP)
    times = {"hub": [], "bare": []}
    for _ in range(runs):
        for name, command in (("hub", [sys.executable, "app.py", "--port"]), ("bare", [sys.executable, f.name])):
            port = free_port()
            process, seconds = start(command + [str(port)], port)
            process.terminate()
            process.wait()
            times[name].append(seconds)
    hub, bare = float(np.median(times["hub"])), float(np.median(times["bare"]))
    return {"hub_s": round(hub, 2), "bare_gradio_torch_s": round(bare, 2), "ratio": round(hub / bare, 2),
            "runs": runs}


def latencies(calls: int) -> dict:
    from gradio_client import Client, handle_file
    port = free_port()
    process, _ = start([sys.executable, "app.py", "--port", str(port), "--plugins", "vae"], port)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        digit = client.predict(3, api_name="/vae_test_digit")
        started = time.perf_counter()
        client.predict(0, 1.0, 8, api_name="/vae_sample")
        first_ms = round(1000 * (time.perf_counter() - started), 1)
        actions = {
            "vae_sample (8x8 grid)": lambda: client.predict(0, 1.0, 8, api_name="/vae_sample"),
            "vae_reconstruct_upload (k=500 likelihood)": lambda: client.predict(
                handle_file(digit), api_name="/vae_reconstruct_upload"),
            "vae_interpolate (10 steps)": lambda: client.predict(0, 1, 10, api_name="/vae_interpolate"),
            "vae_test_digit": lambda: client.predict(7, api_name="/vae_test_digit"),
            "vae_latent_map (3000 points)": lambda: client.predict(3000, api_name="/vae_latent_map"),
        }
        results = {"first vae_sample (loads the model)": {"ms": first_ms}}
        for name, call in actions.items():
            samples = []
            for _ in range(calls if "latent" not in name else max(5, calls // 3)):
                started = time.perf_counter()
                call()
                samples.append(1000 * (time.perf_counter() - started))
            results[name] = {"p50_ms": round(float(np.percentile(samples, 50)), 1),
                             "p95_ms": round(float(np.percentile(samples, 95)), 1), "calls": len(samples)}
        return results
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "serving.json"))
    args = parser.parse_args()
    result = {"machine": f"{os.cpu_count()} CPU cores, no GPU", "cold_start": cold_starts(args.starts),
              "latency_over_http": latencies(args.calls)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
