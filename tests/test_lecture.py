"""The lecture's pages compute every number they show: the lecture's own worked example, the matrix form,
multi-head attention, positional encoding, masking and decoding with the shipped Transformer, counting
parameters, the shipped VAE's ELBO and the GAN objective on a toy; bad input gets a clear message."""
import math

import gradio as gr
import numpy as np
import pytest
from helpers import api_fn

from hub.core import Hub
from hub.placement import parse_inventory
from hub.ui import build_app
from plugins.lecture import page, steps


def test_the_lecture_example_112_and_96_become_14_and_12_then_088_and_012():
    found = steps.word_steps(steps.RAW_SCORES, steps.LECTURE_D_K, steps.VALUES)
    assert found["divisor"] == 8 and list(found["scaled"]) == [14.0, 12.0]
    assert [round(p, 2) for p in found["softmax"]] == [0.88, 0.12]
    assert found["z"] == pytest.approx(0.8808 * np.array(steps.VALUES[0]) + 0.1192 * np.array(steps.VALUES[1]),
                                       abs=1e-3)
    by_word, _ = page.self_attention(*page.defaults())
    assert "| **Thinking** | 112 | 14 | 0.8808 |" in by_word and "| **Machines** | 96 | 12 | 0.1192 |" in by_word


def test_the_matrix_form_divides_by_the_root_of_its_own_d_k_of_3():
    found = steps.matrix_steps(steps.X, steps.W_Q, steps.W_K, steps.W_V)
    q, k = np.array(steps.X) @ np.array(steps.W_Q), np.array(steps.X) @ np.array(steps.W_K)
    assert found["d_k"] == 3 and np.allclose(found["scaled"], q @ k.T / math.sqrt(3))
    assert np.allclose(found["softmax"].sum(1), 1) and np.allclose(found["Z"], found["softmax"] @ found["V"])
    _, as_matrices = page.self_attention(*page.defaults())
    assert "Q Kᵀ / √3 (here d_k = 3" in as_matrices


def test_dropping_the_root_of_d_k_saturates_the_softmax():
    unscaled = steps.word_steps(steps.RAW_SCORES, steps.LECTURE_D_K, steps.VALUES, scaled=False)
    assert unscaled["softmax"][0] > 0.9999998                 # 1 / (1 + e^-16): the softmax of 112 and 96
    curve = steps.saturation()
    assert all(np.diff(curve["unscaled"]) > 0) and curve["unscaled"][-1] > 0.9
    assert max(curve["scaled"]) < 0.4                         # scaled: the spread stays the same at every d_k


def test_multi_head_splits_d_model_and_counts_both_ways():
    found = steps.multi_head(512, 8)
    assert found["same_as_module"] and found["d_k"] == 64
    assert found["split_parameters"] == 4 * (512 * 512 + 512)
    assert found["full_parameters"] == 8 * 3 * (512 * 512 + 512) + 8 * 512 * 512 + 512
    assert dict(found["shapes"])["Q = X W^Q, split into h heads"] == (8, 3, 64)


def test_attention_without_positions_is_blind_to_word_order():
    found = steps.order_test("the cat sat on the mat".split())
    assert found["without"] < 1e-5 and found["with"] > 0.1
    pe = steps.positional_encoding(50, 64)
    assert pe.shape == (50, 64) and pe[0, 0] == 0 and pe[0, 1] == 1 and pe[3, 0] == pytest.approx(math.sin(3))


def test_the_causal_mask_and_the_parameter_counts():
    assert np.array_equal(steps.mask_matrix(4), np.tril(np.ones((4, 4), int)))
    assert [count for _, count in steps.independence_counts(3)] == [7, 3, 5]
    assert steps.readable_count(2 ** 784 - 1) == "about 10^236 (237 digits)"


def test_the_optimal_discriminator_and_the_jensen_shannon_divergence():
    same = steps.gan_toy(0, 1, 0, 1)
    assert same["jsd"] == pytest.approx(0, abs=1e-9) and same["value"] == pytest.approx(-math.log(4))
    assert np.allclose(same["d_star"], 0.5)
    apart = steps.gan_toy(0, 1, 30, 1)
    assert apart["jsd"] == pytest.approx(math.log(2), abs=1e-6) and apart["value"] == pytest.approx(0, abs=1e-5)


@pytest.fixture(scope="module")
def lecture():
    hub = Hub.create(allow="lecture,translation,vae,nade,pixelrnn", entry_points=False, devices=parse_inventory(""))
    app = build_app(hub)
    return hub, lambda action: api_fn(app, f"lecture_{action}")


def test_the_shipped_translator_decodes_one_subword_at_a_time(lecture):
    _, action = lecture
    text = action("decode")("A man is riding a bike.")
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) >= 4 and rows[0].startswith("| 1 | (start) |") and rows[-1].endswith("| `</s>` |")
    first = [float(cell.split()[-1]) for cell in rows[0].split(" | ")[2].split(", ")]
    assert first == sorted(first, reverse=True) and sum(first) <= 1.0001


def test_the_shipped_vae_elbo_is_reconstruction_minus_kl_and_below_its_bound(lecture):
    hub, action = lecture
    _, text = action("elbo")(3)
    values = {line.split(" | ")[0].strip("| *"): float(line.split(" | ")[1].strip("| *")) for line in text.splitlines()
              if line.startswith("| ") and line.split(" | ")[1].strip("| *").lstrip("-").replace(".", "").isdigit()}
    reconstruction, kl, elbo = values.values()
    assert kl > 0 and elbo == pytest.approx(reconstruction - kl, abs=0.011)
    demo = hub.demos["vae"]
    from hub.kit import data, likelihood
    with hub.handle("vae").use() as model:
        bound = float(demo.log_likelihood(model, likelihood.flat(data.binarized_mnist("test")[0][3:4]))[0])
    assert elbo <= bound + 0.5                                   # the ELBO is the loosest bound


def test_counting_shows_the_shipped_models_real_parameter_counts(lecture):
    _, action = lecture
    text = action("counts")(784)
    assert "| NADE (shipped, n = 784)" in text and "785,284 |" in text and "about 10^236" in text
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 3 + 3 and all(line.count("|") == 3 for line in rows)      # two cells a row, none split


@pytest.mark.parametrize("action, args, message", [
    ("self_attention", (112, 96, 64, [[1, 2, 3]], steps.X, steps.W_Q, steps.W_K, steps.W_V, True), "one row for each"),
    ("self_attention", (112, 96, 64, steps.VALUES, [["a", 1]], steps.W_Q, steps.W_K, steps.W_V, True), "must be a number"),
    ("self_attention", (112, 96, 64, steps.VALUES, steps.X, [[1, 0, 1]] * 3, steps.W_K, steps.W_V, True),
     "must all be 4 x d_k"),
    ("self_attention", (112, 96, 0, steps.VALUES, steps.X, steps.W_Q, steps.W_K, steps.W_V, True), "d_k"),
    ("multi_head", (10, 3, 3), "does not split into 3 heads"),
    ("positional", (50, 64, "word"), "2 to 20 words"),
    ("positional", (50, 63, "a b"), "must be even"),
    ("decode", ("   ",), "Type an English sentence"),
    ("elbo", (10_000,), "between 0 and 9999"),
    ("gan", (0, 0, 0, 1), "data std"),
])
def test_bad_input_gets_a_clear_message(lecture, action, args, message):
    _, act = lecture
    with pytest.raises(gr.Error, match=message):
        act(action)(*args)
