"""What a plugin registers: a DemoSpec per demo, with a ModelSpec per model it needs."""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import weights

DEMO_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESERVED_IDS = {"system", "gallery"}           # pages of the hub itself (and weights/gallery/, its thumbnails)


@dataclass
class ModelSpec:
    """One model of a demo. `load()` builds it on the CPU with its weights; the placement moves it.

    `estimated_bytes` defaults to the tensor bytes in `weights_dir`'s safetensors header."""
    name: str
    load: Callable[[], Any]
    weights_dir: Path | None = None
    estimated_bytes: int | None = None

    def __post_init__(self):
        if self.estimated_bytes is None:
            self.estimated_bytes = weights.estimate_bytes(self.weights_dir) if self.weights_dir else 0


@dataclass
class DemoSpec:
    """One demo (one tab). `build_ui(ctx)` creates its Gradio components inside a Blocks context;
    `ctx.models` is a lazy handle, so nothing loads until the first request.

    `train(out_dir, epochs=None, seed=None, limit=None)` and `evaluate(model, limit=None)` back
    `python -m hub train|evaluate`; `evaluate` returns test-split metrics as a dict. It gets the
    loaded model itself when the demo has one model, else the lazy handle.

    A demo that draws digits may give `sample(model, n, generator)` -> n images [n, 28, 28] in
    [0, 1] and say what `likelihood` its model offers ("exact", "bound" or "none"): the hub's
    Compare tab then puts it beside the others. A demo that draws digits from a caption may give
    `caption_sample(model, captions, generator)` -> one image [28, 28] in [0, 1] per caption, as a numpy
    array [len(captions), 28, 28]: views that put text-to-image models side by side call it. A demo whose
    model scores binary digits may give `log_likelihood(model, x)`: x [N, 784] in {0, 1} (float) -> log p(x)
    in nats [N] (exact, or a bound as `likelihood` says); the anomaly benchmark scores every such model.
    The lecture's pages run two more where a demo offers them: `elbo_parts(model, x)` (x [N, 784] binary ->
    {"reconstruction": E_q[log p(x|z)] [N], "kl": KL(q(z|x) || p(z)) [N]}, a VAE's) and `decoding_steps(model,
    text, top)` (a translation written a token at a time: [(chosen token, [(token, p), ...top]), ...]).
    A demo whose model has a discriminator may give `discriminator_score(model, images)`: images [N, 28, 28]
    in [0, 1] -> D's logit that each is real [N], all an implicit model can say about one image.

    The gallery shows a card per demo: `headline` is its measured headline figure, a template filled from
    the shipped config.json's "metrics" ("test accuracy {accuracy:.2%}"); `thumbnail(ctx)` -> an image (uint8,
    or floats in [0, 1]) made from the demo's own output, saved once by `python -m hub thumbnails` (by
    default the digits `sample` draws). Each demo has its own page at `/<id>`.

    `group` places the demo in the gallery the way the lecture groups models: "Transformer",
    "Explicit models" (a likelihood), "Implicit models" (samples only) or "Tools".

    The gallery and the navbar follow registration order; a demo with a larger `tab_order` comes after those
    with a smaller one (a summary page such as Compare uses 1 to follow the models it summarises, the
    lecture -1 to come first)."""
    id: str
    title: str
    description: str
    build_ui: Callable[[Any], None]
    models: list[ModelSpec] = field(default_factory=list)
    train: Callable[..., dict] | None = None
    evaluate: Callable[..., dict] | None = None
    sample: Callable[..., Any] | None = None
    caption_sample: Callable[..., Any] | None = None
    log_likelihood: Callable[..., Any] | None = None
    discriminator_score: Callable[..., Any] | None = None
    elbo_parts: Callable[..., Any] | None = None
    decoding_steps: Callable[..., Any] | None = None
    likelihood: str = ""
    headline: str = ""
    thumbnail: Callable[..., Any] | None = None
    group: str = ""
    tab_order: int = 0
    version: str | None = None
    plugin: str = ""

    def validate(self) -> None:
        if not DEMO_ID.match(self.id or ""):
            raise ValueError(f"demo id {self.id!r} must be lower-case letters, digits and _, starting with a letter")
        if self.id in RESERVED_IDS:
            raise ValueError(f"demo id {self.id!r} is taken by the hub's own page")
        names = [m.name for m in self.models]
        if len(names) != len(set(names)):
            raise ValueError(f"demo {self.id!r} names a model twice: {names}")
        if not callable(self.build_ui):
            raise ValueError(f"demo {self.id!r}: build_ui must be callable")

    @property
    def trained(self) -> bool:
        """Whether every model's weights folder has its config.json (the hub shows no tab before)."""
        return all(m.weights_dir is None or (m.weights_dir / weights.CONFIG_FILE).is_file() for m in self.models)

    @property
    def estimated_bytes(self) -> int:
        return sum(m.estimated_bytes or 0 for m in self.models)

    def model_key(self, name: str | None = None) -> str:
        """The placement's key for one of this demo's models: "<demo>" or "<demo>/<model>"."""
        if name is None:
            if len(self.models) != 1:
                raise ValueError(f"demo {self.id!r} has {len(self.models)} models: name the one you want")
            name = self.models[0].name
        if name not in {m.name for m in self.models}:
            raise KeyError(f"demo {self.id!r} has no model {name!r}")
        return self.id if len(self.models) == 1 else f"{self.id}/{name}"


def lazy(module: str, name: str) -> Callable:
    """`module.name`, imported on first call: lets a plugin register without importing torch code."""
    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    call.__name__ = name
    return call


def package_parts(package: str) -> dict[str, Callable]:
    """`build_ui`, `train` and `evaluate` of a plugin package laid out as `<package>.demo.build_ui`,
    `<package>.train.train` and `<package>.train.evaluate`, each imported on first call."""
    return {"build_ui": lazy(f"{package}.demo", "build_ui"), "train": lazy(f"{package}.train", "train"),
            "evaluate": lazy(f"{package}.train", "evaluate")}
