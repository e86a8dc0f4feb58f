"""The VAE plugin: shipped weights, its test metric recomputed on a subset, and bad inputs to every action."""
import math
import re

import gradio as gr
import numpy as np
import pytest
from helpers import api_fn, evaluate_subset
from PIL import Image

from hub import weights
from hub.core import Hub
from hub import InputError
from hub.kit import grayscale_ink, to_mnist
from hub.placement import parse_inventory
from hub.ui import build_app

ROOT = weights.ROOT
VAE_DIR = weights.weights_dir("vae")


@pytest.fixture(scope="module")
def app():
    hub = Hub.create(allow="vae", entry_points=False, devices=parse_inventory(""))
    return build_app(hub)


@pytest.fixture(scope="module")
def action(app):
    return lambda name: api_fn(app, f"vae_{name}")


def digit_canvas(size=280, colour=(0, 0, 0)):
    """A white RGBA canvas with a dark stroke shaped like a 7, as the Sketchpad sends it."""
    canvas = np.full((size, size, 4), 255, np.uint8)
    s = size // 10
    canvas[2 * s:3 * s, 2 * s:8 * s, :3] = colour
    for row in range(3 * s, 8 * s):
        col = 8 * s - (row - 3 * s) // 2
        canvas[row, col - s // 2:col + s // 2, :3] = colour
    return {"background": None, "layers": [], "composite": canvas}


def test_shipped_weights_match_their_manifest_and_card():
    config = weights.read_config(VAE_DIR)
    assert weights.sha256_of(VAE_DIR / "model.safetensors") == config["sha256"]
    assert (VAE_DIR / "model.safetensors").stat().st_size < 10 * 2**20
    card = (VAE_DIR / "README.md").read_text()
    assert config["sha256"] in card and "python -m hub train vae" in card
    assert config["metrics"]["split"] == "test" and config["metrics"]["examples"] == 10000
    assert -config["metrics"]["log_likelihood_k5000"] <= 93.0


@pytest.mark.slow                # recomputes figures in a subprocess
def test_test_metric_recomputed_on_a_subset():
    subset = evaluate_subset("vae", 100)
    check = weights.read_config(VAE_DIR)["subset_check"]           # the card's figures on the same 100 digits
    assert check["limit"] == 100 and subset["examples"] == 100 and subset["split"] == "test"
    assert subset["log_likelihood_k5000"] >= subset["log_likelihood_k50"] - 0.5 >= subset["elbo"] - 1.0
    for name in ("elbo", "log_likelihood_k50", "log_likelihood_k5000"):
        assert abs(subset[name] - check["metrics"][name]) < 1.0, (name, subset[name], check["metrics"][name])


def test_drawn_digit_is_reconstructed_and_scored(action):
    seen, recon, report, plot = action("reconstruct")(digit_canvas())
    assert seen.shape == recon.shape == (112, 112)
    assert seen.max() == 255 and recon.max() > 100
    assert "log p(x) ≥" in report and "Verdict" in report
    bound, elbo = map(float, re.search(r"≥ (-?[\d.]+) nats.*ELBO (-?[\d.]+)", report).groups())
    assert elbo <= bound < 0                      # Jensen: the IW bound is never below the ELBO
    assert plot is not None


def test_test_digit_is_typical_and_noise_is_anomalous(action, tmp_path):
    path = tmp_path / "digit.png"
    Image.fromarray(action("test_digit")(3)).save(path)
    _, _, report, _ = action("reconstruct_upload")(str(path))
    assert "typical" in report
    noise = (np.random.default_rng(0).random((28, 28)) > 0.5).astype(np.uint8) * 255
    Image.fromarray(noise).save(path)
    _, _, report, _ = action("reconstruct_upload")(str(path))
    assert "anomalous" in report


def test_sampling_is_seeded(action):
    first = action("sample")(7, 1.0, 4)
    assert first.shape == (4 * 28 * 3 + 3 * 2 * 3,) * 2
    assert np.array_equal(first, action("sample")(7, 1.0, 4))
    assert not np.array_equal(first, action("sample")(8, 1.0, 4))


def test_interpolation_and_latent_map(action):
    strip = action("interpolate")(0, 1, 6)
    assert strip.shape[1] > strip.shape[0] * 7
    figure, manifold = action("latent_map")(500)
    assert manifold.shape == (9 * 28 * 2 + 8 * 2 * 2,) * 2
    assert sum(len(c.get_offsets()) for c in figure.axes[0].collections) == 500


def test_the_prior_shows_its_pseudo_inputs_and_what_they_decode_to(action):
    """The shipped prior is a VampPrior: its pseudo-inputs are learned images, not the blank they started
    as, and each decodes (from its component's mean) to something the evaluator reads as a digit."""
    from hub.kit import evaluator

    pseudo, decoded = action("prior")(64)
    assert pseudo.shape == decoded.shape == (8 * 28 * 2 + 7 * 2 * 2,) * 2
    assert pseudo.std() > 25                                 # uint8: far from the near-blank start
    cells = np.pad(decoded[::2, ::2] / 255.0, ((0, 2), (0, 2))).reshape(8, 30, 8, 30)[:, :28, :, :28]
    cells = cells.transpose(0, 2, 1, 3).reshape(64, 28, 28).astype(np.float32)
    confidence = evaluator.outputs(evaluator.load(), cells)[1].max(1)
    assert np.median(confidence) > 0.9


BAD_INPUTS = [
    ("sample", (0, float("nan"), 4), "Temperature must be a finite number"),
    ("sample", (0, float("inf"), 4), "Temperature must be a finite number"),
    ("sample", (0, 1.0, 100), "Grid size must be between 1 and 12"),
    ("sample", (-3, 1.0, 4), "Seed must be between"),
    ("sample", ("abc", 1.0, 4), "Seed must be a number"),
    ("sample", (1.5, 1.0, 4), "Seed must be a whole number"),
    ("reconstruct", (None,), "No image yet: upload one"),
    ("reconstruct", (digit_canvas(colour=(255, 255, 255)),), "The canvas is empty"),
    ("reconstruct", ({"composite": np.zeros((3, 3, 4), np.uint8)},), "at least 8 pixels"),
    ("reconstruct", ({"composite": np.zeros((5000, 5000), np.uint8)},), "largest accepted is 4096"),
    ("reconstruct", ({"composite": np.full((40, 40), np.nan, np.float32)},), "NaN or infinite"),
    ("reconstruct", ({"composite": np.zeros((40, 40, 7), np.uint8)},), "Expected an image"),
    ("test_digit", (10000,), "Test image number must be between 0 and 9999"),
    ("test_digit", (float("nan"),), "must be a finite number"),
    ("interpolate", (0, -1, 5), "Second test image must be between"),
    ("interpolate", (0, 1, float("inf")), "Steps must be a finite number"),
    ("latent_map", (float("nan"),), "Points must be a finite number"),
    ("latent_map", (5,), "Points must be between 100 and 10000"),
    ("prior", (0,), "Pseudo-inputs must be between 1 and 100"),
    ("prior", (float("nan"),), "Pseudo-inputs must be a finite number"),
]


@pytest.mark.parametrize("name, args, message", BAD_INPUTS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_INPUTS)])
def test_bad_inputs_get_a_clear_message(action, name, args, message):
    with pytest.raises(gr.Error) as caught:
        action(name)(*args)
    assert message in caught.value.message


