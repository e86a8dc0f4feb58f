"""Pretrained Hugging Face checkpoints beside the models trained here: named by an environment
variable, loaded from a local directory or the local Hugging Face cache only (nothing is downloaded)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..specs import ModelSpec


def specs_from_env(env_var: str, load: Callable[[str], Any]) -> list[ModelSpec]:
    """[a ModelSpec "pretrained: <source>"] when $env_var names a checkpoint, else []."""
    source = os.environ.get(env_var)
    if not source:
        return []
    local = Path(source).expanduser()
    return [ModelSpec(f"pretrained: {source}", lambda: load(source), local if local.is_dir() else None)]


def load_local(auto_class, source: str, **kwargs):
    """`auto_class.from_pretrained(source)` without touching the network, or an OSError that says why."""
    try:
        return auto_class.from_pretrained(source, local_files_only=True, **kwargs)
    except OSError as error:
        raise OSError(f"{source!r} is neither a local model directory nor a model in the local "
                      f"Hugging Face cache ({error})") from None
