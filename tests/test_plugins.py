"""Plugin discovery from all three places, allow/disable lists, and isolation at every stage."""
import sys

import safetensors.torch

import gradio as gr
import pytest
from helpers import api_fn, write_plugin

from hub import DemoSpec, ModelSpec, hookimpl
from hub.core import Hub
from hub.placement import parse_inventory
from hub.ui import build_app


def make_hub(**kwargs):
    kwargs.setdefault("devices", parse_inventory(""))
    return Hub.create(entry_points=kwargs.pop("entry_points", False), **kwargs)


def test_builtin_plugins_are_discovered():
    hub = make_hub(builtin=True)
    assert hub.records["vae"].status == "ok"
    assert hub.records["vae"].source == "builtin"
    assert "vae" in hub.demos


def test_builtin_plugins_are_imported_once_under_their_own_name():
    import plugins.vae
    hub = make_hub(builtin=True)
    assert hub.records["vae"].module is plugins.vae
    assert not [name for name in sys.modules if name.startswith("demo_hub_plugins.") and name.split(".")[1] in
                {record.name for record in hub.records.values() if record.source == "builtin"}]


def test_registration_reads_no_weights_and_builds_no_model(tmp_path, doubler_weights, monkeypatch):
    monkeypatch.setattr(safetensors.torch, "load_file", lambda *a, **k: pytest.fail("registration read weights"))
    write_plugin(tmp_path / "dropins", "cheap", doubler_weights)
    hub = make_hub(builtin=False, plugins_dirs=[tmp_path / "dropins"])
    assert hub.demos["cheap"].estimated_bytes == 4          # one float32, from the header alone
    assert hub.placement.status("cheap")["loaded"] is False


def test_dropped_in_module_and_package_appear_as_tabs(tmp_path, doubler_weights):
    folder = tmp_path / "dropins"
    write_plugin(folder, "single", doubler_weights)
    write_plugin(folder, "packaged", doubler_weights, package=True)
    hub = make_hub(builtin=False, plugins_dirs=[folder])
    assert {r.source for r in hub.records.values()} == {f"dir:{folder}"}
    assert set(hub.demos) == {"single", "packaged"}
    app = build_app(hub)
    assert api_fn(app, "single_double")(3) == 6.0
    assert api_fn(app, "packaged_double")(5) == 10.0
    assert hub.records["single"].version == "0.0.1"


def test_entry_point_plugins_are_discovered(tmp_path, doubler_weights, monkeypatch):
    site = tmp_path / "site"
    write_plugin(site, "ep_plugin_mod", doubler_weights, demo="from_ep")
    dist = site / "demo_hub_example-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-hub-example\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[demo_hub]\nexample = ep_plugin_mod\n")
    monkeypatch.syspath_prepend(str(site))
    hub = make_hub(builtin=False, entry_points=True)
    record = hub.records["example"]
    assert record.status == "ok", record.error
    assert record.source == "entry-point:demo-hub-example"
    assert "from_ep" in hub.demos
    sys.modules.pop("ep_plugin_mod", None)


def test_allow_and_disable_lists_by_flag_and_environment(tmp_path, doubler_weights, monkeypatch):
    folder = tmp_path / "dropins"
    for name in ("alpha", "beta", "gamma"):
        write_plugin(folder, name, doubler_weights)
    hub = make_hub(builtin=False, plugins_dirs=[folder], allow="alpha,beta", deny="beta")
    assert set(hub.demos) == {"alpha"}
    assert hub.records["beta"].status == hub.records["gamma"].status == "disabled"
    monkeypatch.setenv("DEMO_HUB_DISABLE", "alpha")
    hub = make_hub(builtin=False, plugins_dirs=[folder])
    assert set(hub.demos) == {"beta", "gamma"}
    monkeypatch.setenv("DEMO_HUB_PLUGINS", "gamma")
    monkeypatch.delenv("DEMO_HUB_DISABLE")
    hub = make_hub(builtin=False, plugins_dirs=[folder])
    assert set(hub.demos) == {"gamma"}


@pytest.mark.parametrize("stage", ["import", "register"])
def test_plugin_failing_early_gets_an_error_tab_and_the_rest_works(tmp_path, doubler_weights, stage):
    folder = tmp_path / "dropins"
    write_plugin(folder, "broken", doubler_weights, fail=stage)
    write_plugin(folder, "healthy", doubler_weights)
    hub = make_hub(builtin=False, plugins_dirs=[folder])
    record = hub.records["broken"]
    assert (record.status, record.stage) == ("error", stage)
    assert f"boom at {stage}" in record.error
    app = build_app(hub)
    assert api_fn(app, "healthy_double")(4) == 8.0
    rows = {row[0]: row for row in hub.system_rows()}
    assert rows["broken"][5] == "error" and f"boom at {stage}" in rows["broken"][6]
    assert ("error-broken", "broken (error)", False) in app.pages           # its own page, out of the navbar


