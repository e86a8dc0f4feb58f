"""The app shell: the gallery at `/`, a page per demo at `/<demo id>`, an error page per broken plugin, and
the System page at `/system`."""
from __future__ import annotations

import functools
import html
import inspect
import logging

import gradio as gr

from . import gallery
from .batching import Batched, MicroBatcher
from .core import SYSTEM_COLUMNS, Hub, ModelLoadError, models_called
from .errors import InputError
from .placement import is_out_of_memory
from .specs import DemoSpec
from .uploads import make_cached_images_atomic

log = logging.getLogger("hub.ui")

INTRO = """# Demo Hub
Classic deep-learning models as live demos, each trained here on real data (MNIST, binarized MNIST, USPS,
Multi30k). Every card below opens the demo's own page, which you can share by its address; a demo's
**Model card** says how it was trained and what it measures on the test split. Models load on first use;
the **System** page shows what is loaded where."""


# Every drawing canvas starts with its brush picked (Gradio's starts with no tool, and ignores strokes until
# one is chosen); canvases in tabs appear when their tab is opened, so new ones are watched for.
PAGE_JS = """() => {
  const pick = () => document.querySelectorAll('button[aria-label="Brush"]:not([data-hub-picked])').forEach((b) => {
    b.dataset.hubPicked = "1";
    b.click();
  });
  new MutationObserver(pick).observe(document.body, {childList: true, subtree: true});
  pick();
}"""


# Layout fixes for every tab: an image's label sits above the image, not over its top-left digits; table
# headers break between words only; a refused input is said once, in the toast, not again as a red
# "Error" over each output.
PAGE_CSS = """
[data-testid="block-label"].float { position: static; margin-bottom: 2px; }
table th, table th * { word-break: normal !important; overflow-wrap: normal !important; hyphens: none; }
#system-table th, #system-table td { font-size: var(--text-sm); }
[data-testid="status-tracker"]:has(> .error) { display: none; }
""" + gallery.GALLERY_CSS


class DemoContext:
    """What a plugin's `build_ui(ctx)` gets: the demo, a lazy model handle, and `ctx.on(...)`,
    which wires an event with a stable api_name, its device's queue and the hub's error handling."""

    def __init__(self, hub: Hub, demo: DemoSpec):
        self.hub, self.demo = hub, demo
        self.models = hub.handle(demo.id) if demo.id in hub.demos else None    # a hub tab has no models
        self.actions: dict = {}        # action -> the function (or Batched) it runs: a Ray replica runs them by name

    def on(self, trigger, action: str, fn, inputs=None, outputs=None, heavy: bool = False, **kwargs):
        """`ctx.on(button.click, "sample", fn, inputs, outputs)` -> api_name "<demo>_sample".

        `heavy=True` marks work that can take long (streams, big batches): it gets a lane of its own,
        one job at a time, so it never holds up this or any other demo's quick actions. `fn` may be a
        `Batched` (`hub.batching`): requests that arrive together then share one forward pass."""
        if kwargs.get("preprocess") is False:
            raise ValueError(f"{self.demo.id}_{action}: preprocess=False would hand raw request data (a server "
                             "path, say) to the demo; the hub checks uploads while preprocessing")
        api_name = f"{self.demo.id}_{action}"
        self.actions[action] = fn
        keys = [self.demo.model_key(model.name) for model in self.demo.models]
        queue_id, limit = self.hub.placement.queue_for(keys, self.demo.id, heavy)
        if self.hub.remote is not None:                  # Ray Serve: the demo's replicas run it
            handler = self.hub.remote.caller(self.demo.id, action, fn)
            queue_id, limit = f"ray-{api_name}", self.hub.remote.concurrency(self.demo.id, heavy)
        elif isinstance(fn, Batched) and self.hub.batching:
            batcher = self.hub.batchers[api_name] = MicroBatcher(fn, self.guard(fn.run_grouped), lanes=self.hub.pass_lanes)
            handler = self.guard(batcher)
            queue_id, limit = f"batch-{api_name}", fn.max_batch_size     # a crowd waits in the batcher
        else:
            handler = self.guard(fn)
        return trigger(handler, inputs=inputs, outputs=outputs, api_name=api_name,
                       concurrency_id=queue_id, concurrency_limit=limit, **kwargs)

    def guard(self, fn):
        """Turn every failure of `fn` into a message for the user; never into a dead hub.
        A CUDA out-of-memory error evicts idle models and retries once, then retries on the CPU.
        A generator (streaming) function is guarded while it streams; it is not retried.
        SystemExit and KeyboardInterrupt from a plugin are failures like any other: only the
        hub's own process may decide to stop."""
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def guarded_stream(*args, **kwargs):
                try:
                    yield from fn(*args, **kwargs)
                except PLUGIN_FAILURES as error:  # noqa: BLE001
                    raise self.user_error(error) from None
            return guarded_stream

        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            for attempt in range(3):
                with models_called() as keys:
                    try:
                        return fn(*args, **kwargs)
                    except PLUGIN_FAILURES as error:  # noqa: BLE001 - the hub outlives any plugin's bug
                        if not (is_out_of_memory(error) and attempt < 2 and keys):
                            raise self.user_error(error) from None
                for key in keys:                   # the models this call used, not the demo's first
                    if attempt == 1 or not self.hub.placement.relieve(key):
                        self.hub.placement.demote(key)
            raise gr.Error("Out of memory even on the CPU.", print_exception=False)
        return guarded

    def user_error(self, error: BaseException) -> gr.Error:
        """The message a user sees for `error` (in strict mode, unexpected errors propagate).
        A handled error is logged in one line; an unexpected one with its traceback, once."""
        if isinstance(error, gr.Error):
            log.info("demo %s: %s", self.demo.id, error.message)
            error.print_exception = False
            return error
        if isinstance(error, (InputError, ModelLoadError)):
            log.info("demo %s: %s", self.demo.id, error)
            title = "Please check the input" if isinstance(error, InputError) else "Model unavailable"
            return gr.Error(str(error), title=title, print_exception=False)
        log.error("demo %s failed", self.demo.id, exc_info=error)
        if self.hub.strict:
            raise error
        return gr.Error(f"'{self.demo.title}' failed unexpectedly ({type(error).__name__}); the details are in "
                        "the hub's log. Try other inputs; the other demos are not affected.",
                        title="Demo error", print_exception=False)


