"""The landing page: a card per demo (title, one line, a thumbnail made from the demo's own output, its
measured headline figure, its status), grouped the way the lecture groups the models, each card a link to
the demo's own page (`/<demo id>`).

Thumbnails are files, `weights/gallery/<demo id>.png`, made once by `python -m hub thumbnails` from each
demo's `thumbnail(ctx)` (or, by default, from the digits its `sample` draws), so the landing page loads no
model.
"""
from __future__ import annotations

import base64
import functools
import html
import logging
from pathlib import Path

import numpy as np

from . import weights
from .specs import DemoSpec

log = logging.getLogger("hub.gallery")

THUMBNAILS = weights.WEIGHTS_ROOT / "gallery"
GROUPS = {
    "Transformer": "Self-attention throughout: an encoder-decoder for translation, an encoder for images, "
                   "a decoder over image tokens for text to image.",
    "Explicit models": "They give log p(x), exactly or as a bound: score a digit, find an anomaly, complete a "
                       "half-drawn one.",
    "Implicit models": "They only draw samples, in one pass, and are judged by what they draw.",
    "Tools": "The lecture itself, what the hub measures every model with, and every model side by side.",
}
STATUS_WORDS = {"loaded": "loaded", "idle": "not loaded yet", "error": "broken"}


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def thumbnail_path(demo_id: str, folder: Path = THUMBNAILS) -> Path:
    return folder / f"{demo_id}.png"


def headline(demo: DemoSpec) -> str:
    """The demo's measured headline figure: its `headline` template filled from its shipped metrics."""
    if not demo.headline or not demo.models or demo.models[0].weights_dir is None:
        return ""
    try:
        return demo.headline.format(**weights.read_config(demo.models[0].weights_dir).get("metrics", {}))
    except (weights.WeightsError, KeyError, IndexError, ValueError, TypeError) as error:
        log.warning("gallery: no headline for %s (%s)", demo.id, error)
        return ""


def status(hub, demo_id: str) -> str:
    """"loaded" (a model of it is in memory), "idle" (it loads on first use) or "error"."""
    if hub.demo_status(demo_id)[0] == "error":
        return "error"
    demo = hub.demos[demo_id]
    loaded = any(hub.placement.status(demo.model_key(m.name)).get("loaded") for m in demo.models)
    return "loaded" if loaded else "idle"


def image_uri(path: Path) -> str | None:
    """The picture inline, read once per version of the file (the gallery is rendered on every visit)."""
    return encoded(path, path.stat().st_mtime_ns) if path.is_file() else None


@functools.lru_cache(maxsize=256)
def encoded(path: Path, modified: int) -> str:
    return f"data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"


def card(demo: DemoSpec, state: str, thumbnails: Path = THUMBNAILS) -> str:
    """One demo's card: a link to its page."""
    uri = image_uri(thumbnail_path(demo.id, thumbnails))
    picture = f'<img src="{uri}" alt="">' if uri else '<div class="no-thumbnail">no thumbnail yet</div>'
    figure = headline(demo)
    return (f'<a class="hub-card" href="{html.escape(demo.id)}" data-demo="{html.escape(demo.id)}">{picture}'
            f'<span class="hub-card-title">{html.escape(demo.title)}</span>'
            f'<span class="hub-card-line">{html.escape(first_sentence(strip_markdown(demo.description)))}</span>'
            + (f'<span class="hub-card-figure">{html.escape(figure)}</span>' if figure else "")
            + f'<span class="hub-status hub-status-{state}">{STATUS_WORDS[state]}</span></a>')


def strip_markdown(text: str) -> str:
    return text.replace("**", "").replace("*", "").replace("`", "")


