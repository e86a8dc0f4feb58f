"""A hub shared on a public link, tried as an attacker and as a crowd would: no server file is reachable
through an upload, uploads and the cache are bounded, no plugin can stop the hub, heavy work has its own
lane, and errors say what to do without showing the hub's insides."""
import json
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import start_hub, stop_hub
from gradio_client import Client, handle_file
from helpers import save_doubler, write_plugin
from PIL import Image

from app import exposure_warnings, parse_args
from hub.kit.widgets import NOT_UPLOADED

pytestmark = pytest.mark.slow    # starts `python app.py`

VIT_OPTIONS = ["ViT (trained here on MNIST)", "rollout (all layers)", "average", 3]
UPLOADS = {"vae_reconstruct_upload": [], "nade_likelihood_upload": [], "vit_classify_upload": VIT_OPTIONS,
           "anomaly_upload": []}


def raw_call(url: str, api: str, data: list) -> tuple[str, object]:
    """POST a request body as any HTTP client could, and read the event stream: (event, its data)."""
    base = f"{url}gradio_api/call/{api}"
    event_id = httpx.post(base, json={"data": data}, timeout=30).json()["event_id"]
    event, payload = None, None
    with httpx.stream("GET", f"{base}/{event_id}", timeout=120) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = json.loads(line.split(":", 1)[1])
                break
    return event, payload


def error_text(url: str, api: str, data: list) -> str:
    event, payload = raw_call(url, api, data)
    assert event == "error", f"{api} accepted {data!r}: {payload!r}"
    return (payload or {}).get("error") or ""


@pytest.fixture(scope="module")
def client(running_hub):
    return Client(running_hub, verbose=False)


