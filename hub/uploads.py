"""Which files a request may name: only those in Gradio's upload cache."""
from __future__ import annotations

import os
from pathlib import Path

from gradio.utils import get_upload_folder


def is_uploaded(path) -> bool:
    """Whether `path` is a file in Gradio's upload cache (where uploads, and the hub's own outputs, live)."""
    folder = Path(os.path.realpath(get_upload_folder()))
    real = Path(os.path.realpath(path))
    return real.is_relative_to(folder) and real != folder and real.is_file()
