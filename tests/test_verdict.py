"""The likelihood verdict reads both tails of the validation distribution: a drawing far less likely
than any digit the model knows is anomalous, and one far *more* likely (a blank canvas) is unusual too."""
import numpy as np
import pytest
import torch

from hub import weights
from hub.core import Hub
from hub.kit import likelihood, verdict
from hub.placement import parse_inventory

EXPLICIT = ["nade", "pixelrnn_row", "pixelrnn_diagonal", "vae"]


def reference(values) -> dict:
    return likelihood.percentiles_of(np.asarray(values, np.float64))


def test_every_likelihood_gets_its_own_percentile_up_to_the_most_likely_digit():
    p = reference(np.linspace(-160, -10, 10_001))          # validation log p(x): -160 to -10 nats
    ranks = {value: verdict(value, p)[0] for value in (-150, -100, -41, -20, -11)}
    assert list(ranks.values()) == sorted(ranks.values()) and len(set(ranks.values())) == 5
    assert ranks[-20] == pytest.approx(100 * 140 / 150, abs=0.2) and ranks[-41] == pytest.approx(100 * 119 / 150, abs=0.2)
    assert verdict(-90, p)[1].startswith("typical")
    assert verdict(-158, p)[1].startswith("unusual: only")
    assert verdict(-159.99, p)[1].startswith("anomalous: less likely than 99.9%")
    assert verdict(-170, p)[1].startswith("anomalous: less likely than every validation digit")
    assert verdict(-10.5, p)[1].startswith("unusually likely")
    assert "more likely than every validation digit" in verdict(-5, p)[1] and verdict(-5, p)[0] == 100


@pytest.mark.parametrize("demo", EXPLICIT)
def test_shipped_models_keep_both_tails_of_their_validation_distribution(demo):
    stored = weights.read_config(weights.weights_dir(demo))["valid_log_likelihood_percentiles"]
    stored = stored.get("values", stored)
    assert list(stored) == [str(p) for p in likelihood.PERCENTILES]
    assert list(stored.values()) == sorted(stored.values())


def test_a_blank_image_is_more_likely_than_any_digit_and_the_verdict_says_so():
    """Nalisnick et al. 2019 on the hub's NADE: the empty image beats every real digit (the Row LSTM
    puts it among its most likely 5%, -37.9 nats, not beyond them)."""
    hub = Hub.create(allow="nade", entry_points=False, devices=parse_inventory(""))
    with hub.handle("nade").use() as model, torch.no_grad():
        blank = float(model.log_prob(torch.zeros(1, 784))[0])
        stored = model.reference
    assert blank > stored["100"]
    assert "more likely than every validation digit" in verdict(blank, stored)[1]
