"""Anomaly scores from likelihoods (`hub.kit.anomaly`): the AUROC on hand-computed cases, each score's
sign, and the shipped NADE fooled by blank images under raw likelihood but not under the corrected score;
the verdicts' reference and percentiles, the VAE's bound and the GANs' discriminator as scorers, and the
Anomaly tab: every model's verdict on a picked, drawn or uploaded image, and a clear message for bad input."""
import json

import gradio as gr
import numpy as np
import pytest
import torch
from helpers import api_fn
from PIL import Image

from hub import read_config
from hub.core import Hub
from hub.kit import anomaly, data, likelihood
from hub.placement import parse_inventory
from hub.ui import build_app

EXPLICIT = ("nade", "pixelrnn_row", "pixelrnn_diagonal", "vae")
IMPLICIT = ("gan", "dcgan", "cgan", "infogan")


@pytest.mark.parametrize("inside, outside, expected", [
    ([1, 2, 3], [4, 5, 6], 1.0),          # every outlier scores higher
    ([4, 5, 6], [1, 2, 3], 0.0),          # the score points the wrong way
    ([1, 2], [2, 3], 0.875),              # pairs: 1<2, 1<3, 2=2 (a half), 2<3 -> 3.5 of 4
    ([1, 1], [1, 1], 0.5),                # all tied: chance
])
def test_auroc_against_hand_computed_cases(inside, outside, expected):
    assert anomaly.auroc(np.array(inside), np.array(outside)) == pytest.approx(expected)


def test_every_score_is_higher_for_the_more_anomalous_input():
    images = np.zeros((3, 28, 28))
    nll = np.array([80.0, 90.0, 200.0])
    scored = anomaly.scores(nll, images, typical_nll=90.0)
    assert np.all(np.diff(scored["raw_likelihood"]) > 0)
    assert np.all(np.diff(scored["complexity_corrected"]) > 0)            # same image, less likely
    assert scored["typicality"][1] == 0 and scored["typicality"][0] > 0   # too likely is atypical too


def test_a_blank_image_costs_the_compressor_fewer_bits_than_noise_or_a_digit():
    digit = data.binarized_mnist("test")[0][:1]
    noise = np.random.default_rng(0).integers(0, 2, (1, 28, 28))
    blank_bits, digit_bits, noise_bits = (anomaly.png_bits(x)[0] for x in (np.zeros((1, 28, 28)), digit, noise))
    assert blank_bits < digit_bits < noise_bits


def test_binarized_draws_each_pixel_from_its_intensity_once():
    x = np.full((200, 28, 28), 64, np.uint8)
    once = data.binarized(x, seed=0)
    assert set(np.unique(once)) <= {0, 1} and once.mean() == pytest.approx(64 / 255, abs=0.01)
    assert np.array_equal(once, data.binarized(x, seed=0))


@pytest.fixture(scope="module")
def nade():
    hub = Hub.create(allow="nade,pixelrnn", entry_points=False, devices=parse_inventory(""))
    assert all(hub.demos[d].log_likelihood for d in ("nade", "pixelrnn_row", "pixelrnn_diagonal"))
    return hub.demos["nade"], hub.handle("nade")


def test_the_shipped_nade_prefers_blank_images_but_the_corrected_score_flags_them(nade):
    demo, handle = nade
    digits, blank = data.spread_subset(data.binarized_mnist("test")[0], 300), np.zeros((20, 28, 28), np.uint8)
    with handle.use() as model:
        nll = {name: -demo.log_likelihood(model, likelihood.flat(x)).numpy()
               for name, x in (("digits", digits), ("blank", blank))}
    assert nll["blank"].mean() < nll["digits"].mean()                    # Nalisnick et al.'s failure, here
    typical = float(nll["digits"].mean())
    scored = {name: anomaly.scores(nll[name], x, typical) for name, x in (("digits", digits), ("blank", blank))}
    assert anomaly.auroc(scored["digits"]["raw_likelihood"], scored["blank"]["raw_likelihood"]) < 0.05
    assert anomaly.auroc(scored["digits"]["complexity_corrected"], scored["blank"]["complexity_corrected"]) > 0.95