def test_bad_uploads_get_a_clear_message(action, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    huge = tmp_path / "huge.png"
    Image.new("L", (5000, 300)).save(huge)
    for path, message in [(text, "not an image"), (huge, "largest accepted is 4096"),
                          (tmp_path / "gone.png", "could not be found")]:
        with pytest.raises(gr.Error) as caught:
            action("reconstruct_upload")(str(path))
        assert message in caught.value.message


def test_colour_and_odd_sized_images_are_accepted(action, tmp_path):
    canvas = digit_canvas(size=150, colour=(200, 30, 30))["composite"][..., :3]
    path = tmp_path / "colour.jpg"
    Image.fromarray(canvas).resize((150, 97)).save(path)
    seen, _, report, _ = action("reconstruct_upload")(str(path))
    assert seen.shape == (112, 112) and "log p(x)" in report


def test_mnist_preprocessing_centres_the_ink():
    gray = grayscale_ink(digit_canvas(size=300))
    assert gray.shape == (300, 300) and gray.max() == 1.0 and np.median(gray) == 0.0
    digit = to_mnist(gray)
    rows, cols = np.nonzero(digit > 0.1)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) <= 20
    centre = (np.indices(digit.shape) * digit).reshape(2, -1).sum(1) / digit.sum()
    assert np.allclose(centre, 14, atol=1.0)
    with pytest.raises(InputError):
        to_mnist(np.zeros((50, 50), np.float32))
    assert math.isclose(float(to_mnist(np.eye(28, dtype=np.float32)).sum()), 28.0)


