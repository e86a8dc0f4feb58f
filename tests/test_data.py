"""The data module: environment variable first, then ../shared/data, else a clear error."""
import numpy as np
import pytest

from hub.kit import data


def test_environment_variable_wins(tmp_path, monkeypatch):
    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    x = np.zeros((2, 28, 28), np.uint8)
    np.savez(folder / "binarized_mnist.npz", x_train=x, y_train=np.zeros(2, np.uint8),
             x_valid=x, y_valid=x[:, 0, 0], x_test=x[:1], y_test=np.zeros(1, np.uint8))
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert data.dataset_dir("binarized_mnist") == folder
    assert data.binarized_mnist("test")[0].shape == (1, 28, 28)


def test_missing_data_says_what_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    monkeypatch.setattr(data, "ROOT", tmp_path / "project")
    with pytest.raises(data.DataNotFound) as caught:
        data.dataset_dir("usps")
    message = str(caught.value)
    assert "usps.npz" in message and data.ENV_VAR in message and "canonical source" in message and "python -m hub data download usps" in message
    assert str(tmp_path / "usps") in message


def test_shared_data_is_found_beside_the_project(tmp_path, monkeypatch):
    """Wherever the clone is: a project folder with shared/data beside it."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "ROOT", tmp_path / "project")
    folder = tmp_path / "shared" / "data" / "binarized_mnist"
    folder.mkdir(parents=True)
    x = (np.arange(3 * 28 * 28).reshape(3, 28, 28) % 2).astype(np.uint8)
    np.savez(folder / "binarized_mnist.npz", x_train=x, y_train=np.zeros(3, np.uint8), x_valid=x,
             y_valid=np.zeros(3, np.uint8), x_test=x[:2], y_test=np.array([4, 2], np.uint8))
    images, labels = data.binarized_mnist("test")
    assert data.dataset_dir("binarized_mnist") == folder
    assert images.shape == (2, 28, 28) and set(np.unique(images)) == {0, 1} and labels.tolist() == [4, 2]


def test_multi30k_pairs_are_aligned_sentences():
    english, german = data.multi30k("test_2016_flickr")
    assert len(english) == len(german) == 1000
    assert english[0] == "A man in an orange hat starring at something."
    assert german[0].startswith("Ein Mann mit einem orangefarbenen Hut")
    assert len(data.multi30k("train")[0]) == 29000 and len(data.multi30k("val")[1]) == 1014


def test_unknown_names_and_splits():
    with pytest.raises(KeyError):
        data.dataset_dir("imagenet")
    with pytest.raises(ValueError):
        data.binarized_mnist("holdout")
    with pytest.raises(ValueError, match="test_2016_flickr"):
        data.multi30k("test")
