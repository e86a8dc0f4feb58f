"""NADE: exactness and causality of the model, its shipped weights, its demo and bad inputs."""
import itertools

import gradio as gr
import numpy as np
import pytest
import torch
from helpers import api_fn, evaluate_subset
from PIL import Image

from hub import weights
from hub.core import Hub
from hub.placement import parse_inventory
from hub.ui import build_app
from plugins.nade.model import NADE

ROOT = weights.ROOT
NADE_DIR = weights.weights_dir("nade")


def tiny(x_dim=12, hidden=7, width=4, seed=0):
    torch.manual_seed(seed)
    model = NADE(x_dim=x_dim, hidden=hidden, width=width)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=1.0)
    return model


def test_all_conditionals_at_once_match_the_running_sum():
    model = tiny(x_dim=20, hidden=9, width=5)
    x = (torch.rand(3, 20) > 0.5).float()
    a, expected = model.c.expand(3, -1).clone(), []
    for i in range(20):                               # Eq. 4 literally, one pixel at a time
        expected.append(torch.sigmoid(a) @ model.V[i] + model.b[i])
        a = a + x[:, i:i + 1] * model.W[:, i]
    assert torch.allclose(model.logits(x), torch.stack(expected, 1), atol=1e-5)


def test_probabilities_sum_to_one_over_every_image():
    model = tiny(x_dim=8, hidden=5, width=4)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=8)))
    total = model.log_prob(images).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(model.log_prob_per_pixel(images).sum(-1), model.log_prob(images))


def test_changing_pixel_j_never_changes_the_distribution_of_pixels_up_to_j():
    model = tiny(x_dim=16, hidden=6, width=4)
    x = (torch.rand(1, 16) > 0.5).float()
    base = model.logits(x)
    for j in range(16):
        flipped = x.clone()
        flipped[0, j] = 1 - flipped[0, j]
        changed = (model.logits(flipped) - base).abs()[0]
        assert changed[:j + 1].max() == 0, f"pixel {j} leaked into an earlier or its own conditional"
        if j < 15:
            assert changed[j + 1:].max() > 0               # and it does inform later pixels


def test_stateful_sampler_draws_exactly_what_naive_recompute_draws():
    model = tiny(x_dim=16, hidden=6, width=4)
    fast = model.sample(5, torch.Generator().manual_seed(3))
    slow = model.sample_naive(5, torch.Generator().manual_seed(3))
    assert torch.equal(fast, slow)
    prefix = torch.ones(5, 8)
    completed = model.sample(5, torch.Generator().manual_seed(3), prefix=prefix)
    assert torch.equal(completed[:, :8], prefix)


def test_shipped_weights_match_their_manifest_and_card():
    config = weights.read_config(NADE_DIR)
    assert weights.sha256_of(NADE_DIR / "model.safetensors") == config["sha256"]
    assert (NADE_DIR / "model.safetensors").stat().st_size < 10 * 2**20
    card = (NADE_DIR / "README.md").read_text()
    assert config["sha256"] in card and "python -m hub train nade" in card and "88.86" in card
    assert config["metrics"]["examples"] == 10000 and config["metrics"]["nll_nats"] <= 92.0


@pytest.mark.slow                # recomputes figures in a subprocess
def test_test_nll_recomputed_on_a_subset():
    subset = evaluate_subset("nade", 1000)
    full = weights.read_config(NADE_DIR)["metrics"]
    assert subset["examples"] == 1000
    assert abs(subset["nll_nats"] - full["nll_nats"]) < 3.0
    assert subset["bits_per_dim"] == pytest.approx(subset["nll_nats"] / np.log(2) / 784, abs=1e-3)


@pytest.fixture(scope="module")
def action():
    app = build_app(Hub.create(allow="nade", entry_points=False, devices=parse_inventory("")))
    return lambda name: api_fn(app, f"nade_{name}")


def test_sampling_streams_rows_and_is_seeded(action):
    frames = list(action("sample")(5, 4))
    assert len(frames) == 1 + 28                      # the blank start, then one frame per row
    assert frames[0].shape == frames[-1].shape == (84, 4 * 84 + 3 * 6)
    assert (frames[0] == int(0.35 * 255)).mean() > 0.9      # nothing drawn yet
    assert np.array_equal(frames[-1], list(action("sample")(5, 4))[-1])


def test_completion_keeps_the_top_rows(action):
    frames = list(action("complete")("Test digit", 3, None, 20, 3, 0))
    assert len(frames) == 1 + 8                              # the kept rows, then the 8 drawn ones
    first, last = frames[0], frames[-1]
    assert np.array_equal(first[:20 * 3], last[:20 * 3])     # kept rows never change
    assert not np.array_equal(first[20 * 3:], last[20 * 3:])
    assert len(list(action("complete")("Test digit", 3, None, 28, 2, 0))) == 1   # nothing left to draw


def test_likelihood_reports_nats_bits_and_a_surprise_map(action, tmp_path):
    from hub.kit import test_digits
    x, _ = test_digits()
    path = tmp_path / "digit.png"
    Image.fromarray(x[0] * 255).save(path)
    seen, surprise, report, plot = action("likelihood_upload")(str(path))
    assert seen.shape == (112, 112) and surprise.shape == (224, 224, 3)
    nats = float(report.split("= ")[1].split(" nats")[0])
    from plugins.nade import load_nade
    with torch.no_grad():
        exact = -load_nade().log_prob(torch.from_numpy(x[:1].reshape(1, -1).astype(np.float32))).item()
    assert nats == pytest.approx(exact, abs=0.1)
    assert "bits per pixel" in report and "typical" in report


BAD_INPUTS = [
    ("sample", (0, 0), "Number of digits must be between 1 and 32"),
    ("sample", (0, 10**9), "Number of digits must be between 1 and 32"),
    ("sample", (float("nan"), 4), "Seed must be a finite number"),
    ("complete", ("Test digit", 0, None, -1, 4, 0), "Rows to keep must be between 0 and 28"),
    ("complete", ("Test digit", 0, None, 29, 4, 0), "Rows to keep must be between 0 and 28"),
    ("complete", ("Test digit", 0, None, 10, 500, 0), "Number of completions must be between 1 and 16"),
    ("complete", ("Test digit", 12345, None, 10, 4, 0), "Test image number must be between 0 and 9999"),
    ("complete", ("My drawing", 0, None, 10, 4, 0), "No image yet"),
    ("likelihood", (None,), "No image yet: upload one"),
    ("likelihood", ({"composite": np.full((280, 280, 4), 255, np.uint8)},), "The canvas is empty"),
    ("likelihood", ({"composite": np.zeros((4, 4), np.uint8)},), "at least 8 pixels"),
    ("likelihood", ({"composite": np.zeros((6000, 20), np.uint8)},), "largest accepted is 4096"),
]


@pytest.mark.parametrize("name, args, message", BAD_INPUTS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_INPUTS)])
def test_bad_inputs_get_a_clear_message(action, name, args, message):
    with pytest.raises(gr.Error) as caught:
        result = action(name)(*args)
        list(result) if hasattr(result, "__next__") else result
    assert message in caught.value.message


def test_colour_and_non_image_uploads(action, tmp_path):
    colour = np.full((90, 60, 3), 255, np.uint8)
    colour[20:70, 25:35] = (30, 90, 200)                  # a blue "1" on white
    Image.fromarray(colour).save(tmp_path / "one.jpg")
    _, _, report, _ = action("likelihood_upload")(str(tmp_path / "one.jpg"))
    assert "nats" in report
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(gr.Error, match="not an image"):
        action("likelihood_upload")(str(tmp_path / "notes.txt"))
