"""Ray Serve mode (`python app.py --ray`): every demo a Serve deployment, the Gradio app their client.

The Gradio app stays in the process that starts the hub and calls each demo's replicas through a deployment
handle. Gradio keeps what is per session (its queue, event streams, uploads, the pages) in one process, so
it is not itself made the Serve ingress: behind Serve's proxy, one session's requests would land on different
replicas. Only the work moves: to replicas that Ray places by the resources each deployment declares.

A replica builds the same hub from the same plugin sources, builds its demo's interface once (never served)
to learn the demo's actions by name, and runs them there under the hub's own error handling, so a plugin
written for one process runs unchanged. Actions a plugin marks `Batched` go through `@serve.batch`.

Resources come from what the hub knows: a demo's estimated model bytes (times `memory_factor`, for
activations) over `gpu_memory_gib` is its fractional `num_gpus` on a cluster with GPUs, so several small
models share one GPU; on a cluster without GPUs every replica is a CPU replica. Inside a replica the hub's
placement puts the models on the GPU Ray gave it, or falls back to the CPU.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import os
import pickle
import time
import tomllib
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from ray import serve

from .batching import Batched, gathering
from .uploads import is_uploaded

log = logging.getLogger("hub.ray")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = Path(__file__).with_name("ray_serve.toml")
LOOPBACK = "127.0.0.1"


def load_settings(path: str | Path | None = None) -> dict:
    """The shipped defaults (hub/ray_serve.toml) with `path`'s values over them: {"defaults": {...},
    "demos": {demo id: {...}}}."""
    settings = tomllib.loads(DEFAULT_CONFIG.read_text())
    if path is not None:
        given = tomllib.loads(Path(path).read_text())
        unknown = set(given.get("defaults", {})) - set(settings["defaults"])
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}; known: {sorted(settings['defaults'])}")
        settings["defaults"].update(given.get("defaults", {}))
        settings["demos"] = {**settings.get("demos", {}), **given.get("demos", {})}
    return settings


def demo_settings(settings: dict, demo_id: str) -> dict:
    return {**settings["defaults"], **settings.get("demos", {}).get(demo_id, {})}


def replica_resources(estimated_bytes: int, settings: dict, cluster_has_gpus: bool) -> dict:
    """`ray_actor_options` of one demo's replicas: a GPU share sized by its models' bytes where the cluster
    has GPUs (a `num_gpus` in the settings wins), CPUs only where it has none."""
    resources = {"num_cpus": settings["num_cpus"]}
    if "num_gpus" in settings:
        gpus = float(settings["num_gpus"])
    elif cluster_has_gpus:
        share = estimated_bytes * settings["memory_factor"] / (settings["gpu_memory_gib"] * 2**30)
        gpus = round(min(1.0, max(settings["min_gpu_fraction"], share)), 4)
    else:
        gpus = 0.0
    if gpus:
        resources["num_gpus"] = gpus
    return resources


def deployment_options(demo, settings: dict, cluster_has_gpus: bool) -> dict:
    """The `serve.deployment` options of one demo: autoscaling bounds and target, its resources."""
    mine = demo_settings(settings, demo.id)
    return {
        "name": demo.id,
        "ray_actor_options": replica_resources(demo.estimated_bytes, mine, cluster_has_gpus),
        "max_ongoing_requests": mine["max_ongoing_requests"],
        "autoscaling_config": {"min_replicas": mine["min_replicas"], "max_replicas": mine["max_replicas"],
                               "initial_replicas": mine["min_replicas"],
                               "target_ongoing_requests": mine["target_ongoing_requests"],
                               "upscale_delay_s": mine["upscale_delay_s"], "downscale_delay_s": mine["downscale_delay_s"]},
    }


@dataclass
class Upload:
    """A file uploaded to this Gradio process, travelling to a replica that may run on another node."""
    name: str
    data: bytes


def shipped(inputs: tuple) -> tuple:
    """The inputs with each uploaded file's path replaced by its bytes (only files in Gradio's upload cache)."""
    return tuple(Upload(Path(value).name, Path(value).read_bytes()) if isinstance(value, str) and is_uploaded(value)
                 else value for value in inputs)


def failure(error: gr.Error) -> bytes:
    return pickle.dumps(("error", error.message, error.title))


class DemoReplica:
    """One replica of one demo: the demo's actions, run by name."""

    def __init__(self, demo_id: str, sources: dict, strict: bool, max_batch_size: int, batch_wait_timeout_s: float):
        from gradio.utils import get_upload_folder

        from .core import Hub
        from .ui import DemoContext

        serve_replica_on_node_address()
        self.hub = Hub.create(**sources, strict=strict)
        self.hub.batching = False                 # @serve.batch batches here
        demo = self.hub.demos[demo_id]
        self.context = DemoContext(self.hub, demo)
        with gr.Blocks():
            demo.build_ui(self.context)
        self.hub.start()
        self.uploads = Path(get_upload_folder()) / "ray"
        self.batched.set_max_batch_size(max_batch_size)
        self.batched.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self.shortest_batch_wait_s = batch_wait_timeout_s

    def _local(self, inputs: tuple) -> tuple:
        """The inputs with each shipped file written to this replica's upload cache."""
        local = []
        for value in inputs:
            if isinstance(value, Upload):
                folder = self.uploads / uuid.uuid4().hex
                folder.mkdir(parents=True)
                path = folder / (Path(value.name).name or "upload")
                path.write_bytes(value.data)
                value = str(path)
            local.append(value)
        return tuple(local)

    def _run(self, call) -> bytes:
        """The outcome of `call()` pickled here: Ray would hand the driver numpy arrays (inside figures too)
        read-only, straight from its object store, and Gradio writes into some while rendering."""
        try:
            return pickle.dumps(("ok", call()))
        except gr.Error as error:
            return failure(error)

    async def call(self, action: str, inputs: tuple) -> tuple:
        handler = self.context.guard(self.context.actions[action])
        return await asyncio.to_thread(self._run, lambda: handler(*self._local(inputs)))

    def stream(self, action: str, inputs: tuple):
        try:
            for outputs in self.context.guard(self.context.actions[action])(*self._local(inputs)):
                yield pickle.dumps(("ok", outputs))
        except gr.Error as error:
            yield failure(error)

    @serve.batch
    async def batched(self, requests: list[tuple[str, tuple]]) -> list[tuple]:
        started = time.perf_counter()
        results = await asyncio.to_thread(self._batch, requests)
        # as the one-process batcher does: wait for a crowd in proportion to the last pass (`batching.gathering`)
        self.batched.set_batch_wait_timeout_s(
            max(self.shortest_batch_wait_s, gathering(time.perf_counter() - started)[0]))
        return results

    def _batch(self, requests: list[tuple[str, tuple]]) -> list[bytes]:
        """Each request checked apart, one pass per action (and key) for the good ones, each rendered apart."""
        guard, results = self.context.guard, [b""] * len(requests)
        waiting: dict[str, list[tuple[int, object]]] = {}
        for position, (action, inputs) in enumerate(requests):
            try:
                item = guard(self.context.actions[action].prepare)(*self._local(inputs))
            except gr.Error as error:
                results[position] = failure(error)
            else:
                waiting.setdefault(action, []).append((position, item))
        for action, entries in waiting.items():
            batched = self.context.actions[action]
            try:
                served = guard(batched.run_grouped)([item for _, item in entries])
            except gr.Error as error:
                served = [error] * len(entries)
            for (position, _), result in zip(entries, served):
                results[position] = failure(result) if isinstance(result, gr.Error) else \
                    self._run(lambda: guard(batched.finish)(result))
        return results


