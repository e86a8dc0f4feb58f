"""The adversarial autoencoder: its priors, one training step, the map's coordinates, the shipped
models and the demo."""
import gradio as gr
import numpy as np
import pytest
import torch
from helpers import api_fn, evaluate_subset

from hub import InputError, weights
from hub.core import Hub
from hub.placement import parse_inventory
from hub.ui import build_app
from plugins.aae import load_aae
from plugins.aae.demo import HEIGHT, LEFT, SIZE, TOP, WIDTH, AAEDemo, to_code, to_pixel
from plugins.aae.model import PRIORS, AdversarialAutoencoder, sample_prior
from plugins.aae.train import aae_step


def test_mixture_prior_has_ten_separated_modes_on_a_ring():
    z = sample_prior("mixture", 20000, torch.Generator().manual_seed(0))
    radius, angle = z.norm(dim=1), torch.atan2(z[:, 1], z[:, 0])
    assert 3.5 < radius.mean() < 4.5
    sector = ((angle / (2 * np.pi / 10)).round() % 10).long()
    assert torch.bincount(sector, minlength=10).min() > 1500                # every component drawn
    offset = (angle - sector * 2 * np.pi / 10 + np.pi) % (2 * np.pi) - np.pi
    assert (offset.abs() < np.pi / 10).float().mean() > 0.97                 # gaps between the modes


def test_swiss_roll_prior_is_a_spiral_whose_radius_grows_with_the_angle():
    z = sample_prior("swiss_roll", 5000, torch.Generator().manual_seed(0))
    assert z.shape == (5000, 2) and z.abs().max() < 7
    with pytest.raises(ValueError, match="unknown prior"):
        sample_prior("banana", 3)


def test_the_part_of_the_prior_follows_the_digit_when_label_guided():
    parts = torch.arange(10).repeat_interleave(200)
    z = sample_prior("mixture", 2000, torch.Generator().manual_seed(0), parts)
    sector = ((torch.atan2(z[:, 1], z[:, 0]) / (2 * np.pi / 10)).round() % 10).long()
    assert (sector == parts).float().mean() > 0.97
    roll = sample_prior("swiss_roll", 2000, torch.Generator().manual_seed(0), parts).norm(dim=1)
    assert all(roll[parts == d].mean() < roll[parts == d + 1].mean() for d in range(9))    # outward, digit by digit


@pytest.mark.parametrize("prior,label_guided", [("mixture", True), ("swiss_roll", False)])
def test_one_step_of_each_phase_trains_every_part(prior, label_guided):
    torch.manual_seed(0)
    model = AdversarialAutoencoder(prior, hidden=32, label_guided=label_guided)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam
    losses = aae_step(model, torch.rand(8, 784), torch.arange(8), opt([*model.encoder.parameters(), *model.decoder.parameters()]),
                      opt(model.discriminator.parameters()), opt(model.encoder.parameters()),
                      torch.Generator().manual_seed(0))
    assert all(np.isfinite(losses)) and losses[0] > 0
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"encoder", "decoder", "discriminator"}


def test_r1_penalty_raises_the_discriminator_loss_by_its_slope_on_the_prior():
    losses = {}
    x = torch.rand(8, 784)
    for gamma in (0.0, 10.0):
        torch.manual_seed(1)
        model = AdversarialAutoencoder("mixture", hidden=32, label_guided=True)
        frozen = [torch.optim.SGD(part.parameters(), lr=0) for part in (model, model.discriminator, model.encoder)]
        losses[gamma] = aae_step(model, x, torch.arange(8), *frozen, torch.Generator().manual_seed(0), r1_gamma=gamma)
    assert losses[10.0][0] == losses[0.0][0]                 # same model, same batch
    assert losses[10.0][1] > losses[0.0][1]                  # the penalty only adds to D's loss


def test_map_pixels_and_codes_are_inverse():
    z = np.array([[0.0, 0.0], [3.0, -2.0], [-6.5, 6.5]])
    for (x, y), code in zip(to_pixel(z), z):
        assert np.allclose(to_code(x, y), code)
    assert np.allclose(to_pixel(np.zeros((1, 2))), [[LEFT + SIZE / 2, TOP + SIZE / 2]])


# ---- the shipped models and the demo -----------------------------------------------------------