def test_a_percentile_is_read_off_the_reference_quantiles():
    found = anomaly.reference({"score": np.arange(1001.0)})
    quantiles = found["quantiles"]["score"]
    assert len(quantiles) == 101 and quantiles[0] == 0 and quantiles[50] == 500 and quantiles[-1] == 1000
    assert anomaly.percentile(250.0, quantiles) == pytest.approx(25.0)
    assert anomaly.judge(500.0, quantiles)[1] == "normal: above 50.0% of them"
    assert anomaly.judge(960.0, quantiles)[1].startswith("unusual")
    assert anomaly.judge(995.0, quantiles)[1] == "flagged: above 99.5% of them"
    assert anomaly.judge(5000.0, quantiles) == (100.0, "flagged: above every reference digit")
    assert anomaly.judge(-1.0, quantiles) == (0.0, "normal: below every reference digit")


@pytest.mark.parametrize("demo_id", EXPLICIT + IMPLICIT)
def test_every_shipped_scorer_has_its_reference(demo_id):
    found = read_config(f"weights/{demo_id}")[anomaly.REFERENCE_KEY]
    names = ["discriminator"] if demo_id in IMPLICIT else ["raw_likelihood", "complexity_corrected", "typicality"]
    assert sorted(found["quantiles"]) == sorted(names) and found["images"] == 10_000
    assert all(len(q) == 101 and np.all(np.diff(q) >= 0) for q in found["quantiles"].values())
    if demo_id in EXPLICIT:                       # the typical -log p(x) of a validation digit
        assert 80 < found["typical_nll"] < 95 and found["split"] == "valid"


@pytest.fixture(scope="module")
def hub():
    return Hub.create(entry_points=False, devices=parse_inventory(""))


def test_the_vae_scores_by_its_bound_the_same_each_time_and_leaves_the_random_state_alone(hub):
    demo, digits = hub.demos["vae"], likelihood.flat(data.spread_subset(data.binarized_mnist("test")[0], 100))
    assert demo.likelihood == "bound"
    with hub.handle("vae").use() as model:
        state = torch.random.get_rng_state()
        first, second = demo.log_likelihood(model, digits), demo.log_likelihood(model, digits)
        assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(first, second) and first.shape == (100,)
    assert 80 < -first.mean().item() < 95                       # near the card's test bound (88.73 at k = 5000)


def test_a_discriminator_gives_one_logit_per_image_and_a_conditional_one_its_most_convinced(hub):
    digits = data.mnist("test")[0][:8] / 255.0
    for demo_id in IMPLICIT:
        demo = hub.demos[demo_id]
        with hub.handle(demo_id).use() as model:
            logits = demo.discriminator_score(model, digits)
            assert logits.shape == (8,) and torch.isfinite(logits).all()
            if demo_id == "cgan":
                from hub.kit.images import to_signed
                x = to_signed(torch.from_numpy(digits).float().view(-1, 1, 28, 28))
                each = torch.stack([model.discriminate(x, torch.full((8,), d)) for d in range(10)])
                assert torch.allclose(logits, each.max(0).values)


@pytest.fixture(scope="module")
def tab(hub):
    app = build_app(hub)
    return {action: api_fn(app, f"anomaly_{action}") for action in ("example", "drawing", "upload")}


def test_a_blank_page_passes_raw_likelihood_and_is_flagged_by_the_corrected_score(tab):
    binary, gray, summary, rows, implicit = tab["example"]("Blank", 0)
    assert binary.shape == gray.shape == (140, 140) and binary.max() == gray.max() == 0
    assert [row[0] for row in rows] == ["NADE", "PixelRNN · Row LSTM", "PixelRNN · Diagonal BiLSTM", "VAE"]
    assert "raw -log p(x): **0 of 4**" in summary and "complexity corrected: **4 of 4**" in summary
    assert "Raw likelihood lets it pass" in summary
    assert all(row[3].startswith("normal") and row[4].startswith("flagged") for row in rows)
    assert [row[0] for row in implicit] == ["GAN", "DCGAN", "Conditional GAN", "InfoGAN"]
    assert all(row[1] == "none (samples only)" and 0 <= float(row[2]) <= 1 for row in implicit)


