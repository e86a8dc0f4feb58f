"""Gradio's upload cache: which files a request may name (only those in it), and how images enter it."""
from __future__ import annotations

import os
from pathlib import Path

from gradio import processing_utils
from gradio.utils import get_upload_folder

from .weights import write_atomically


def is_uploaded(path) -> bool:
    """Whether `path` is a file in Gradio's upload cache (where uploads, and the hub's own outputs, live)."""
    folder = Path(os.path.realpath(get_upload_folder()))
    real = Path(os.path.realpath(path))
    return real.is_relative_to(folder) and real != folder and real.is_file()


def save_image_to_cache_atomically(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """Gradio's `save_pil_to_cache`, but the file appears whole or not at all. Gradio names a cached
    image after the hash of its bytes and rewrites it in place, so when two clients ask for the same
    image (one seed, one picture) the second write truncates the file while the first client is
    downloading it, and that client gets an empty image. Writing beside it and renaming cannot."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    target = (folder / f"{name}.{format}").resolve()
    write_atomically(target, lambda file: file.write(data))
    return str(target)


def make_cached_images_atomic() -> None:
    """Route every image Gradio caches (Image, Gallery, AnnotatedImage outputs) through the atomic write."""
    processing_utils.save_pil_to_cache = save_image_to_cache_atomically
