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


@pytest.fixture(scope="session")
def running_hub(tmp_path_factory):
    """`python app.py` on a free port, with a dropped-in working plugin and a broken one."""
    import os
    import subprocess
    import time
    import urllib.request

    from helpers import save_doubler, write_plugin

    tmp = tmp_path_factory.mktemp("hub")
    doubler = save_doubler(tmp / "weights")
    write_plugin(tmp / "dropins", "doubler", doubler)
    write_plugin(tmp / "dropins", "crashy", doubler, fail="inference")
    write_plugin(tmp / "dropins", "broken", doubler, fail="import")
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DEMO_HUB_STRICT", None)
    log = open(tmp / "app.log", "w")
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--plugins-dir", str(tmp / "dropins")],
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while True:
        try:
            if urllib.request.urlopen(url, timeout=5).status == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise RuntimeError(f"the hub did not start:\n{(tmp / 'app.log').read_text()}")
        time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)
