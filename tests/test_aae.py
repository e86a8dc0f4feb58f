"""The adversarial autoencoder: its priors, one training step, the map's coordinates (the shipped
models and the demo come with their training)."""
import numpy as np
import pytest
import torch

from plugins.aae.demo import SIZE, to_code, to_pixel
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


@pytest.mark.parametrize("prior", PRIORS)
def test_one_step_of_each_phase_trains_every_part(prior):
    torch.manual_seed(0)
    model = AdversarialAutoencoder(prior, hidden=32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam
    losses = aae_step(model, torch.rand(8, 784), opt([*model.encoder.parameters(), *model.decoder.parameters()]),
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
        model = AdversarialAutoencoder("mixture", hidden=32)
        frozen = [torch.optim.SGD(part.parameters(), lr=0) for part in (model, model.discriminator, model.encoder)]
        losses[gamma] = aae_step(model, x, *frozen, torch.Generator().manual_seed(0), r1_gamma=gamma)
    assert losses[10.0][0] == losses[0.0][0]                 # same model, same batch
    assert losses[10.0][1] > losses[0.0][1]                  # the penalty only adds to D's loss


def test_map_pixels_and_codes_are_inverse():
    z = np.array([[0.0, 0.0], [3.0, -2.0], [-6.5, 6.5]])
    for (x, y), code in zip(to_pixel(z), z):
        assert np.allclose(to_code(x, y), code)
    assert np.allclose(to_pixel(np.zeros((1, 2))), [[SIZE / 2, SIZE / 2]])

