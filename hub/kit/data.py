"""Finds the shared data sets (see ../shared/data/README.md); never copies them into the project.

Search order: the folder named by $DEMO_HUB_DATA, then ../shared/data beside the project root.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "DEMO_HUB_DATA"

# folder -> (files it must hold, canonical source)
DATASETS = {
    "mnist": (("train.npz", "test.npz"), "http://yann.lecun.com/exdb/mnist/"),
    "binarized_mnist": (
        ("binarized_mnist.npz",),
        "Larochelle's binarized MNIST (Salakhutdinov & Murray 2008), "
        "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",
    ),
    "fashion_mnist": (("train.npz", "test.npz"), "https://github.com/zalandoresearch/fashion-mnist"),
    "usps": (("usps.npz",), "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass.html#usps"),
    "multi30k": (
        ("train.en.gz", "train.de.gz", "val.en.gz", "val.de.gz",
         "test_2016_flickr.en.gz", "test_2016_flickr.de.gz"),
        "https://github.com/multi30k/dataset (task 1, raw files)",
    ),
}


class DataNotFound(FileNotFoundError):
    """A data set is not where the hub looks for it; the message says where to put it."""


def candidate_roots() -> list[Path]:
    roots = []
    if os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]).expanduser())
    roots.append(ROOT.parent / "shared" / "data")
    return roots


def dataset_dir(name: str) -> Path:
    """The folder holding data set `name`, with every file it needs, or a DataNotFound that says why."""
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}")
    files, source = DATASETS[name]
    looked = []
    for root in candidate_roots():
        folder = root / name
        if all((folder / f).is_file() for f in files):
            return folder
        looked.append(str(folder))
    raise DataNotFound(
        f"Data set {name!r} not found (looked in {'; '.join(looked)}). "
        f"Fetch it with: python -m hub data download {name}  "
        f"(or put {', '.join(files)} in a folder {name}/ under ${ENV_VAR}; canonical source: {source})."
    )


def binarized_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Static binarized MNIST: (x uint8 {0,1} [N,28,28], labels uint8 [N]); split is train, valid or test."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be train, valid or test, not {split!r}")
    with np.load(dataset_dir("binarized_mnist") / "binarized_mnist.npz") as npz:
        return npz[f"x_{split}"], npz[f"y_{split}"]


def mnist(split: str, name: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """Grayscale MNIST (or Fashion-MNIST, `name="fashion_mnist"`, the same layout): (x uint8 [N,28,28],
    y uint8 [N]); split is train or test."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, not {split!r}")
    with np.load(dataset_dir(name) / f"{split}.npz") as npz:
        return npz["x"], npz["y"]


def binarized(x: np.ndarray, seed: int) -> np.ndarray:
    """Grayscale images binarized the way static binarized MNIST was made: each pixel drawn once, 1 with
    probability intensity / 255, from a fixed seed. uint8 {0, 1}, same shape."""
    return (np.random.default_rng(seed).random(x.shape) < x / 255.0).astype(np.uint8)


MULTI30K_SPLITS = ("train", "val", "test_2016_flickr")


def multi30k(split: str) -> tuple[list[str], list[str]]:
    """Multi30k task 1: (English sentences, German sentences), aligned; split is train, val or test_2016_flickr."""
    if split not in MULTI30K_SPLITS:
        raise ValueError(f"split must be one of {', '.join(MULTI30K_SPLITS)}, not {split!r}")
    folder = dataset_dir("multi30k")

    def lines(language: str) -> list[str]:
        with gzip.open(folder / f"{split}.{language}.gz", "rt", encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f]

    english, german = lines("en"), lines("de")
    if len(english) != len(german):
        raise ValueError(f"multi30k {split}: {len(english)} English lines but {len(german)} German")
    return english, german


def spread_subset(x: np.ndarray, limit: int | None) -> np.ndarray:
    """`limit` examples evenly spaced over a split (split orders are far from uniform), or all of it."""
    if not limit or limit >= len(x):
        return x
    return x[::len(x) // limit][:limit]