@pytest.mark.parametrize("prior", PRIORS)
def test_shipped_weights_and_card(prior):
    directory = weights.weights_dir("aae") / prior
    config = weights.read_config(directory)
    assert weights.sha256_of(directory / "model.safetensors") == config["sha256"]
    assert (directory / "model.safetensors").stat().st_size < 10 * 2**20
    card = (directory / "README.md").read_text()
    assert "python -m hub train aae" in card and f"{config['metrics']['fld']:.2f}" in card
    assert config["metrics"]["examples"] == 10000 and config["metrics"]["smallest_class_share"] > 0.07
    assert config["model"]["label_guided"]


@pytest.mark.slow                # recomputes figures in a subprocess
def test_figures_recomputed_on_a_subset():
    subset = evaluate_subset("aae", 500)
    for prior in PRIORS:
        full = weights.read_config(weights.weights_dir("aae") / prior)["metrics"]
        assert subset[prior]["examples"] == 500
        assert abs(subset[prior]["reconstruction_bce_nats"] - full["reconstruction_bce_nats"]) < 10
        assert subset[prior]["smallest_class_share"] > 0.05 and subset[prior]["fld"] < 2 * full["fld"]


@pytest.mark.parametrize("prior", PRIORS)
def test_decoding_a_digits_part_of_the_prior_draws_that_digit(prior):
    from hub.kit import evaluator

    model = load_aae(prior)
    digits = torch.arange(10).repeat(30)
    images = model.sample(len(digits), torch.Generator().manual_seed(0), parts=digits).numpy()
    predicted = evaluator.outputs(evaluator.load(), images)[1].argmax(1)
    assert (predicted == digits.numpy()).mean() >= 0.9


@pytest.fixture(scope="module")
def action():
    app = build_app(Hub.create(allow="aae", entry_points=False, devices=parse_inventory("")))
    return lambda name: api_fn(app, f"aae_{name}")


@pytest.mark.parametrize("label", ["Mixture of 10 Gaussians", "Swiss roll"])
def test_latent_map_puts_the_test_codes_on_the_prior(action, label):
    image, note = action("latent_map")(label, 1000)
    assert image.shape == (HEIGHT, WIDTH, 3)
    axis = image[TOP + SIZE + 1:TOP + SIZE + 30, LEFT:LEFT + SIZE]
    assert (axis < 128).any()                            # tick labels under the map: it has axes
    share = int(note.split("; ")[1].split("%")[0])
    assert share >= 95                                   # the codes landed where the prior lives


def test_the_sample_tab_draws_any_digit_or_the_chosen_one(action):
    assert action("sample")("Swiss roll", 0, 16, "any").shape == (2 * 84 + 6, 8 * 84 + 42)
    assert action("sample")("Mixture of 10 Gaussians", 3, 5, "7").shape == (84, 5 * 84 + 24)
    with pytest.raises(gr.Error, match="Digit"):
        action("sample")("Swiss roll", 0, 16, "11")


def click(index):
    """The event data a click on the map carries (gr.EventData's raw dict)."""
    return gr.EventData(None, {"index": index, "value": None})


def test_clicking_the_map_decodes_that_point_and_outside_is_refused():
    demo = AAEDemo(Hub.create(allow="aae", entry_points=False, devices=parse_inventory("")).handle("aae"))
    x, y = LEFT + SIZE // 2, TOP + SIZE // 4
    image, where = demo.decode_point("Swiss roll", click([x, y]))
    assert image.shape == (168, 168) and image.max() > 100           # a digit, not an empty square
    assert where == f"Decoded z = ({to_code(x, y)[0]:.2f}, {to_code(x, y)[1]:.2f})" == "Decoded z = (0.00, 3.50)"
    for outside in ([LEFT + 10, TOP + SIZE + 10], [LEFT // 2, TOP + 10]):    # on the key, on the z2 axis
        with pytest.raises(InputError, match="Click inside the map"):
            demo.decode_point("Swiss roll", click(outside))
    with pytest.raises(InputError, match="Unknown prior"):
        demo.decode_point("Uniform", click([1, 1]))


@pytest.mark.parametrize("event", [None, gr.EventData(None, None), gr.EventData(None, {}), gr.EventData(None, "x"),
                                   click(None), click(7), click([1]), click(["a", 2]), click([float("nan"), 2]),
                                   click([-5, 3])], ids=lambda event: repr(getattr(event, "_data", event)))
def test_a_missing_or_malformed_click_gets_a_message(event):
    demo = AAEDemo(Hub.create(allow="aae", entry_points=False, devices=parse_inventory("")).handle("aae"))
    with pytest.raises(InputError, match="Click a point on the map|clicked point"):
        demo.decode_point("Swiss roll", event)