def test_the_iwae_bound_trains_and_is_tighter_than_the_elbo():
    """`importance_samples` > 1 trains on the k-sample bound (Burda et al. 2016): gradients reach every weight,
    and on average it sits above the ELBO (Eq. 8 tightens as k grows)."""
    import torch

    from plugins.vae.model import VAE

    torch.manual_seed(0)
    vae = VAE(hidden=(32,), z_dim=4)
    x = (torch.rand(16, 784) > 0.5).float()
    bound = vae.iw_log_likelihood(x, 20)
    bound.mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in vae.parameters())
    with torch.no_grad():
        elbo = torch.stack([vae.elbo(x) for _ in range(50)]).mean()
    assert bound.mean().item() > elbo.item() + 1.0
    with torch.no_grad():              # beta = 0 drops log p(z) - log q(z|x): only the reconstruction is left
        torch.manual_seed(1)
        unweighted = vae.log_weights(x, 1, beta=0.0)[0]
        torch.manual_seed(1)
        mu, logvar = vae.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        assert torch.allclose(unweighted, vae.log_px_given_z(x, vae.decode(z)), atol=1e-4)


def test_the_vampprior_is_the_mixture_of_posteriors_at_its_pseudo_inputs(tmp_path):
    """p(z) = (1/K) sum_k q(z|u_k) (Tomczak & Welling 2018, Eq. 9): its density, its samples, the KL estimate
    the ELBO trains on, gradients into the pseudo-inputs, and a saved model loading back with its prior."""
    import torch
    from torch.distributions import Independent, Normal, kl_divergence

    from hub.weights import load_model, save
    from plugins.vae.model import VAE

    torch.manual_seed(0)
    vae = VAE(hidden=(32,), z_dim=4, pseudo_inputs=3)
    with torch.no_grad():
        mu, logvar = vae.prior_components()
        components = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
        z = torch.randn(6, 5, 4)
        mixture = torch.logsumexp(components.log_prob(z[..., None, :]), -1) - math.log(3)
        assert torch.allclose(vae.log_prior(z), mixture, atol=1e-4)
        assert not torch.allclose(vae.log_prior(z), VAE(hidden=(32,), z_dim=4).log_prior(z))

        draws = vae.sample_prior(30000, torch.Generator().manual_seed(1))
        assert torch.equal(vae.sample_prior(10, torch.Generator().manual_seed(2)),
                           vae.sample_prior(10, torch.Generator().manual_seed(2)))
        assert torch.allclose(draws.mean(0), mu.mean(0), atol=0.05)
        spread = (logvar.exp() + mu.pow(2)).mean(0) - mu.mean(0).pow(2)       # the mixture's variance
        assert torch.allclose(draws.var(0), spread, rtol=0.1)

        single = VAE(hidden=(32,), z_dim=4, pseudo_inputs=1)       # one component: KL has a closed form to check
        x = (torch.rand(2, 784) > 0.5).float()
        q_mu, q_logvar = single.encode(x)
        z = q_mu + torch.randn(40000, *q_mu.shape) * (0.5 * q_logvar).exp()
        p_mu, p_logvar = single.prior_components()
        exact = kl_divergence(Independent(Normal(q_mu, (0.5 * q_logvar).exp()), 1),
                              Independent(Normal(p_mu, (0.5 * p_logvar).exp()), 1))
        assert torch.allclose(single.kl_to_prior(q_mu, q_logvar, z), exact, rtol=0.05, atol=0.05)

    x = (torch.rand(8, 784) > 0.5).float()
    (-vae.elbo(x).mean()).backward()
    assert vae.pseudo_inputs.grad is not None and vae.pseudo_inputs.grad.abs().sum() > 0

    save(tmp_path, vae, {"model": {"hidden": [32], "z_dim": 4, "pseudo_inputs": 3}})
    loaded, _ = load_model(VAE, tmp_path)
    with torch.no_grad():
        assert torch.allclose(loaded.log_prior(z[:3]), vae.log_prior(z[:3]))
