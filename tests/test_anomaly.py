"""Anomaly scores from likelihoods (`hub.kit.anomaly`): the AUROC on hand-computed cases, each score's
sign, and the shipped NADE fooled by blank images under raw likelihood but not under the corrected score."""
import numpy as np
import pytest

from hub.kit import anomaly, data, likelihood


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
    from hub.core import Hub
    from hub.placement import parse_inventory

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
