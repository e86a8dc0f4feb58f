"""Fetching the data sets into the layout `data` reads, every file checked against its SHA-256.

Two kinds of source. The canonical one (the default) serves each data set in its original form
(MNIST's IDX files, Larochelle's .amat text, LIBSVM's USPS, Multi30k's gzip text); the recipes
below turn those into exactly the files the hub reads, byte for byte, so the same SHA-256 list
checks both. A mirror serves the hub's own layout (`<mirror>/<data set>/<file>`) and is fetched
as it is. Either is a setting: `--source NAME=URL` points one data set elsewhere, `--mirror URL`
all of them.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from . import data

# the SHA-256 of every file the hub reads (../shared/data/README.md)
SHA256 = {
    "binarized_mnist/binarized_mnist.npz": "9286b4d0357862c374d7cf85b2100770a34bf9834bd7fdc092f3c374910d403d",
    "fashion_mnist/test.npz": "ec9ede82a528b9cfb046f2c8d7afa7c61caa467fe40c1b548e786c23c247b6ba",
    "fashion_mnist/train.npz": "9725b333e9dbe63949ddd0043ccb9851b5323646e1caca9e748ec32084cf51b7",
    "mnist/test.npz": "3ba302235efdc3e7e4e84db9ce6a6d6cbc9dd1162d4e79dd0b6a606afc745423",
    "mnist/train.npz": "11bf48d67d8e90b9d940549ce9565b4921ad2ec150e4491e0c670aeb165169a9",
    "multi30k/test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "multi30k/test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "multi30k/train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "multi30k/train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "multi30k/val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "multi30k/val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "usps/usps.npz": "996feb01a8267347aba0c669f6513cb08c4340e1c11b9bc7a707943e1ef92749",
}
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download failed or a file did not match its SHA-256; nothing was left in the data folder."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def file_state(root: Path, relative: str) -> str:
    """"ok", "missing" or "changed" (present, but not the bytes the hub expects)."""
    path = root / relative
    if not path.is_file():
        return "missing"
    return "ok" if sha256(path) == SHA256[relative] else "changed"


def fetch(url: str, into: Path) -> Path:
    """Stream one URL to a file, with a progress bar in bytes."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(into, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=into.name, leave=False) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
    except OSError as error:                 # URLError and HTTPError are OSErrors
        raise DownloadError(f"could not fetch {url}: {error}") from error
    return into


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed, but with the fixed timestamps of the shipped files, so equal arrays give
    equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            entry = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)


# ---- the original formats ----

def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip), the format of MNIST and Fashion-MNIST: magic, dimensions, then uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DownloadError(f"{path.name} is not an IDX file of unsigned bytes")
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def read_amat(path: Path) -> np.ndarray:
    """Larochelle's .amat: one image a line, 784 values 0 or 1 separated by spaces."""
    return np.loadtxt(path, dtype=np.uint8).reshape(-1, 28, 28)


