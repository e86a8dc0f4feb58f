"""Gradio's upload cache: images enter it whole, even when clients ask for the same one at once."""
import threading

import numpy as np
from PIL import Image

from hub.uploads import make_cached_images_atomic, save_image_to_cache_atomically


def sizes_read_while_saving(folder, rewrites=40) -> set[int]:
    """Save one image once, then save it again `rewrites` times (other clients asking for the same
    picture) while a reader (the first client's download) reads the published file over and over."""
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (768, 768, 3), dtype=np.uint8))
    path = save_image_to_cache_atomically(image, str(folder), format="png")
    sizes, done = set(), threading.Event()

    def download():
        while not done.is_set():
            with open(path, "rb") as file:
                sizes.add(len(file.read()))

    reader = threading.Thread(target=download)
    reader.start()
    try:
        for _ in range(rewrites):
            assert save_image_to_cache_atomically(image, str(folder), format="png") == path
    finally:
        done.set()
        reader.join()
    return sizes


def test_a_cached_image_is_never_read_half_written(tmp_path):
    sizes = sizes_read_while_saving(tmp_path)
    assert len(sizes) == 1 and sizes.pop() > 1_000_000
    assert [path.name for path in tmp_path.rglob("*") if path.is_file()] == ["image.png"]   # no partial left


def test_gradio_image_outputs_go_through_the_atomic_write(monkeypatch):
    import gradio as gr
    from gradio import processing_utils

    monkeypatch.setattr(processing_utils, "save_pil_to_cache", processing_utils.save_pil_to_cache)  # undone after
    make_cached_images_atomic()
    assert processing_utils.save_pil_to_cache is save_image_to_cache_atomically
    output = gr.Image(format="png").postprocess(np.full((8, 8), 255, np.uint8))
    assert np.asarray(Image.open(output.path)).min() == 255