# Everything a plugin's action may raise: GeneratorExit is left out, it is how a stream is closed.
PLUGIN_FAILURES = (Exception, SystemExit, KeyboardInterrupt)

def build_demo_blocks(hub: Hub, demo: DemoSpec) -> gr.Blocks | None:
    """The demo's UI built apart, so a failure leaves no half-built tab; None when it failed."""
    try:
        with gr.Blocks() as blocks:
            demo.build_ui(DemoContext(hub, demo))
        return blocks
    except (Exception, SystemExit) as error:  # noqa: BLE001
        hub.demo_errors[demo.id] = ("build_ui", f"{type(error).__name__}: {error}")
        log.exception("demo %s failed to build its UI", demo.id)
        if hub.strict:
            raise RuntimeError(f"demo {demo.id!r} failed to build its UI; strict mode makes this fatal") from error
        return None


def error_panel(title: str, stage: str, message: str) -> None:
    gr.Markdown(f"### {title} is unavailable\nIt failed while **{stage}**:\n\n```\n{message}\n```\n"
                "Every other demo keeps working. The System page lists all plugins.")


def model_card(demo: DemoSpec) -> str:
    for model in demo.models:
        card = model.weights_dir / "README.md" if model.weights_dir else None
        if card and card.is_file():
            return card.read_text()
    return ""


def sessions_line(app: gr.Blocks) -> str:
    """How many sessions' state Gradio keeps in memory (each holds a copy of every component's config)."""
    holder = getattr(app, "state_holder", None)
    if holder is None:                          # not launched
        return "- sessions kept in memory: none yet"
    return f"- sessions kept in memory: {len(holder.session_data)} (at most {holder.capacity})"


SIZE_COLUMNS = [SYSTEM_COLUMNS.index("estimated bytes"), SYSTEM_COLUMNS.index("loaded bytes")]


