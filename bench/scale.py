"""Many clients at once: the hub unbatched, batched, and on Ray Serve (batched, 2 replicas a demo).

Each setting starts `python app.py` with the VAE, GAN, ViT and translation plugins on 127.0.0.1, then 16 and
32 concurrent gradio_client clients (spread over client processes) send 50 requests each:
1. translation alone (`translation_translate`, beam search of width 5), each client its own Multi30k test
   sentence;
2. a mix: each client cycles through VAE sample (4 x 4), DCGAN generate (16 digits), ViT on a test digit and
   translation, with its own seed, digit and sentence.
Every answer is compared with what one client alone got for the same inputs (before the crowd): an answer
that differs is cross-talk (another client's result delivered, or a batch that mixed requests up). Reported
per setting: throughput, p50 / p95 latency, errors, cross-talk, the server's RSS before and after (under Ray:
the Gradio process and every Ray process), and the cores in use on average during the crowd: the server's
(`server_cores`) and the whole machine's (`machine_cores_busy`; the rest is the clients and the bench). Then,
on the batched hub with one client, where a request's time goes: the model, checking inputs and rendering (the
hub's own counters, the System page's "Batched actions"), and the rest (Gradio, HTTP, the client).

Clients use `ssl_verify=False`: with it on, gradio_client builds a TLS context for every request (about
170 ms of client CPU on this machine) although 127.0.0.1 is plain HTTP; that cost is the client's, not the
hub's, and on a 2-core machine it would be taken from the server.

    python bench/scale.py [--requests 50] [--clients 16 32] [--settings unbatched batched ray]
    python bench/scale.py --settings ray_1_replica --kinds mix --clients 16 --merge   # scaling with replicas
    python bench/scale.py --settings unbatched batched --kinds translation --clients 16 --rounds 3 --merge
        # settings in turn, three times over, each crowd's figures pooled: this machine's speed drifts
    python bench/scale.py --settings batched batched_one_pass --kinds mix --clients 16 --rounds 2 \
        --out bench/results/load_pass_lanes.json      # one forward pass at a time over all demos (--passes-at-once 1)
    OMP_NUM_THREADS=1 python bench/scale.py --settings unbatched batched --kinds translation --clients 16 \
        --requests 30 --out bench/results/load_one_thread.json     # torch on one thread in the server
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from serving import cpu_description, free_port, start  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = "vae,gan,vit,translation"
CLIENT_PROCESSES = 4
RAY_CONFIG = """
[defaults]
min_replicas = {replicas}
max_replicas = {replicas}
[demos.gan]
min_replicas = 1
max_replicas = 1
[demos.cgan]
min_replicas = 1
max_replicas = 1
[demos.infogan]
min_replicas = 1
max_replicas = 1
"""
BARE_APP = """
import sys, numpy as np, gradio as gr
with gr.Blocks() as app:
    seed, image = gr.Number(0), gr.Image(format="png")
    gr.Button().click(lambda s: np.random.default_rng(int(s)).random((98, 98)), seed, image, api_name="sample")
app.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
"""
SETTINGS = {"unbatched": ["--no-batching"], "batched": [], "batched_one_pass": ["--passes-at-once", "1"],
            "ray": ["--ray"], "ray_1_replica": ["--ray"]}
REPLICAS = {"ray": 2, "ray_1_replica": 1}


def sentences(count: int) -> list[str]:
    from hub.kit.data import multi30k

    english, _ = multi30k("test_2016_flickr")
    return english[:count]


def requests_of(client: int, kind: str, count: int, sentence: str) -> list[tuple[str, tuple]]:
    """(api name, inputs) for each of one client's requests."""
    translation = ("/translation_translate", (sentence, "Beam search", 5, "transformer (trained here)"))
    if kind == "translation":
        return [translation] * count
    mix = [("/vae_sample", (client, 1.0, 4)), ("/dcgan_generate", (client, 16, "any", "any", 0, 0, False)),
           ("/vit_classify_test_digit", (client, "ViT (trained here on MNIST)", "rollout (all layers)", "average", 5)),
           translation]
    return [mix[(client + k) % len(mix)] for k in range(count)]


def comparable(answer):
    """An answer as something to compare: images read as pixels, the rest as it is."""
    if isinstance(answer, str) and os.path.isfile(answer):
        from PIL import Image
        return np.asarray(Image.open(answer)).astype(np.int16)
    if isinstance(answer, (tuple, list)):
        return [comparable(part) for part in answer]
    if isinstance(answer, dict):                       # a gr.Label: the top label (its confidences vary in the last digits)
        return answer.get("label")
    return answer


