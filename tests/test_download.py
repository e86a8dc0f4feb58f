"""`python -m hub data [download]` against a real HTTP server on 127.0.0.1: a mirror of the hub's layout
(../shared/data itself), and the canonical original formats rebuilt from the shared arrays; every file
must come out byte for byte (its SHA-256), and a file with other bytes is refused."""
import bz2
import gzip
import shutil
import threading
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from hub import cli
from hub.kit import data, download


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serving(folder: Path):
    """An HTTP server on 127.0.0.1 serving `folder`; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def shared_root() -> Path:
    return data.dataset_dir("mnist").parent


def test_mirror_download_fills_an_empty_data_folder(tmp_path, monkeypatch, capsys):
    """A user's machine: no shared/ beside the project; $DEMO_HUB_DATA names an empty folder."""
    served, into = shared_root(), tmp_path / "data"
    monkeypatch.setenv(data.ENV_VAR, str(into))
    monkeypatch.setattr(data, "ROOT", tmp_path / "project")
    assert cli.main(["data"]) == 0
    listing = capsys.readouterr().out
    assert "missing" in listing and "python -m hub data download" in listing and str(into) in listing
    with serving(served) as url:
        assert cli.main(["data", "download", "--mirror", url]) == 0
        assert all(state == "ok" for _, state, _ in download.status(into))
        assert cli.main(["data", "download", "--mirror", url, "usps"]) == 0
    assert "already there" in capsys.readouterr().out.splitlines()[-1]
    assert data.dataset_dir("usps") == into / "usps"
    assert data.mnist("test")[0].shape == (10000, 28, 28)


def test_a_file_with_other_bytes_is_refused_and_nothing_is_written(tmp_path):
    served = tmp_path / "served" / "usps"
    served.mkdir(parents=True)
    original = (shared_root() / "usps" / "usps.npz").read_bytes()
    (served / "usps.npz").write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with serving(served.parent) as url, pytest.raises(SystemExit, match="SHA-256"):
        cli.main(["data", "download", "--mirror", url, "--into", str(tmp_path / "data"), "usps"])
    assert not (tmp_path / "data" / "usps" / "usps.npz").exists()


def test_unreachable_source_and_unknown_names_are_one_line_errors(tmp_path):
    with pytest.raises(SystemExit, match="unknown data set 'imagenet'"):
        cli.main(["data", "download", "--into", str(tmp_path), "imagenet"])
    with serving(tmp_path) as url, pytest.raises(SystemExit, match="could not fetch"):
        cli.main(["data", "download", "--into", str(tmp_path / "data"), "--source", f"usps={url}/nothing", "usps"])


# ---- the canonical formats, written from the shared arrays the way their publishers write them ----

def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_idx_set(name: str, folder: Path) -> None:
    for split, prefix in (("train", "train"), ("test", "t10k")):
        with np.load(shared_root() / name / f"{split}.npz") as npz:
            images, labels = download.idx_pair(prefix)
            write_idx(folder / images, npz["x"])
            write_idx(folder / labels, npz["y"])


def write_libsvm_usps(folder: Path) -> None:
    with np.load(shared_root() / "usps" / "usps.npz") as npz:
        for split, name in (("train", "usps.bz2"), ("test", "usps.t.bz2")):
            values = np.round(2 * npz[f"x_{split}"].reshape(len(npz[f"x_{split}"]), -1).astype(np.float64) - 1, 6)
            lines = []
            for label, row in zip(npz[f"y_{split}"], values):
                features = " ".join(f"{i + 1}:{v:.6f}".rstrip("0").rstrip(".") for i, v in enumerate(row) if v != 0)
                lines.append(f"{label + 1} {features}\n")
            with bz2.open(folder / name, "wt") as f:
                f.writelines(lines)


def write_amat(folder: Path) -> None:
    with np.load(shared_root() / "binarized_mnist" / "binarized_mnist.npz") as npz:
        for split in ("train", "valid", "test"):
            pixels = npz[f"x_{split}"].reshape(-1, 784)
            text = np.full((len(pixels), 2 * 784), ord(" "), np.uint8)      # "0 1 0 ... 1\n" per digit
            text[:, 0::2], text[:, -1] = pixels + ord("0"), ord("\n")
            (folder / f"binarized_mnist_{split}.amat").write_bytes(text.tobytes())


def canonical_download(tmp_path, write: dict, names: list[str]) -> Path:
    """Serve the originals `write` makes for each data set; download `names` from there."""
    served, into = tmp_path / "served", tmp_path / "data"
    for name in write:
        (served / name).mkdir(parents=True)
        write[name](served / name)
    with serving(served) as url:
        sources = [arg for name in write for arg in ("--source", f"{name}={url}/{name}")]
        assert cli.main(["data", "download", "--into", str(into), *sources, *names]) == 0
    return into


def test_canonical_formats_convert_to_the_exact_files(tmp_path):
    def copy_multi30k(folder):
        for f in download.RECIPES["multi30k"].originals:
            shutil.copyfile(shared_root() / "multi30k" / f, folder / f)

    write = {"mnist": partial(write_idx_set, "mnist"), "usps": write_libsvm_usps, "multi30k": copy_multi30k}
    into = canonical_download(tmp_path, write, list(write))
    for name in write:
        for f in data.DATASETS[name][0]:
            assert download.sha256(into / name / f) == download.SHA256[f"{name}/{f}"]


@pytest.mark.slow
def test_binarized_mnist_labels_are_recovered_from_mnist(tmp_path):
    """The .amat files carry no labels: the recipe matches each digit to its MNIST original (fetching
    MNIST first, unasked, as it needs it) and must reproduce the shipped labels exactly."""
    write = {"mnist": partial(write_idx_set, "mnist"), "binarized_mnist": write_amat}
    into = canonical_download(tmp_path, write, ["binarized_mnist"])
    assert download.file_state(into, "mnist/train.npz") == "ok"
    assert download.file_state(into, "binarized_mnist/binarized_mnist.npz") == "ok"
