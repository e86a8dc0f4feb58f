"""The GAN family and the shared evaluator's Frechet distance: model wiring (the shipped weights
and demos come with their training)."""
import numpy as np
import pytest
import torch

from hub.evaluator import frechet_distance
from plugins.gan.model import DIGITS, GenerativeAdversarialNet, information_loss

KINDS = ["gan", "dcgan", "cgan", "infogan"]


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 8))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, a + 3.0) == pytest.approx(8 * 9.0, rel=1e-6)     # ||mu_a - mu_b||^2
    assert frechet_distance(a, 2 * a) == pytest.approx(8 * 1.0, rel=0.1)        # Tr(S + 4S - 4S) = d


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_generates_digit_sized_images_in_range(kind):
    torch.manual_seed(0)
    model = GenerativeAdversarialNet(kind)
    images = model.sample(5, torch.Generator().manual_seed(0))
    assert images.shape == (5, 28, 28) and images.min() >= 0 and images.max() <= 1
    logit, q = model.discriminate(torch.rand(5, 1, 28, 28) * 2 - 1, torch.arange(5))
    assert logit.shape == (5,)
    assert (q is not None) == (kind == "infogan")


def test_the_condition_and_the_codes_reach_the_generator():
    torch.manual_seed(0)
    cgan = GenerativeAdversarialNet("cgan")
    a = cgan.sample(2, torch.Generator().manual_seed(1), digits=torch.tensor([3, 3]))
    b = cgan.sample(2, torch.Generator().manual_seed(1), digits=torch.tensor([8, 8]))
    assert not torch.equal(a, b)
    info = GenerativeAdversarialNet("infogan")
    latent = info.latent(4, torch.Generator().manual_seed(0), category=torch.tensor([0, 3, 6, 9]),
                         codes=torch.tensor([[0.5, -0.5]] * 4))
    category, codes = info.codes_of(latent)
    assert category.tolist() == [0, 3, 6, 9] and torch.allclose(codes, torch.tensor([[0.5, -0.5]] * 4))


def test_information_loss_is_lowest_for_the_true_codes():
    category, codes = torch.tensor([2, 7]), torch.tensor([[0.3, -0.8], [0.1, 0.9]])
    right = torch.cat([torch.nn.functional.one_hot(category, DIGITS).float() * 20, codes], 1)
    wrong = torch.cat([torch.nn.functional.one_hot(category.flip(0), DIGITS).float() * 20, -codes], 1)
    assert information_loss(right, category, codes) < 1e-3 < information_loss(wrong, category, codes)

