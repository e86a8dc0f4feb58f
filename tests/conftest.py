import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import save_doubler  # noqa: E402


@pytest.fixture
def doubler_weights(tmp_path):
    return save_doubler(tmp_path / "weights" / "doubler")


@pytest.fixture(autouse=True)
def no_plugin_env(monkeypatch):
    for var in ("DEMO_HUB_PLUGINS", "DEMO_HUB_DISABLE", "DEMO_HUB_STRICT"):
        monkeypatch.delenv(var, raising=False)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_hub(folder: Path, *flags: str):
    """`python app.py --port FREE *flags` with Gradio's cache in `folder`/gradio; returns (url, process)
    once it answers. The log is `folder`/app.log."""
    import os
    import subprocess
    import time
    import urllib.request

    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GRADIO_TEMP_DIR": str(folder / "gradio")}
    env.pop("DEMO_HUB_STRICT", None)
    log = open(folder / "app.log", "w")
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port), *flags],
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while True:
        try:
            if urllib.request.urlopen(url, timeout=5).status == 200:
                return url, process
        except OSError:
            pass
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise RuntimeError(f"the hub did not start:\n{(folder / 'app.log').read_text()}")
        time.sleep(0.5)


def stop_hub(process) -> None:
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory):
    """`python app.py` on a free port, with dropped-in plugins: a working one, one that fails at import,
    and three whose actions fail (an error, SystemExit, KeyboardInterrupt). `.uploads` is its Gradio
    cache folder, `.release` the file that ends the working plugin's held jobs."""
    from types import SimpleNamespace

    from helpers import save_doubler, write_plugin

    tmp = tmp_path_factory.mktemp("hub")
    doubler = save_doubler(tmp / "weights")
    for name, fail in [("doubler", ""), ("crashy", "inference"), ("exits", "exit"), ("interrupts", "interrupt"),
                       ("broken", "import")]:
        write_plugin(tmp / "dropins", name, doubler, fail=fail)
    url, process = start_hub(tmp, "--plugins-dir", str(tmp / "dropins"))
    yield SimpleNamespace(url=url, uploads=tmp / "gradio", release=tmp / "release", log=tmp / "app.log")
    stop_hub(process)


@pytest.fixture(scope="session")
def running_hub(hub_server):
    return hub_server.url