def test_plugin_failing_to_build_its_ui_shows_the_reason(tmp_path, doubler_weights):
    folder = tmp_path / "dropins"
    write_plugin(folder, "broken", doubler_weights, fail="build_ui")
    write_plugin(folder, "healthy", doubler_weights)
    hub = make_hub(builtin=False, plugins_dirs=[folder])
    app = build_app(hub)
    assert hub.demo_status("broken") == ("error", "build_ui: RuntimeError: boom at build_ui")
    with pytest.raises(KeyError):
        api_fn(app, "broken_double")                  # no half-built tab
    markdown = [b.value for b in app.blocks.values() if isinstance(b, gr.Markdown)]
    assert any("boom at build_ui" in text for text in markdown)
    assert api_fn(app, "healthy_double")(1) == 2.0


@pytest.mark.parametrize("stage, message", [("load", r"could not be loaded \(RuntimeError\); the System page says why"),
                                            ("inference", r"failed unexpectedly \(RuntimeError\)")])
def test_plugin_failing_at_load_or_inference_answers_with_a_message(tmp_path, doubler_weights, stage, message):
    folder = tmp_path / "dropins"
    write_plugin(folder, "broken", doubler_weights, fail=stage)
    write_plugin(folder, "healthy", doubler_weights)
    hub = make_hub(builtin=False, plugins_dirs=[folder])
    app = build_app(hub)
    with pytest.raises(gr.Error, match=message) as caught:
        api_fn(app, "broken_double")(2)
    assert "boom" not in caught.value.message                 # the plugin's own words stay in the log
    assert api_fn(app, "healthy_double")(2) == 4.0
    if stage == "load":
        assert hub.demo_status("broken") == ("error", "load: The model of 'Test broken' could not be loaded: "
                                                      "boom at load")


def test_strict_mode_makes_failures_fatal(tmp_path, doubler_weights, monkeypatch):
    folder = tmp_path / "dropins"
    write_plugin(folder, "broken", doubler_weights, fail="register")
    monkeypatch.setenv("DEMO_HUB_STRICT", "1")
    with pytest.raises(RuntimeError, match="strict mode"):
        make_hub(builtin=False, plugins_dirs=[folder])


def test_invalid_and_duplicate_demo_ids_are_registration_errors(tmp_path, doubler_weights):
    folder = tmp_path / "dropins"
    write_plugin(folder, "first", doubler_weights, demo="same")
    write_plugin(folder, "second", doubler_weights, demo="same")
    write_plugin(folder, "third", doubler_weights, demo="Bad Id!")
    hub = make_hub(builtin=False, plugins_dirs=[folder])
    assert hub.records["first"].status == "ok"
    assert "already registered" in hub.records["second"].error
    assert "must be lower-case" in hub.records["third"].error


def test_hub_started_reaches_plugins_added_after_the_start(tmp_path, doubler_weights):
    folder = tmp_path / "dropins"
    write_plugin(folder, "early", doubler_weights)
    hub = make_hub(builtin=False, plugins_dirs=[folder])
    build_app(hub)
    early = sys.modules["demo_hub_plugins.early"]
    assert early.STARTED == [hub]

    class Late:
        seen = []

        @hookimpl
        def register_demos(self, register):
            register(DemoSpec(id="late", title="Late", description="", build_ui=lambda ctx: None))

        @hookimpl
        def hub_started(self, hub):
            self.seen.append(hub)

    late = Late()
    hub.add_plugin(late, "late")
    assert late.seen == [hub] and "late" in hub.demos


def test_plugin_commands_are_collected_and_a_failing_one_adds_none():
    class Greets:
        @hookimpl
        def register_commands(self, register):
            register("greet", lambda args: 0, help="say hello")

    class Breaks:
        @hookimpl
        def register_commands(self, register):
            raise RuntimeError("no commands today")

    hub = make_hub(builtin=False)
    hub.add_plugin(Greets(), "greets")
    hub.add_plugin(Breaks(), "breaks")
    commands = hub.commands()
    assert list(commands) == ["greet"] and commands["greet"][1] == "say hello"
    assert hub.records["breaks"].status == "error" and hub.records["breaks"].stage == "register_commands"


def test_choose_device_hook_overrides_best_fit(tmp_path, doubler_weights):
    class PreferSecondGpu:
        @hookimpl
        def choose_device(self, demo_id, model_name, estimated_bytes, devices):
            return "cuda:1" if demo_id == "picky" else None

    folder = tmp_path / "dropins"
    write_plugin(folder, "picky", doubler_weights)
    write_plugin(folder, "plain", doubler_weights)
    hub = make_hub(builtin=False, plugins_dirs=[folder], devices=parse_inventory("8G,24G,12G"))
    hub.add_plugin(PreferSecondGpu(), "prefer")
    moved = []
    hub.placement.move = lambda module, device: moved.append(device) or module
    with hub.handle("picky").use(), hub.handle("plain").use():
        pass
    assert moved == ["cuda:1", "cuda:0"]        # plain: best fit is the smallest GPU


