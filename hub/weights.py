"""Shipped weights: weights/<demo>/{model.safetensors, config.json, README.md}.

config.json is the manifest: the model's hyperparameters under "model", the SHA-256 of
model.safetensors under "sha256". Loading checks the hash and every tensor's shape; safetensors
only, so no pickle is ever read.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable

if TYPE_CHECKING:                       # torch is imported where tensors are read or written, not to list demos
    import torch

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_ROOT = ROOT / "weights"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"

_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


class WeightsError(RuntimeError):
    """Weights are missing, corrupt or do not fit the model; the message says which and why (users see
    it, so it names files by `shown`, never by their place on the server)."""


def shown(path: Path) -> str:
    """A weights file or folder as a message names it: inside the project, relative to it; elsewhere,
    its folder and name."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(Path(*path.parts[-2:]))


def weights_dir(demo_id: str) -> Path:
    """The folder of a demo's shipped weights: weights/<demo_id>/."""
    return WEIGHTS_ROOT / demo_id


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_header(path: Path) -> dict:
    """The safetensors JSON header (names, dtypes, shapes), read without touching the tensors."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 100_000_000:
                raise ValueError("header length is implausible")
            header = json.loads(f.read(size))
    except FileNotFoundError:
        raise
    except (struct.error, ValueError, UnicodeDecodeError) as e:
        raise WeightsError(f"{shown(path)} is not a safetensors file ({e})") from e
    header.pop("__metadata__", None)
    return header


def estimate_bytes(directory: Path) -> int:
    """Bytes the model's tensors take, from the header alone; 0 when the file is missing or unreadable."""
    try:
        header = read_header(Path(directory) / WEIGHTS_FILE)
    except (OSError, WeightsError):
        return 0
    total = 0
    for info in header.values():
        count = 1
        for dim in info["shape"]:
            count *= dim
        total += count * _DTYPE_BYTES.get(info["dtype"], 4)
    return total


def read_config(directory: Path) -> dict:
    """The config.json of a weights folder (hyperparameters, metrics, SHA-256), or a WeightsError."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise WeightsError(f"{shown(path)} is missing: this demo has no shipped weights (train them with `python -m hub train`)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise WeightsError(f"{shown(path)} is not valid JSON ({e})") from e


def load_state(directory: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state dict, config) after checking the file exists and its SHA-256 matches config.json."""
    directory = Path(directory)
    config = read_config(directory)
    path = directory / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsError(f"{shown(path)} is missing: this demo has no shipped weights (train them with `python -m hub train`)")
    expected = config.get("sha256")
    actual = sha256_of(path)
    if expected != actual:
        raise WeightsError(
            f"{shown(path)} is corrupt or was replaced: its SHA-256 is {actual[:12]}..., config.json expects "
            f"{str(expected)[:12]}... Re-download or retrain it."
        )
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path)), config
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{shown(path)} could not be read as safetensors ({e})") from e


def load_into(module: torch.nn.Module, directory: Path, absent_ok: tuple[str, ...] = ()) -> dict:
    """Fill `module` from the weights in `directory`; every name and shape must match, except that the
    tensors named in `absent_ok` (added to the model since those weights were saved) may be missing and keep
    the module's own values. Returns the config."""
    state, config = load_state(directory)
    expected = module.state_dict()
    state = {**{name: expected[name] for name in absent_ok if name in expected}, **state}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsError(f"{shown(directory)}: tensors missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise WeightsError(
                f"{shown(directory)}: tensor {name!r} has shape {list(tensor.shape)} but the model expects "
                f"{list(expected[name].shape)}"
            )
    module.load_state_dict(state)
    return config


def load_model(cls, directory: Path, absent_ok: tuple[str, ...] = ()) -> tuple[torch.nn.Module, dict]:
    """`cls(**config["model"])` filled from `directory` (see `load_into`) and in eval mode, with its config."""
    config = read_config(directory)
    model = cls(**config["model"])
    load_into(model, directory, absent_ok)
    return model.eval(), config


def write_config(directory: Path, config: dict) -> None:
    """Rewrite config.json of a weights folder whose weights stay as they are (its "sha256" must match)."""
    path = Path(directory) / CONFIG_FILE
    if config.get("sha256") != sha256_of(Path(directory) / WEIGHTS_FILE):
        raise WeightsError(f"{shown(path)}: the sha256 given is not that of the weights beside it")
    path.write_text(json.dumps(config, indent=2) + "\n")


def save(directory: Path, module: torch.nn.Module, config: dict, dtype: torch.dtype | None = None) -> str:
    """Write model.safetensors and config.json (with the file's SHA-256). Returns the hash.
    `dtype=torch.float16` halves the file (floating tensors only); loading casts back to the model's dtype."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in module.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE))
    digest = sha256_of(directory / WEIGHTS_FILE)
    (directory / CONFIG_FILE).write_text(json.dumps({**config, "sha256": digest}, indent=2) + "\n")
    return digest


def parameter_count(module: torch.nn.Module) -> int:
    """The number of parameters of a torch module."""
    return sum(p.numel() for p in module.parameters())


def write_atomically(target: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """`write(file)` into a new file beside `target`, then renamed over it: a reader, or a run stopped while
    writing, sees the old file whole or the new one whole, never part of one; on failure nothing is left."""
    handle, partial = tempfile.mkstemp(dir=Path(target).parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