def same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and \
            int(np.abs(a - b).max(initial=0)) <= 2
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def run_clients(url: str, clients: list[int], kind: str, count: int, texts: list[str], expected: dict) -> list[dict]:
    """In one client process: a thread per client, each sending its requests one after another."""
    from gradio_client import Client

    def one(client: int) -> dict:
        gradio = Client(url, verbose=False, ssl_verify=False, download_files=tempfile.mkdtemp())
        latencies, errors, cross = [], 0, 0
        for api_name, inputs in requests_of(client, kind, count, texts[client]):
            started = time.perf_counter()
            try:
                answer = gradio.predict(*inputs, api_name=api_name)
            except Exception:  # noqa: BLE001 - counted, and the client goes on
                errors += 1
                continue
            finally:
                latencies.append(time.perf_counter() - started)
            if not same(comparable(answer), expected[(api_name, repr(inputs))]):
                cross += 1
        return {"latencies": latencies, "errors": errors, "cross_talk": cross}

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(one, clients))


def expected_answers(url: str, kind: str, clients: int, texts: list[str]) -> dict:
    """What one client alone gets for every distinct request the crowd will send."""
    from gradio_client import Client

    gradio = Client(url, verbose=False, ssl_verify=False, download_files=tempfile.mkdtemp())
    answers = {}
    for client in range(clients):
        for api_name, inputs in requests_of(client, kind, 4, texts[client]):
            key = (api_name, repr(inputs))
            if key not in answers:
                answers[key] = comparable(gradio.predict(*inputs, api_name=api_name))
    return answers


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes `pids` have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU time the whole machine has been busy so far (every core, idle and I/O wait left out)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def server_pids(process) -> list[int]:
    """The Gradio process and, under Ray, every Ray process on this machine."""
    pids = [process.pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != process.pid:
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "ray" in command.split("\0")[0] or command.startswith("ray::"):
                pids.append(int(entry.name))
    return pids


def crowd(url: str, kind: str, clients: int, count: int, texts: list[str], expected: dict) -> dict:
    groups = [list(range(i, clients, CLIENT_PROCESSES)) for i in range(CLIENT_PROCESSES)]
    started = time.perf_counter()
    # spawned, not forked: a child forked while one of this process's threads held OpenSSL's lock hangs in its
    # first gradio_client request
    with ProcessPoolExecutor(CLIENT_PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = [r for part in pool.map(run_clients, [url] * len(groups), groups, [kind] * len(groups),
                                           [count] * len(groups), [texts] * len(groups), [expected] * len(groups))
                   for r in part]
    seconds = time.perf_counter() - started
    latencies = [1000 * s for r in results for s in r["latencies"]]
    done = len(latencies) - sum(r["errors"] for r in results)
    return {"clients": clients, "requests": len(latencies), "seconds": round(seconds, 1),
            "throughput_per_s": round(done / seconds, 2),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p95_ms": round(float(np.percentile(latencies, 95)), 1),
            "errors": sum(r["errors"] for r in results), "cross_talk": sum(r["cross_talk"] for r in results),
            "latencies_ms": latencies}


def pooled(runs: list[dict]) -> dict:
    """One crowd's figures over rounds: all requests over all seconds, percentiles of all latencies; each
    round's throughput and mean batch beside them."""
    latencies = [ms for run in runs for ms in run["latencies_ms"]]
    seconds, errors = sum(run["seconds"] for run in runs), sum(run["errors"] for run in runs)
    figures = {"clients": runs[0]["clients"], "requests": len(latencies), "seconds": round(seconds, 1),
               "throughput_per_s": round((len(latencies) - errors) / seconds, 2),
               "p50_ms": round(float(np.percentile(latencies, 50)), 1),
               "p95_ms": round(float(np.percentile(latencies, 95)), 1),
               "errors": errors, "cross_talk": sum(run["cross_talk"] for run in runs),
               "rss_before_mib": runs[0]["rss_before_mib"], "rss_after_mib": runs[-1]["rss_after_mib"],
               "server_processes": runs[-1]["server_processes"], "mean_batch": runs[-1]["mean_batch"]}
    for cores in ("server_cores", "machine_cores_busy"):      # cores in use on average over all rounds
        if all(cores in run for run in runs):
            figures[cores] = round(sum(run[cores] * run["seconds"] for run in runs) / seconds, 2)
    if len(runs) > 1:
        figures.update(rounds=len(runs), throughput_per_round=[run["throughput_per_s"] for run in runs],
                       mean_batch_per_round=[run["mean_batch"] for run in runs])
    return figures


def batch_counters(url: str) -> dict:
    """{action: (requests, forward passes, seconds in the model)} from the System page's "Batched actions"
    (empty when unbatched)."""
    from gradio_client import Client

    table = Client(url, verbose=False, ssl_verify=False).predict(api_name="/batching_status")
    return {row[0]: (row[1], row[2], row[4]) for row in table["data"]}


def mean_batches(before: dict, after: dict) -> dict:
    """Each action's requests per forward pass during a crowd, and its milliseconds per pass."""
    out = {}
    for action, (requests, passes, model_s) in after.items():
        requests_before, passes_before, model_s_before = before.get(action, (0, 0, 0.0))
        if passes > passes_before:
            out[action] = {"requests_per_pass": round((requests - requests_before) / (passes - passes_before), 2),
                           "ms_per_pass": round(1000 * (model_s - model_s_before) / (passes - passes_before), 1)}
    return out


def breakdown(url: str, texts: list[str], calls: int) -> dict:
    """One client, one endpoint at a time: a request's latency split into the model, checking inputs,
    rendering (the hub's counters) and the rest (Gradio's processing, the queue, HTTP, the client)."""
    from gradio_client import Client

    gradio = Client(url, verbose=False, ssl_verify=False, download_files=tempfile.mkdtemp())
    names = {"/vae_sample": "vae_sample", "/dcgan_generate": "dcgan_generate",
             "/vit_classify_test_digit": "vit_classify_test_digit", "/translation_translate": "translation_translate"}

    def counters() -> dict:
        table = gradio.predict(api_name="/batching_status")
        return {row[0]: row for row in table["data"]}

    report = {}
    for api_name, inputs in requests_of(0, "mix", 4, texts[0]):
        gradio.predict(*inputs, api_name=api_name)                       # warm
        before, started = counters(), time.perf_counter()
        for _ in range(calls):
            gradio.predict(*inputs, api_name=api_name)
        latency = (time.perf_counter() - started) / calls
        after = counters()
        name = names[api_name]
        model, check, render = ((after[name][i] - before[name][i]) / calls for i in (4, 5, 6))
        report[name] = {"latency_ms": round(1000 * latency, 1), "model_ms": round(1000 * model, 1),
                        "checking_inputs_ms": round(1000 * check, 1), "rendering_ms": round(1000 * render, 1),
                        "rest_ms": round(1000 * (latency - model - check - render), 1),
                        "model_share": round(model / latency, 3)}
    return report


def gradio_floor(folder: Path, calls: int = 30) -> dict:
    """The same client against a bare Gradio app whose one event returns a random 98 x 98 image (the VAE's
    4 x 4 grid's size) without any model: the floor under every light request."""
    from gradio_client import Client

    (folder / "bare.py").write_text(BARE_APP)
    port = free_port()
    process, _ = start([sys.executable, str(folder / "bare.py"), str(port)], port)
    try:
        gradio = Client(f"http://127.0.0.1:{port}/", verbose=False, ssl_verify=False, download_files=tempfile.mkdtemp())
        gradio.predict(0, api_name="/sample")
        started = time.perf_counter()
        for seed in range(calls):
            gradio.predict(seed, api_name="/sample")
        return {"latency_ms": round(1000 * (time.perf_counter() - started) / calls, 1), "calls": calls}
    finally:
        process.terminate()
        process.wait(timeout=60)


def measure(setting: str, clients_list: list[int], count: int, texts: list[str], folder: Path, kinds: list[str],
            with_breakdown: bool = True) -> dict:
    port = free_port()
    flags = SETTINGS[setting]
    if setting in REPLICAS:
        (folder / "ray.toml").write_text(RAY_CONFIG.format(replicas=REPLICAS[setting]))
        flags = flags + ["--ray-config", str(folder / "ray.toml")]
    process, seconds = start([sys.executable, "app.py", "--port", str(port), "--plugins", PLUGINS, *flags], port,
                             env={"GRADIO_TEMP_DIR": str(folder / setting)})
    url = f"http://127.0.0.1:{port}/"
    try:
        result = {"start_s": round(seconds, 1)}
        for kind in kinds:
            expected = expected_answers(url, kind, max(clients_list), texts)
            for clients in clients_list:
                pids = server_pids(process)
                before, passes_before = rss_mib(pids), batch_counters(url)
                cpu_before = cpu_seconds(pids), busy_seconds()
                figures = crowd(url, kind, clients, count, texts, expected)
                figures.update(rss_before_mib=before, rss_after_mib=rss_mib(pids), server_processes=len(pids),
                               mean_batch=mean_batches(passes_before, batch_counters(url)),
                               server_cores=round((cpu_seconds(pids) - cpu_before[0]) / figures["seconds"], 2),
                               machine_cores_busy=round((busy_seconds() - cpu_before[1]) / figures["seconds"], 2))
                result[f"{kind}_{clients}"] = figures
                print(setting, kind, clients, {k: v for k, v in figures.items() if k != "latencies_ms"}, flush=True)
        if setting == "batched" and with_breakdown:
            result["breakdown_one_client"] = breakdown(url, texts, calls=30)
            result["breakdown_one_client"]["bare_gradio_image_event"] = gradio_floor(folder)
        return result
    finally:
        process.terminate()
        process.wait(timeout=60)


def summary(results: dict, clients: int) -> dict:
    """The figures the issue names, at `clients` clients."""
    def get(setting, kind, key):
        return results.get(setting, {}).get(f"{kind}_{clients}", {}).get(key)

    out = {"clients": clients}
    for kind in ("translation", "mix"):
        for setting in SETTINGS:
            if get(setting, kind, "throughput_per_s") is not None:
                out[f"{kind}_throughput_{setting}"] = get(setting, kind, "throughput_per_s")
                out[f"{kind}_p50_ms_{setting}"] = get(setting, kind, "p50_ms")
                out[f"{kind}_p95_ms_{setting}"] = get(setting, kind, "p95_ms")
    for kind in ("translation", "mix"):
        if out.get(f"{kind}_throughput_unbatched") and out.get(f"{kind}_throughput_batched"):
            out[f"{kind}_batched_over_unbatched"] = round(out[f"{kind}_throughput_batched"] /
                                                          out[f"{kind}_throughput_unbatched"], 2)
    if out.get("mix_throughput_ray") and out.get("mix_throughput_batched"):
        out["mix_batched_over_ray"] = round(out["mix_throughput_batched"] / out["mix_throughput_ray"], 2)
    if out.get("mix_throughput_ray_1_replica") and out.get("mix_throughput_ray"):
        out["mix_ray_2_over_1_replica"] = round(out["mix_throughput_ray"] / out["mix_throughput_ray_1_replica"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--settings", nargs="+", default=["unbatched", "batched", "ray"], choices=list(SETTINGS))
    parser.add_argument("--kinds", nargs="+", default=["translation", "mix"], choices=["translation", "mix"])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    parser.add_argument("--merge", action="store_true", help="add these settings to the report in --out")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the settings in turn this many times and pool each crowd's figures")
    args = parser.parse_args()
    texts = sentences(max(args.clients))
    results = json.loads(Path(args.out).read_text())["settings"] if args.merge else {}
    runs: dict[str, dict[str, list]] = {setting: {} for setting in args.settings}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):          # settings take turns, so that the machine's drift hits each alike
            for setting in args.settings:
                measured = measure(setting, args.clients, args.requests, texts, Path(folder), args.kinds,
                                   with_breakdown=round_ == 0)
                for key, value in measured.items():
                    runs[setting].setdefault(key, []).append(value)
                results[setting] = {**results.get(setting, {}),
                                    **{key: pooled(values) if isinstance(values[0], dict) and "latencies_ms" in values[0]
                                       else values[0] for key, values in runs[setting].items()}}
                report = write_report(results, args)               # after each setting: a long run keeps its figures
    print(json.dumps({k: v for k, v in report.items() if k != "settings"}, indent=2))


def write_report(results: dict, args) -> dict:
    every = [f for s in results.values() for f in s.values() if isinstance(f, dict) and "errors" in f]
    clients = sorted({f["clients"] for f in every})
    report = {
        "machine": f"{os.cpu_count()} CPU cores, no GPU; clients and server on the same machine",
        "cpu": cpu_description(),
        "requests_per_client": args.requests, "plugins": PLUGINS,
        **{f"at_{c}_clients": summary(results, c) for c in clients},
        "errors": sum(f["errors"] for f in every), "cross_talk": sum(f["cross_talk"] for f in every),
        "rss_growth": {f"{s}/{k}": round(f["rss_after_mib"] - f["rss_before_mib"], 1) for s in results
                       for k, f in results[s].items() if isinstance(f, dict) and "rss_after_mib" in f},
        "settings": results,
    }
    if 16 in clients:                      # the keys, at 16 clients
        report.update({key: value for key, value in report["at_16_clients"].items() if key != "clients"})
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