def readable_size(size: int) -> str:
    """Bytes as a person reads them: "0", "812 kB", "5.6 MB", "1.2 GB"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}" if unit != "kB" else f"{size / scale:.0f} kB"
    return f"{size} B" if size else "0"


SHA_COLUMN = SYSTEM_COLUMNS.index("weights sha256")
SYSTEM_COLUMN_WIDTHS = ["9%", "7%", "6%", "14%", "13%", "5%", "7%", "8%", "8%", "7%", "10%", "6%"]


def shown_row(row: list) -> list:
    """A System-tab row: the byte counts with their units, the SHA-256 cut to 12 digits, enough to tell
    two files apart (`hub list --json` keeps the numbers and the whole digest)."""
    shown = [readable_size(value) if i in SIZE_COLUMNS else value for i, value in enumerate(row)]
    shown[SHA_COLUMN] = (shown[SHA_COLUMN] or "")[:12]
    return shown


def system_tab(hub: Hub, app: gr.Blocks) -> tuple[gr.Dataframe, gr.Markdown, callable]:
    devices = gr.Markdown()
    table = gr.Dataframe(headers=SYSTEM_COLUMNS, interactive=False, wrap=True, label="Plugins and demos",
                         max_height=10_000, elem_id="system-table",     # the whole list, no scrolling inside
                         column_widths=SYSTEM_COLUMN_WIDTHS)            # and every column in view
    refresh = gr.Button("Refresh", size="sm")

    def current():
        lines = [f"- `{d.name}`: {d.free / 2**30:.1f} GiB free of {d.total / 2**30:.1f} GiB at start, "
                 f"{hub.placement.used(d.name) / 2**20:.1f} MiB used by demos"
                 for d in hub.placement.devices.values()]
        stats = hub.placement.stats
        lines.append(f"- loads {stats.loads}, evictions {stats.evictions}, CPU fallbacks {stats.cpu_fallbacks}")
        lines.append(sessions_line(app))
        return "**Devices**\n" + "\n".join(lines), [shown_row(row) for row in hub.system_rows()]

    refresh.click(current, outputs=[devices, table], api_name="system_status")
    batches = gr.Dataframe(headers=BATCH_COLUMNS, interactive=False, label="Batched actions since the start: requests "
                           "served together, and where their time went (seconds)", elem_id="batching-table")
    refresh.click(lambda: batching_rows(hub), outputs=batches, api_name="batching_status")
    app.load(lambda: batching_rows(hub), outputs=batches, api_visibility="undocumented")
    return table, devices, current


BATCH_COLUMNS = ["action", "requests", "forward passes", "mean batch", "in the model", "checking inputs", "rendering"]


def batching_rows(hub: Hub) -> list[list]:
    """A row per batched action (api name) of this process's hub; under Ray the replicas batch."""
    rows = []
    for name, batcher in sorted(hub.batchers.items()):
        stats = batcher.stats.as_dict()
        rows.append([name, stats["requests"], stats["passes"], stats["mean_batch"], stats["run_s"],
                     stats["prepare_s"], stats["finish_s"]])
    return rows


def demo_links(demo: DemoSpec, shown: list[DemoSpec]) -> str:
    """The way back to the gallery and across to the other demos of the same group, as HTML: links that open
    in the same window (Markdown's open a new one), relative so that they hold behind a proxy's path and on a
    share link."""
    siblings = " · ".join(f"<b>{html.escape(d.title)}</b>" if d.id == demo.id else
                          f'<a href="{html.escape(d.id)}">{html.escape(d.title)}</a>'
                          for d in shown if d.group == demo.group)
    return f'<nav class="hub-links"><a href="./">← All demos</a> | {html.escape(demo.group or "More")}: {siblings}</nav>'


def demo_page(hub: Hub, demo: DemoSpec, blocks: gr.Blocks | None, shown: list[DemoSpec]) -> None:
    gr.HTML(demo_links(demo, shown))
    gr.Markdown(f"## {demo.title}\n{demo.description}", elem_id=f"page-{demo.id}")
    if blocks is None:
        error_panel(demo.title, "building its interface", hub.demo_errors[demo.id][1])
        return
    blocks.render()
    card = model_card(demo)
    if card:
        with gr.Accordion("Model card", open=False):
            gr.Markdown(card)


def navbar() -> None:
    """Every page's bar: the gallery, the tools (the lecture among them) and the System page; the models
    are reached from the gallery, and each demo page links the others of its group."""
    gr.Navbar(main_page_name="Gallery")


def build_app(hub: Hub, cache_ttl: int | None = None) -> gr.Blocks:
    """The whole app. With `cache_ttl` (seconds), uploads and generated files older than that are
    deleted, checked as often; without, they stay until the hub stops."""
    make_cached_images_atomic()
    shown = sorted((demo for demo in hub.demos.values() if demo.trained),   # the System page lists the others
                   key=lambda demo: demo.tab_order)
    built = {demo.id: build_demo_blocks(hub, demo) for demo in shown}
    with gr.Blocks(title="Demo Hub", delete_cache=(cache_ttl, cache_ttl) if cache_ttl else None) as app:
        navbar()
        gr.Markdown(INTRO)
        cards = gr.HTML(gallery.page(hub, shown), elem_id="gallery-page")
        app.load(lambda: gallery.page(hub, shown), outputs=cards, api_visibility="undocumented")   # fresh statuses
    for demo in shown:
        with app.route(demo.title, demo.id, show_in_navbar=demo.group == "Tools"):
            navbar()
            demo_page(hub, demo, built[demo.id], shown)
    for record in hub.records.values():
        if record.status == "error" and not record.demos:
            with app.route(f"{record.name} (error)", f"error-{record.name}", show_in_navbar=False):
                navbar()
                error_panel(f"Plugin '{record.name}'", record.stage, record.error)
    with app.route("System", "system"):
        navbar()
        table, devices, current = system_tab(hub, app)
        app.load(current, outputs=[devices, table], api_visibility="undocumented")   # fresh whenever opened
    hub.start()
    return app