def serve_replica_on_node_address() -> None:
    """Serve starts each replica's inter-deployment gRPC server on every interface ("[::]:0", fixed in its code);
    this binds it to the node's own address instead (127.0.0.1 on a local instance), as every other Ray
    process is. Called in the replica before Serve starts that server."""
    import ray
    from ray.serve._private import replica

    bind = getattr(replica, "add_port_to_grpc_server", None)
    if bind is None or getattr(bind, "hub_bound", False):
        return
    node_address = ray.util.get_node_ip_address()

    def bind_on_node_address(server, address: str):
        return bind(server, address.replace("[::]", f"[{node_address}]" if ":" in node_address else node_address, 1))

    bind_on_node_address.hub_bound = True
    replica.add_port_to_grpc_server = bind_on_node_address


RETRIED = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "DeploymentUnavailableError")


def retryable(error: BaseException) -> bool:
    """A replica died or is restarting: the request is sent again (demo actions are pure functions of their
    inputs, seeds included)."""
    return any(kind.__name__ in RETRIED for kind in type(error).__mro__)


def opened(payload: bytes):
    payload = pickle.loads(payload)      # from this hub's own replicas
    if payload[0] == "ok":
        return payload[1]
    raise gr.Error(payload[1], title=payload[2], print_exception=False)


