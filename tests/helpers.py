"""Tiny plugins and weights that tests build in temporary folders."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import torch

from hub import weights


class Doubler(torch.nn.Module):
    """The tiniest real model: y = scale * x, with scale = 2 in the saved weights."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([2.0]))

    def forward(self, x):
        return x * self.scale


def save_doubler(directory: Path) -> Path:
    weights.save(directory, Doubler(), {"model": {}})
    (directory / "README.md").write_text("# Doubler\nA test model.\n")
    return directory


PLUGIN = '''
import torch
from pathlib import Path
from hub import DemoSpec, ModelSpec, hookimpl, weights

__version__ = "0.0.1"
WEIGHTS = Path({weights!r})
RELEASE = WEIGHTS.parent / "release"
FAIL = {fail!r}
STARTED = []
if FAIL == "import":
    raise RuntimeError("boom at import")


class Doubler(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([1.0]))

    def forward(self, x):
        return x * self.scale


def load():
    if FAIL == "load":
        raise RuntimeError("boom at load")
    model = Doubler()
    weights.load_into(model, WEIGHTS)
    return model


def fail_here():
    if FAIL == "inference":
        raise RuntimeError("boom at inference")
    if FAIL == "exit":
        raise SystemExit(3)
    if FAIL == "interrupt":
        raise KeyboardInterrupt


def build_ui(ctx):
    import gradio as gr
    import time
    x, y = gr.Number(label="x"), gr.Number(label="y")
    if FAIL == "build_ui":
        raise RuntimeError("boom at build_ui")
    button, stream_button, hold_button = gr.Button("Double"), gr.Button("Count"), gr.Button("Hold")

    def double(value):
        fail_here()
        with ctx.models.use() as model, torch.no_grad():
            return model(torch.tensor([float(value)])).item()

    def count(value):
        for i in range(int(value)):
            yield i
        fail_here()

    def hold(value):
        """Heavy work that lasts until the test creates the file RELEASE (two minutes at most)."""
        for _ in range(1200):
            if RELEASE.exists():
                break
            time.sleep(0.1)
        return value

    ctx.on(button.click, "double", double, x, y)
    ctx.on(stream_button.click, "count", count, x, y)
    ctx.on(hold_button.click, "hold", hold, x, y, heavy=True)


@hookimpl
def register_demos(register):
    if FAIL == "register":
        raise RuntimeError("boom at register")
    register(DemoSpec(id={demo!r}, title={title!r}, description="A test demo that doubles a number.",
                      build_ui=build_ui, models=[ModelSpec("doubler", load, WEIGHTS)]))


@hookimpl
def hub_started(hub):
    STARTED.append(hub)
'''


def write_plugin(folder: Path, name: str, weights_dir: Path, fail: str = "", demo: str | None = None,
                 package: bool = False) -> Path:
    """A dropped-in plugin module (or package) `name` whose demo doubles a number (and counts, streamed,
    and holds a heavy job until the file `release` appears beside its weights folder); `fail` names the
    stage at which it breaks: import, register, build_ui, load, or inference (its actions raise an
    error), exit (SystemExit) or interrupt (KeyboardInterrupt)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = textwrap.dedent(PLUGIN).format(weights=str(weights_dir), fail=fail, demo=demo or name,
                                            title=f"Test {name}")
    if package:
        (folder / name).mkdir()
        path = folder / name / "__init__.py"
    else:
        path = folder / f"{name}.py"
    path.write_text(source)
    return path


class OneModel:
    """A stand-in for a demo's lazy model handle, serving one model already built."""

    def __init__(self, model):
        self.model = model

    @contextmanager
    def use(self, name=None):
        yield self.model


def api_fn(app, api_name: str):
    """The (guarded) Python function behind an event's api_name, to call without a server."""
    for block_fn in app.fns.values():
        if block_fn.api_name == api_name:
            return block_fn.fn
    raise KeyError(api_name)


def plugin_actions(plugin: str):
    """`(demo, action) -> function` for the app built with only `plugin`, on the CPU."""
    from hub.core import Hub
    from hub.placement import parse_inventory
    from hub.ui import build_app

    app = build_app(Hub.create(allow=plugin, entry_points=False, devices=parse_inventory("")))
    return lambda demo, name: api_fn(app, f"{demo}_{name}")


def evaluate_subset(demo: str, limit: int) -> dict:
    """`python -m hub evaluate DEMO --limit N --json` from the shipped weights, as a dict."""
    out = subprocess.run([sys.executable, "-m", "hub", "evaluate", demo, "--limit", str(limit), "--json"],
                         cwd=weights.ROOT, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def flat_figures(metrics: dict, prefix: str = ""):
    """(dotted key, value) of every float in nested metrics."""
    for key, value in metrics.items():
        if isinstance(value, dict):
            yield from flat_figures(value, f"{prefix}{key}.")
        elif isinstance(value, float):
            yield f"{prefix}{key}", value


def assert_quick_check_reproduced(demo: str, tolerance=lambda key: 0.03) -> dict:
    """`python -m hub evaluate DEMO --limit N` gives every figure of the card's quick check again, each
    within `tolerance(key)` (absolute) or 5%. Returns the figures it measured."""
    import pytest

    check = weights.read_config(weights.weights_dir(demo))["subset_check"]
    figures = evaluate_subset(demo, check["limit"])
    measured = dict(flat_figures(figures))
    for key, value in flat_figures(check["metrics"]):
        assert measured[key] == pytest.approx(value, abs=tolerance(key), rel=0.05), key
    return figures


def shipped_weights(demo: str) -> tuple[dict, str]:
    """A shipped demo's config and model card, after the checks every shipped model passes: the weights
    are the ones the config names, within 10 MB, and the card gives the command that trained them."""
    directory = weights.weights_dir(demo)
    config = weights.read_config(directory)
    assert weights.sha256_of(directory / weights.WEIGHTS_FILE) == config["sha256"]
    assert (directory / weights.WEIGHTS_FILE).stat().st_size < 10 * 2**20
    card = (directory / weights.CARD_FILE).read_text()
    assert f"python -m hub train {demo}" in card
    return config, card