def page(hub, demos: list[DemoSpec], thumbnails: Path = THUMBNAILS) -> str:
    """The gallery's HTML: the demos by group, then the plugins that failed before registering a demo."""
    parts = []
    groups = {**GROUPS, **{d.group or "More": "" for d in demos if d.group not in GROUPS}}
    for group, about in groups.items():
        members = [d for d in demos if (d.group or "More") == group]
        if members:
            cards = "".join(card(d, status(hub, d.id), thumbnails) for d in members)
            parts.append(f'<h3>{html.escape(group)}</h3><p>{html.escape(about)}</p><div class="hub-cards">{cards}</div>')
    broken = [r for r in hub.records.values() if r.status == "error" and not r.demos]
    if broken:
        items = "".join(f'<a class="hub-card" href="system"><span class="hub-card-title">{html.escape(r.name)}'
                        f'</span><span class="hub-card-line">failed at {html.escape(r.stage)}</span>'
                        '<span class="hub-status hub-status-error">broken</span></a>' for r in broken)
        parts.append(f'<h3>Plugins that failed</h3><div class="hub-cards">{items}</div>')
    return '<div id="gallery">' + "".join(parts) + "</div>"


GALLERY_CSS = """
.hub-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; margin-bottom: 8px; }
.hub-card { display: flex; flex-direction: column; gap: 4px; padding: 10px; border: 1px solid var(--border-color-primary);
  border-radius: 8px; text-decoration: none !important; color: inherit !important; }
.hub-card:hover { border-color: var(--color-accent); }
.hub-links a { color: var(--color-accent); text-decoration: underline; }
.hub-card img, .no-thumbnail { width: 100%; aspect-ratio: 1; object-fit: contain; image-rendering: pixelated;
  background: #000; border-radius: 4px; }
.no-thumbnail { display: flex; align-items: center; justify-content: center; color: #aaa; font-size: var(--text-sm); }
.hub-card-title { font-weight: 600; }
.hub-card-line { font-size: var(--text-sm); }
.hub-card-figure { font-size: var(--text-sm); font-variant-numeric: tabular-nums; }
.hub-status { font-size: var(--text-xs); align-self: flex-start; padding: 1px 6px; border-radius: 8px; }
.hub-status-loaded { background: #d4f4dd; color: #14532d; }
.hub-status-idle { background: #e5e7eb; color: #374151; }
.hub-status-error { background: #fee2e2; color: #7f1d1d; }
"""


def default_thumbnail(ctx) -> np.ndarray | None:
    """16 digits the demo's `sample` draws (seed 0) in a 4 x 4 grid; None when it draws none."""
    import torch

    demo = ctx.demo
    if demo.sample is None:
        return None
    with ctx.models.use(demo.models[0].name) as model:
        images = np.asarray(demo.sample(model, 16, torch.Generator().manual_seed(0)))
    images = np.pad(images, ((0, 0), (1, 1), (1, 1)), constant_values=0.25)        # a grey line between digits
    side = images.shape[-1]
    return images.reshape(4, 4, side, side).transpose(0, 2, 1, 3).reshape(4 * side, 4 * side)


def as_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_thumbnails(hub, context, demo_ids: list[str] | None = None, folder: Path = THUMBNAILS,
                     side: int = 192) -> dict:
    """Make `folder`/<demo>.png for the given demos (default: every trained one), each from what
    `thumbnail(context(hub, demo))` returns; {demo id: path or reason}."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for demo_id in demo_ids or [d.id for d in hub.demos.values() if d.trained]:
        demo = hub.demos[demo_id]
        try:
            ctx = context(hub, demo)
            image = demo.thumbnail(ctx) if demo.thumbnail else default_thumbnail(ctx)
        except Exception as error:  # noqa: BLE001 - one demo's failure must not cost the others' thumbnails
            log.exception("thumbnail of %s failed", demo_id)
            made[demo_id] = f"failed: {type(error).__name__}: {error}"
            continue
        if image is None:
            made[demo_id] = "no thumbnail (the demo gives none)"
            continue
        picture = Image.fromarray(as_uint8(image))
        if max(picture.size) > side:
            picture.thumbnail((side, side), Image.LANCZOS)
        scale = max(1, side // max(picture.size))             # small digits grow with crisp pixels
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
        picture.save(thumbnail_path(demo_id, folder), optimize=True)
        made[demo_id] = str(thumbnail_path(demo_id, folder))
    return made