def test_out_of_memory_during_inference_retries_on_the_cpu(doubler_weights):
    from helpers import Doubler

    from hub import ModelSpec, weights
    from hub.ui import DemoContext

    hub = make_hub(builtin=False, devices=parse_inventory("8G"))
    hub.placement.move = lambda module, device: module            # simulated GPU
    seen = []

    def load():
        model = Doubler()
        weights.load_into(model, doubler_weights)
        return model

    class OomOnce:
        @hookimpl
        def register_demos(self, register):
            register(DemoSpec(id="oom", title="OOM", description="", build_ui=lambda ctx: None,
                              models=[ModelSpec("m", load, doubler_weights)]))

    hub.add_plugin(OomOnce(), "oom")
    ctx = DemoContext(hub, hub.demos["oom"])

    def infer(x):
        with ctx.models.use():
            seen.append(hub.placement.slots["oom"].device)
            if len(seen) == 1:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return x

    assert ctx.guard(infer)(5) == 5
    assert seen == ["cuda:0", "cpu"]
    assert "moved to the CPU" in hub.placement.status("oom")["note"]


def test_a_second_plugin_of_the_same_name_is_refused(tmp_path, doubler_weights):
    write_plugin(tmp_path / "one", "twin", doubler_weights)
    write_plugin(tmp_path / "two", "twin", doubler_weights, demo="twin_two")
    hub = make_hub(builtin=False, plugins_dirs=[tmp_path / "one", tmp_path / "two"])
    assert hub.records["twin"].status == "ok" and hub.records["twin"].demos == ["twin"]
    second = hub.records[f"twin (dir:{tmp_path / 'two'})"]
    assert second.status == "error" and "already loaded" in second.error
    assert "twin_two" not in hub.demos


def test_an_action_may_not_skip_the_hubs_checks_of_uploads():
    class RawReader:
        @hookimpl
        def register_demos(self, register):
            def build_ui(ctx):
                image, button = gr.Image(), gr.Button()
                ctx.on(button.click, "read", lambda x: x, image, image, preprocess=False)
            register(DemoSpec(id="raw", title="Raw", description="Reads raw request data.", build_ui=build_ui))

    hub = make_hub(builtin=False)
    hub.add_plugin(RawReader(), "raw")
    app = build_app(hub)
    assert hub.demo_status("raw")[0] == "error" and "preprocess=False" in hub.demo_status("raw")[1]
    with pytest.raises(KeyError):
        api_fn(app, "raw_read")


def test_out_of_memory_recovery_acts_on_the_model_the_action_used():
    class Fake:
        """A 1 GB model that only records where it is."""
        nbytes, device = 1 << 30, "cpu"

        def to(self, device):
            self.device = device
            return self

    devices_seen = []

    class TwoModels:
        @hookimpl
        def register_demos(self, register):
            def build_ui(ctx):
                button, out = gr.Button(), gr.Number()

                def run():
                    with ctx.models.use("second") as model:
                        devices_seen.append(model.device)
                        if len(devices_seen) == 1:
                            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
                        return 1

                ctx.on(button.click, "run", run, None, out)
            register(DemoSpec(id="two", title="Two", description="Two models.", build_ui=build_ui,
                              models=[ModelSpec("first", Fake, estimated_bytes=1 << 30),
                                      ModelSpec("second", Fake, estimated_bytes=1 << 30)]))

    hub = Hub(devices=parse_inventory("8G"))
    hub.add_plugin(TwoModels(), "two")
    assert api_fn(build_app(hub), "two_run")() == 1
    assert devices_seen == ["cuda:0", "cpu"]       # nothing idle to evict on its GPU: the second try on the CPU
    assert hub.placement.pins == {"two/second": "cpu"}


def test_the_landing_page_is_a_gallery_of_every_shown_demo_in_its_group_each_with_a_page_of_its_own():
    hub = Hub.create(entry_points=False, devices=parse_inventory(""))
    app = build_app(hub)
    paths = [path for path, _, _ in app.pages]
    assert paths[0] == "" and paths[-1] == "system"
    assert {"vae", "translation", "nade", "compare", "anomaly"} <= set(paths)
    text = next(block.value for block in app.blocks.values() if getattr(block, "elem_id", None) == "gallery-page")
    for group, demos in {"Transformer": ["translation", "vit"], "Explicit models": ["nade", "vae"],
                         "Implicit models": ["dcgan", "aae"], "Tools": ["evaluator", "compare"]}.items():
        section = text.split(f"<h3>{group}</h3>", 1)[1].split("<h3>", 1)[0]
        assert all(f'href="{demo}"' in section for demo in demos), (group, section)


def test_the_system_tab_shows_sizes_with_their_units():
    hub = Hub.create(allow="vae", entry_points=False, devices=parse_inventory(""))
    _, rows = api_fn(build_app(hub), "system_status")()
    vae = next(row for row in rows if row[3] == "vae")
    assert vae[8] == "5.9 MB" and vae[9] == "0"                      # estimated; not loaded yet
    assert any(row[8] == 5_935_680 for row in hub.system_rows())     # `hub list --json` keeps the number