class RemoteDemos:
    """The Gradio side: a handle per demo and the functions that Gradio's events call instead of the actions."""

    def __init__(self, handles: dict, settings: dict):
        self.handles, self.settings = handles, settings

    def concurrency(self, demo_id: str, heavy: bool) -> int:
        """How many of this action's requests Gradio lets through at once: what its replicas take."""
        mine = demo_settings(self.settings, demo_id)
        return mine["max_replicas"] * (1 if heavy else mine["max_ongoing_requests"])

    def caller(self, demo_id: str, action: str, fn):
        """The event function for `action` of `demo_id`: same signature, runs on the demo's replicas."""
        handle, mine = self.handles[demo_id], demo_settings(self.settings, demo_id)
        signature = inspect.signature(fn)

        def attempts():
            for attempt in range(mine["retries"] + 1):
                yield attempt == mine["retries"]
                time.sleep(min(2.0 ** attempt, 10.0))

        if inspect.isgeneratorfunction(fn):
            def remote_stream(*inputs):
                request = (action, shipped(inputs))
                for last in attempts():
                    try:
                        for payload in handle.options(stream=True).stream.remote(*request):
                            yield opened(payload)
                        return
                    except Exception as error:  # noqa: BLE001 - only a dead replica is retried
                        if last or not retryable(error):
                            raise unavailable(demo_id, error) from None
                        log.warning("%s_%s: replica lost (%s); sending again", demo_id, action, type(error).__name__)
            remote_stream.__signature__ = signature
            return remote_stream

        def remote_call(*inputs):
            request = (action, shipped(inputs))
            for last in attempts():
                try:
                    if isinstance(fn, Batched):
                        payload = handle.batched.remote(request).result(timeout_s=mine["request_timeout_s"])
                    else:
                        payload = handle.call.remote(*request).result(timeout_s=mine["request_timeout_s"])
                    return opened(payload)
                except gr.Error:
                    raise
                except Exception as error:  # noqa: BLE001
                    if last or not retryable(error):
                        raise unavailable(demo_id, error) from None
                    log.warning("%s_%s: replica lost (%s); sending again", demo_id, action, type(error).__name__)
        remote_call.__signature__ = signature
        return remote_call


def unavailable(demo_id: str, error: BaseException) -> gr.Error:
    log.error("demo %s on Ray Serve failed", demo_id, exc_info=error)
    return gr.Error(f"The replicas of '{demo_id}' could not answer ({type(error).__name__}); the hub's log says why. "
                    "The other demos are not affected.", title="Demo unavailable", print_exception=False)


def connect(address: str | None = None) -> None:
    """Join the cluster at `address`, or start a local Ray instance bound to 127.0.0.1 (dashboard included)."""
    import ray

    if ray.is_initialized():
        return
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}}
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        return
    with loopback_only():
        ray.init(_node_ip_address=LOOPBACK, dashboard_host=LOOPBACK, runtime_env=runtime_env, log_to_driver=False)


@contextmanager
def loopback_only():
    """ray.init turns 127.0.0.1 (in `address` and `_node_ip_address`) into this machine's outward address,
    unless Ray's switch for single-machine clusters (off on Linux) is on; on inside the block. A local
    instance then listens on, and is reached at, the loopback only."""
    from ray._private import ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


def deploy(hub, demo_ids: list[str], settings: dict | None = None, address: str | None = None) -> RemoteDemos:
    """A Serve application per demo (all deployed at once, waited for), and `hub.remote` set to call them."""
    import ray

    settings = settings or load_settings()
    connect(address)
    serve.start(proxy_location="Disabled")                     # Gradio is the only client: no HTTP proxy
    cluster_has_gpus = ray.cluster_resources().get("GPU", 0) > 0
    targets = []
    for demo_id in demo_ids:
        mine = demo_settings(settings, demo_id)
        options = deployment_options(hub.demos[demo_id], settings, cluster_has_gpus)
        app = serve.deployment(DemoReplica, **options).bind(demo_id, hub.sources, hub.strict, mine["max_batch_size"],
                                                            mine["batch_wait_timeout_s"])
        targets.append(serve.RunTarget(app, name=demo_id, route_prefix=None))
        log.info("deploying %s with %s", demo_id, options["ray_actor_options"])
    handles = serve.run_many(targets) if targets else []
    hub.remote = RemoteDemos(dict(zip(demo_ids, handles)), settings)
    return hub.remote
