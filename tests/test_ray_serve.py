"""Ray Serve mode on a real two-node Ray cluster on this machine (every node bound to 127.0.0.1, logical GPUs
declared, no CUDA: the models fall back to the CPU inside their replicas)."""
import textwrap
import threading
import time

import numpy as np
import pytest

from hub.ray_serve import deployment_options, load_settings, loopback_only, replica_resources

GIB = 2**30

# A plugin that tells where its replica runs; its demos weigh 0.6 of a (1 GiB) GPU each, so two cannot share one.
PROBE = '''
import os
import time

import torch

from hub import Batched, DemoSpec, ModelSpec, hookimpl


def where(ctx):
    import ray

    with ctx.models.use():
        device = ctx.models.device()
    context = ray.get_runtime_context()
    return {"node": context.get_node_id(), "actor": context.get_actor_name(), "pid": os.getpid(), "device": device}


def build_ui(ctx):
    import gradio as gr

    number, answer = gr.Number(value=0), gr.JSON()
    ctx.on(gr.Button("where").click, "where", lambda: where(ctx), None, answer)

    def slow(value):
        time.sleep(4)
        return {"value": value, "pid": os.getpid()}

    ctx.on(gr.Button("slow").click, "slow", slow, number, answer)

    def square(values):
        with ctx.models.use() as model:
            return model(torch.tensor(values, dtype=torch.float32)[:, None])[:, 0].tolist()

    def checked(value):
        if value is None or value < 0:
            from hub import InputError
            raise InputError("give a number of at least 0")
        return value

    ctx.on(gr.Button("double").click, "double", Batched(checked, square), number, gr.Number())


def doubler():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 2.0)
    return model


@hookimpl
def register_demos(register):
    for name in ("probe_a", "probe_b"):
        register(DemoSpec(id=name, title=name, description="where am I", build_ui=build_ui,
                          models=[ModelSpec(name, doubler, estimated_bytes=int(0.6 * 2**30))]))
'''


def test_the_shipped_settings_are_sensible():
    defaults = load_settings()["defaults"]
    assert 1 <= defaults["min_replicas"] <= defaults["max_replicas"]
    assert defaults["max_ongoing_requests"] >= defaults["max_batch_size"]
    assert 0 < defaults["min_gpu_fraction"] < 1 and defaults["retries"] >= 1


def test_a_settings_file_overrides_defaults_and_one_demo(tmp_path):
    path = tmp_path / "ray.toml"
    path.write_text("[defaults]\nmax_replicas = 5\n[demos.translation]\nmax_replicas = 8\nnum_gpus = 0\n")
    settings = load_settings(path)
    assert settings["defaults"]["max_replicas"] == 5 and settings["demos"]["translation"]["max_replicas"] == 8
    path.write_text("[defaults]\nmax_replica = 5\n")
    with pytest.raises(ValueError, match="max_replica"):
        load_settings(path)


def test_a_model_s_bytes_set_its_share_of_a_gpu():
    settings = {**load_settings()["defaults"], "gpu_memory_gib": 8.0, "memory_factor": 2.0}
    assert replica_resources(2 * GIB, settings, cluster_has_gpus=True)["num_gpus"] == 0.5
    assert replica_resources(100, settings, cluster_has_gpus=True)["num_gpus"] == settings["min_gpu_fraction"]
    assert replica_resources(64 * GIB, settings, cluster_has_gpus=True)["num_gpus"] == 1.0
    assert "num_gpus" not in replica_resources(2 * GIB, settings, cluster_has_gpus=False)    # CPU replicas
    assert "num_gpus" not in replica_resources(2 * GIB, {**settings, "num_gpus": 0}, cluster_has_gpus=True)