@pytest.fixture(scope="module")
def stray_image(tmp_path_factory) -> Path:
    """A real image on the server that nobody uploaded."""
    path = tmp_path_factory.mktemp("server") / "seven.png"
    Image.fromarray((np.eye(28) * 255).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("api", sorted(UPLOADS))
def test_an_upload_endpoint_reads_no_server_file(running_hub, stray_image, api):
    options = UPLOADS[api]
    refusals = {name: error_text(running_hub, api, [{"path": path}, *options]) for name, path in [
        ("absolute", "/etc/hostname"), ("relative", "../../etc/hostname"), ("stray image", str(stray_image)),
        ("missing", "/etc/no-such-file"), ("missing image", str(stray_image.with_name("gone.png")))]}
    assert set(refusals.values()) == {NOT_UPLOADED}, refusals            # one message, whatever exists


@pytest.mark.parametrize("api", sorted(UPLOADS))
def test_a_tagged_server_path_is_refused_the_same_whether_it_exists_or_not(running_hub, stray_image, api):
    meta = {"_type": "gradio.FileData"}
    existing = error_text(running_hub, api, [{"path": str(stray_image), "meta": meta}, *UPLOADS[api]])
    missing = error_text(running_hub, api, [{"path": str(stray_image.with_name("gone.png")), "meta": meta},
                                            *UPLOADS[api]])
    assert existing == missing and "seven" not in existing and "image" not in existing.lower()


def test_a_drawing_cannot_name_a_server_file(running_hub, stray_image):
    meta = {"_type": "gradio.FileData"}
    answers = [error_text(running_hub, "vae_reconstruct",
                          [{"background": None, "layers": [], "composite": {"path": path, **extra}}])
               for path in (str(stray_image), "/etc/no-such-file") for extra in ({}, {"meta": meta})]
    assert len(set(answers)) == 1 and "seven" not in answers[0]


def test_what_the_user_uploads_is_read(client, stray_image):
    _, _, report, _ = client.predict(handle_file(str(stray_image)), api_name="/vae_reconstruct_upload")
    assert "log p(x)" in report
    top = client.predict(handle_file(str(stray_image)), *VIT_OPTIONS, api_name="/vit_classify_upload")[0]
    assert top["label"] in list("0123456789")


def test_a_click_without_its_data_gets_a_message(running_hub):
    """Over plain HTTP no click data arrives at all (malformed data: tests/test_aae.py; a real click:
    the browser test)."""
    assert error_text(running_hub, "aae_decode_point", ["Swiss roll"]) == "Click a point on the map."


def test_errors_show_no_internals(running_hub):
    for api, data in [("vae_reconstruct", ["garbage"]), ("vae_reconstruct_upload", ["/etc/hostname"]),
                      ("vae_sample", [])]:
        text = error_text(running_hub, api, data)
        assert not any(inside in text for inside in ("analyze", "EditorData", "ImageData", "/tmp", "/etc",
                                                     "validation error", "Wanted inputs")), text
    failure = error_text(running_hub, "crashy_double", [1])
    assert "failed unexpectedly (RuntimeError)" in failure and "boom" not in failure


def test_a_handled_error_is_one_line_in_the_log(hub_server):
    before = hub_server.log.stat().st_size
    for seed in (-3, -4, -5):
        assert "Seed must be between 0 and" in error_text(hub_server.url, "vae_sample", [seed, 1.0, 4])
    time.sleep(1)                                            # let the log catch up
    added = hub_server.log.read_text()[before:]
    assert added.count("Seed must be between 0 and") == 3 and "Traceback" not in added


@pytest.mark.parametrize("plugin, kind", [("exits", "SystemExit"), ("interrupts", "KeyboardInterrupt")])
@pytest.mark.parametrize("action, args", [("double", (1,)), ("count", (3,))])
def test_no_plugin_action_can_stop_the_hub(client, plugin, kind, action, args):
    job = client.submit(*args, api_name=f"/{plugin}_{action}")
    with pytest.raises(Exception, match=f"failed unexpectedly \\({kind}\\)"):
        job.result(timeout=60)
    assert client.submit(21, api_name="/doubler_double").result(timeout=60) == 42      # still serving


def test_heavy_work_holds_up_no_quick_action_and_the_queued_see_their_place(client, hub_server):
    first, second = (client.submit(value, api_name="/doubler_hold") for value in (1, 2))
    try:
        assert client.submit(21, api_name="/doubler_double").result(timeout=60) == 42     # same demo, quick lane
        grid = client.submit(0, 1.0, 2, api_name="/vae_sample").result(timeout=60)      # another demo
        assert Path(grid).is_file()
        assert not first.done() and not second.done()        # both still held: neither blocked the others
        for _ in range(100):
            states = sorted((job.status().code.name, job.status().rank) for job in (first, second))
            if states[0][1] is not None:
                break
            time.sleep(0.1)
        assert states == [("IN_QUEUE", 0), ("PROCESSING", None)]   # heavy work one at a time; the other: next
    finally:
        hub_server.release.touch()
    assert (first.result(timeout=120), second.result(timeout=120)) == (1, 2)


def test_uploads_are_bounded_in_size_by_default(hub_server):
    before = sorted(hub_server.uploads.rglob("*")) if hub_server.uploads.exists() else []
    big = httpx.post(f"{hub_server.url}gradio_api/upload", files={"files": ("big.png", b"\0" * (6 << 20))},
                     timeout=60)
    assert big.status_code == 413
    after = sorted(hub_server.uploads.rglob("*")) if hub_server.uploads.exists() else []
    assert not [p for p in after if p not in before and p.is_file() and p.stat().st_size > 5 << 20]
    small = httpx.post(f"{hub_server.url}gradio_api/upload", files={"files": ("small.png", b"\0" * 1024)},
                       timeout=60)
    assert small.status_code == 200 and Path(small.json()[0]).stat().st_size == 1024


@pytest.fixture(scope="module")
def small_hub(tmp_path_factory):
    """A hub with only a dropped-in plugin, a 64 KB upload limit, a 2-second cache and 3 sessions kept."""
    tmp = tmp_path_factory.mktemp("small-hub")
    write_plugin(tmp / "dropins", "doubler", save_doubler(tmp / "weights"))
    url, process = start_hub(tmp, "--plugins-dir", str(tmp / "dropins"), "--plugins", "doubler",
                             "--max-file-size", "64kb", "--cache-ttl", "2", "--max-sessions", "3")
    yield url, tmp / "gradio"
    stop_hub(process)
    shutil.rmtree(tmp / "gradio", ignore_errors=True)


def test_the_upload_limit_is_a_setting_and_the_cache_is_cleaned(small_hub):
    url, uploads = small_hub
    assert httpx.post(f"{url}gradio_api/upload", files={"files": ("a.png", b"\0" * (65 << 10))}).status_code == 413
    answer = httpx.post(f"{url}gradio_api/upload", files={"files": ("a.png", b"\0" * (60 << 10))})
    assert answer.status_code == 200
    stored = Path(answer.json()[0])
    assert stored.is_file() and stored.is_relative_to(uploads)
    for _ in range(300):                                     # cleaned within two cycles of 2 s
        if not stored.exists():
            break
        time.sleep(0.1)
    assert not stored.exists()


def test_the_sessions_kept_in_memory_are_bounded(small_hub):
    url, _ = small_hub
    for value in range(8):                                   # eight visitors, each a session of its own
        assert Client(url, verbose=False).predict(value, api_name="/doubler_double") == 2 * value
    devices, _ = Client(url, verbose=False).predict(api_name="/system_status")
    assert "sessions kept in memory: 3 (at most 3)" in devices


def test_a_hub_reachable_by_others_without_a_login_warns():
    assert exposure_warnings(parse_args([]), None) == []
    assert "--host 0.0.0.0 without --auth" in exposure_warnings(parse_args(["--host", "0.0.0.0"]), None)[0]
    assert len(exposure_warnings(parse_args(["--host", "0.0.0.0", "--share"]), None)) == 2
    assert exposure_warnings(parse_args(["--host", "0.0.0.0", "--share"]), ("a", "b")) == []


def test_the_start_banner_names_the_hubs_own_share_flag(hub_server):
    import time
    deadline = time.time() + 30                     # the server answers a moment before the banner is printed
    while "Demo Hub running on" not in hub_server.log.read_text() and time.time() < deadline:
        time.sleep(0.2)
    log = hub_server.log.read_text()
    assert f"Demo Hub running on {hub_server.url}" in log
    assert "start it with --share" in log and "share=True" not in log


def test_every_flag_of_the_app_says_what_it_does():
    import app
    silent = [action.option_strings for action in app.build_parser()._actions if not action.help]
    assert not silent
