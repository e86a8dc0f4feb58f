"""The hooks a plugin may implement. Mark implementations with `@hub.hookimpl`."""
from __future__ import annotations

import pluggy

PROJECT = "demo_hub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_demos(register):
    """Call `register(DemoSpec(...))` once for each demo the plugin provides.

    Must be cheap: describe the demo and how to load its model; read no weights, build no model.
    """


@hookspec
def register_commands(register):
    """Call `register(name, run, help, configure)` for each `python -m hub NAME` command the plugin
    adds: `configure(parser)` adds its arguments (argparse), `run(args)` does the work and returns an
    exit code. Built-in and installed plugins only."""


@hookspec
def hub_started(hub):
    """Called once the hub is built (UI included), with the `Hub`. A plugin added after the start
    (`Hub.add_plugin`) still receives it, right after its own registration."""


@hookspec(firstresult=True)
def choose_device(demo_id, model_name, estimated_bytes, devices):
    """Optionally pick the device for one model: return a device name from `devices`
    (e.g. "cuda:1" or "cpu"), or None to let the placement's best-fit placement decide.
    A user's --device pin wins over this hook."""