def test_deployment_options_carry_autoscaling_bounds():
    from hub.specs import DemoSpec, ModelSpec

    demo = DemoSpec(id="big", title="Big", description="", build_ui=lambda ctx: None,
                    models=[ModelSpec("m", lambda: None, estimated_bytes=4 * GIB)])
    settings = load_settings()
    settings["demos"] = {"big": {"max_replicas": 6}}
    options = deployment_options(demo, settings, cluster_has_gpus=True)
    assert options["autoscaling_config"]["max_replicas"] == 6
    assert options["autoscaling_config"]["min_replicas"] == settings["defaults"]["min_replicas"]
    assert options["ray_actor_options"]["num_gpus"] == 0.5           # 4 GiB x 2 of a 16 GiB GPU


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two nodes of 2 logical CPUs and 1 logical GPU each, all on 127.0.0.1, shut down at the end."""
    import ray
    from ray import serve
    from ray.cluster_utils import Cluster

    node = {"node_ip_address": "127.0.0.1", "num_cpus": 2, "num_gpus": 1, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=node)
    try:
        cluster.add_node(**node)
        with loopback_only():        # else ray.init would look for the head at this machine's outward address
            ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
        yield cluster
    finally:
        serve.shutdown()
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def served(cluster, tmp_path_factory):
    """The probe plugin and the shipped VAE deployed on the cluster, the Gradio app launched on 127.0.0.1."""
    from gradio_client import Client

    from conftest import free_port
    from hub.core import Hub
    from hub.ray_serve import deploy
    from hub.ui import build_app

    folder = tmp_path_factory.mktemp("plugins")
    (folder / "probe.py").write_text(textwrap.dedent(PROBE))
    hub = Hub.create(plugins_dirs=[folder], allow={"probe", "vae"}, entry_points=False)
    settings = load_settings()
    settings["defaults"].update(gpu_memory_gib=1.0, memory_factor=1.0, max_replicas=1)
    deploy(hub, ["probe_a", "probe_b", "vae"], settings)
    app = build_app(hub)
    app.queue()
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield hub, Client(f"http://127.0.0.1:{port}/", verbose=False, ssl_verify=False)
    finally:
        app.close()


def test_deployments_spread_across_nodes_by_their_gpu_share(served):
    import ray

    _, client = served
    a, b = client.predict(api_name="/probe_a_where"), client.predict(api_name="/probe_b_where")
    assert a["node"] != b["node"]                                      # 0.6 + 0.6 of a GPU fit on no one node
    assert {a["node"], b["node"]} == {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert a["device"] == b["device"] == "cpu"                           # logical GPUs, no CUDA: the CPU
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}


def listening_addresses(pids: set[int]) -> set[str]:
    """The local addresses (hex, as /proc/net shows them) on which the processes `pids` accept connections."""
    from pathlib import Path

    inodes = set()
    for pid in pids:
        try:
            links = [fd.readlink() for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes |= {str(link)[8:-1] for link in links if str(link).startswith("socket:[")}
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:               # LISTEN
                found.add(fields[1].rsplit(":", 1)[0])
    return found


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def test_every_ray_process_listens_on_the_loopback_only(served):
    from pathlib import Path

    def command(process: Path) -> str:
        try:
            return (process / "cmdline").read_bytes().decode(errors="replace")
        except OSError:                        # ended meanwhile
            return ""

    ray_pids = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and "ray" in command(p)}
    addresses = listening_addresses(ray_pids)
    assert addresses and addresses <= LOOPBACK, addresses


def test_a_request_through_gradio_equals_the_single_process_hub(served):
    from gradio_client import Client
    from PIL import Image

    from conftest import free_port
    from hub.core import Hub
    from hub.ui import build_app

    _, on_ray = served
    app = build_app(Hub.create(allow={"vae"}, entry_points=False))
    app.queue()
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        alone = Client(f"http://127.0.0.1:{port}/", verbose=False, ssl_verify=False)
        for seed in (0, 7):
            remote = np.asarray(Image.open(on_ray.predict(seed, 1.0, 5, api_name="/vae_sample")))
            local = np.asarray(Image.open(alone.predict(seed, 1.0, 5, api_name="/vae_sample")))
            np.testing.assert_array_equal(remote, local)
    finally:
        app.close()


def test_a_batched_action_on_ray_answers_each_client_and_refuses_bad_input_alone(served):
    from gradio_client import Client

    hub, client = served
    url = client.src

    def ask(value):
        try:
            return Client(url, verbose=False, ssl_verify=False).predict(value, api_name="/probe_a_double")
        except Exception as error:  # noqa: BLE001
            return error

    values = [1, 2, -1, 3, 4, 5]
    answers = [None] * len(values)
    threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, ask(values[i]))) for i in range(len(values))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answers[i] for i in (0, 1, 3, 4, 5)] == [2, 4, 6, 8, 10]
    assert "at least 0" in str(answers[2])
    assert hub.batchers == {}                                         # batched on the replicas, not here


def test_killing_a_replica_mid_request_loses_no_request(served):
    import ray

    _, client = served
    first = client.predict(api_name="/probe_b_where")
    job = client.submit(41, api_name="/probe_b_slow")
    time.sleep(1.5)                                                   # the replica is inside the request
    ray.kill(ray.get_actor(first["actor"], namespace="serve"))
    answer = job.result(timeout=180)
    assert answer["value"] == 41 and answer["pid"] != first["pid"]    # sent again, to the new replica
    assert client.predict(api_name="/probe_b_where")["pid"] == answer["pid"]