def read_libsvm_usps(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """LIBSVM's USPS (bz2): "label index:value ...", labels 1..10 for digits 0..9, values in [-1, 1]
    (a missing index means 0). Returns ([N,16,16] in [0,1] float32, digits)."""
    images, labels = [], []
    with bz2.open(path, "rt") as f:
        for line in f:
            label, *features = line.split()
            pixels = np.zeros(256, np.float32)
            for feature in features:
                index, value = feature.split(":")
                pixels[int(index) - 1] = np.float32(value)
            images.append((pixels + np.float32(1)) / np.float32(2))
            labels.append(int(float(label)) - 1)
    return np.stack(images).reshape(-1, 16, 16), np.array(labels, np.uint8)


def recover_labels(binary: np.ndarray, grayscale: np.ndarray, grayscale_labels: np.ndarray) -> np.ndarray:
    """The label of each statically binarized digit: that of the grayscale original under which its
    pixels are most likely (each pixel was drawn as Bernoulli(gray / 255)).

    Every pixel's log-likelihood is <= 0, so a digit's log-likelihood over a quarter of the pixels (the
    ones that vary most among the originals) bounds it over all of them from above; only the originals
    whose bound reaches the full likelihood of the best-bounded one are scored in full. The answer is
    the exhaustive search's, in about a third of its time."""
    p = np.clip(grayscale.reshape(len(grayscale), -1).astype(np.float32) / 255, 1e-3, 1 - 1e-3)
    log_off = np.log1p(-p)
    logit, bias = np.log(p) - log_off, log_off.sum(1)
    some = np.sort(np.argsort(-p.var(0))[:p.shape[1] // 4])
    logit_some, bias_some = np.ascontiguousarray(logit[:, some].T), log_off[:, some].sum(1)
    flat = binary.reshape(len(binary), -1).astype(np.float32)
    best = np.empty(len(binary), np.int64)
    for start in tqdm(range(0, len(flat), 1000), desc="matching binarized digits to MNIST", leave=False):
        x = flat[start:start + 1000]
        bound = x[:, some] @ logit_some + bias_some
        guess = bound.argmax(1)
        reached = (x * logit[guess]).sum(1) + bias[guess]
        contender = bound >= reached[:, None] - 1e-3          # the margin absorbs float rounding
        scored = np.flatnonzero(contender.any(0))
        likelihood = np.where(contender[:, scored], x @ logit[scored].T + bias[scored], -np.inf)
        best[start:start + 1000] = scored[likelihood.argmax(1)]
    return grayscale_labels[best]


# ---- recipes: the original files of a data set -> the files the hub reads ----

@dataclass
class Recipe:
    source: str                                   # canonical base URL
    originals: tuple[str, ...]                    # file names under it
    build: Callable[[dict[str, Path], Path, Path], None]  # (originals, out folder, data root) writes the files
    needs: tuple[str, ...] = ()                   # data sets that must be present first


def idx_pair(prefix: str) -> tuple[str, str]:
    return f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"


def build_idx_set(originals: dict[str, Path], folder: Path, root: Path) -> None:
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = idx_pair(prefix)
        save_npz(folder / f"{split}.npz", {"x": read_idx(originals[images]), "y": read_idx(originals[labels])})


def build_usps(originals: dict[str, Path], folder: Path, root: Path) -> None:
    arrays = {}
    for split, name in (("train", "usps.bz2"), ("test", "usps.t.bz2")):
        x, y = read_libsvm_usps(originals[name])
        arrays |= {f"x_{split}": x, f"y_{split}": y, f"x_{split}_uint8": (x * 255).round().astype(np.uint8)}
    save_npz(folder / "usps.npz", arrays)


def build_binarized_mnist(originals: dict[str, Path], folder: Path, root: Path) -> None:
    x = {split: read_amat(originals[f"binarized_mnist_{split}.amat"]) for split in ("train", "valid", "test")}
    with np.load(root / "mnist" / "train.npz") as train, np.load(root / "mnist" / "test.npz") as test:
        train_x, train_y, test_x, test_y = train["x"], train["y"], test["x"], test["y"]
    seen = recover_labels(np.concatenate([x["train"], x["valid"]]), train_x, train_y)
    labels = {"train": seen[:len(x["train"])], "valid": seen[len(x["train"]):],
              "test": recover_labels(x["test"], test_x, test_y)}
    save_npz(folder / "binarized_mnist.npz",
             {key: value for split in x for key, value in ((f"x_{split}", x[split]), (f"y_{split}", labels[split]))})


def copy_as_they_are(originals: dict[str, Path], folder: Path, root: Path) -> None:
    for name, path in originals.items():
        shutil.copyfile(path, folder / name)


RECIPES = {
    "mnist": Recipe("https://ossci-datasets.s3.amazonaws.com/mnist/", (*idx_pair("train"), *idx_pair("t10k")),
                    build_idx_set),
    "fashion_mnist": Recipe("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                            (*idx_pair("train"), *idx_pair("t10k")), build_idx_set),
    "usps": Recipe("https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/",
                   ("usps.bz2", "usps.t.bz2"), build_usps),
    "binarized_mnist": Recipe("http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",
                              tuple(f"binarized_mnist_{s}.amat" for s in ("train", "valid", "test")),
                              build_binarized_mnist, needs=("mnist",)),
    "multi30k": Recipe("https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/",
                       data.DATASETS["multi30k"][0], copy_as_they_are),
}


def default_root() -> Path:
    """Where downloads go unless told: the first place the data module looks."""
    return data.candidate_roots()[0]


def in_order(names: list[str]) -> list[str]:
    """The requested data sets, each after the ones its recipe needs (added when missing)."""
    ordered: list[str] = []

    def add(name: str) -> None:
        if name not in RECIPES:
            raise KeyError(f"unknown data set {name!r}; known: {', '.join(sorted(RECIPES))}")
        for need in RECIPES[name].needs:
            add(need)
        if name not in ordered:
            ordered.append(name)

    for name in names:
        add(name)
    return ordered


def download(name: str, root: Path, sources: dict[str, str] | None = None, mirror: str | None = None) -> list[str]:
    """Fetch data set `name` into root/name/, check every file's SHA-256, and only then put the files
    in place. Files already there with the right bytes are kept. Returns the files written."""
    folder = root / name
    files = data.DATASETS[name][0]
    if all(file_state(root, f"{name}/{f}") == "ok" for f in files):
        return []
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}-") as scratch:
        scratch = Path(scratch)
        built = scratch / "built"
        built.mkdir()
        if mirror:
            for f in files:
                fetch(f"{mirror.rstrip('/')}/{name}/{f}", built / f)
        else:
            recipe = RECIPES[name]
            base = (sources or {}).get(name, recipe.source).rstrip("/")
            originals = {f: fetch(f"{base}/{f}", scratch / f) for f in recipe.originals}
            recipe.build(originals, built, root)
        for f in files:
            digest = sha256(built / f)
            if digest != SHA256[f"{name}/{f}"]:
                raise DownloadError(f"{name}/{f}: SHA-256 {digest} is not the expected {SHA256[f'{name}/{f}']}; "
                                    f"nothing was written")
        for f in files:
            os.replace(built / f, folder / f)
    return list(files)


def status(root: Path | None = None) -> list[tuple[str, str, Path | None]]:
    """(data set, state, folder) for every data set: "ok" where the data module finds all its files
    (state "changed" if any differs from its SHA-256), else "missing"."""
    rows = []
    for name, (files, _) in data.DATASETS.items():
        try:
            folder = data.dataset_dir(name) if root is None else root / name
        except data.DataNotFound:
            rows.append((name, "missing", None))
            continue
        states = {file_state(folder.parent, f"{name}/{f}") for f in files}
        rows.append((name, "missing" if "missing" in states else "changed" if "changed" in states else "ok", folder))
    return rows