def test_a_test_digit_looks_normal_and_a_fashion_item_is_flagged_by_every_score(tab):
    _, _, digit, rows, _ = tab["example"]("MNIST test digit", 0)
    assert "**0 of 4**; complexity corrected: **0 of 4**; typicality: **0 of 4**" in digit
    assert all(cell.startswith("normal") for row in rows for cell in row[3:])
    _, _, fashion, _, _ = tab["example"]("Fashion-MNIST test item", 0)
    assert "**4 of 4**; complexity corrected: **4 of 4**; typicality: **4 of 4**" in fashion


def test_a_drawing_and_an_upload_are_judged_like_an_example(tab, tmp_path):
    seven = np.zeros((280, 280, 4), np.uint8)
    seven[60:80, 80:220, 3] = 255                               # strokes: ink on a transparent layer
    for i in range(150):
        seven[80 + i, 200 - i // 2:218 - i // 2, 3] = 255
    _, _, summary, rows, _ = tab["drawing"]({"composite": seven})
    assert len(rows) == 4 and "Models that flag this image" in summary
    path = tmp_path / "seven.png"
    Image.fromarray(255 - seven[..., 3]).save(path)
    assert tab["upload"](str(path))[3] == rows


@pytest.mark.parametrize("action, args, message", [
    ("example", ("A cat", 0), "Unknown Example 'A cat'"),
    ("example", ("MNIST test digit", 10_000), "between 0 and 9999"),
    ("example", ("MNIST test digit", 1.5), "whole number"),
    ("drawing", ({"composite": np.zeros((280, 280, 4), np.uint8)},), "The canvas is empty"),
    ("drawing", (None,), "No image yet"),
    ("upload", (None,), "No image yet"),
])
def test_bad_input_gets_a_clear_message(tab, action, args, message):
    with pytest.raises(gr.Error, match=message):
        tab[action](*args)


def test_an_upload_that_is_no_image_gets_a_clear_message(tab, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(gr.Error, match="is not an image this demo can read"):
        tab["upload"](str(path))


def test_a_failing_model_is_marked_and_the_others_still_judge():
    hub = Hub.create(allow="nade,vae,gan,anomaly", entry_points=False, devices=parse_inventory(""))

    def broken(model, x):
        raise RuntimeError("the likelihood broke")

    hub.demos["vae"].log_likelihood = broken
    _, _, summary, rows, implicit = api_fn(build_app(hub), "anomaly_example")("Blank", 0)
    by_model = {row[0]: row for row in rows}
    assert by_model["VAE"][1].startswith("failed (RuntimeError)") and by_model["NADE"][4].startswith("flagged")
    assert "complexity corrected: **1 of 1**" in summary and len(implicit) == 4        # the gan plugin's four


def test_the_benchmark_table_shows_every_model_and_score_or_says_how_to_measure(tmp_path):
    assert "python bench/anomaly.py" in anomaly.benchmark_table({}, tmp_path / "missing.json")
    figures = {"sizes": {"mnist": 3}, "auroc": {"nade": {"raw_likelihood": {"blank": 0.0},
                                                           "complexity_corrected": {"blank": 1.0}},
                                                  "gan": {"discriminator": {"blank": 0.5}}},
               "mean_nll": {"nade": {"mnist": 87.0, "blank": 10.3}}}
    (tmp_path / "anomaly.json").write_text(json.dumps(figures))
    table = anomaly.benchmark_table({"nade": "NADE"}, tmp_path / "anomaly.json")
    assert "| NADE | raw likelihood | 0.000 |" in table and "| NADE | complexity corrected | **1.000** |" in table
    assert "| gan | discriminator | 0.500 |" in table and "| NADE | 87.0 | 10.3 |" in table
