"""The text-to-image GAN on tiny nets: shapes, the matching-aware loss and its wrong captions, GAN-INT's
blends, the joint embedding; a smoke run; then the shipped weights and the demo's answers."""
import gradio as gr
import numpy as np
import pytest
import torch
from helpers import assert_quick_check_reproduced, plugin_actions, shipped_weights

from hub import weights
from hub.kit import captions, strokes
from plugins.text2image_gan.model import EMBEDDING, TextToImageGAN, joint_embedding_loss
from plugins.text2image_gan.train import fit_matrix, mismatched_caption


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return TextToImageGAN(z_dim=4, width=4)


def test_shapes_of_phi_g_and_d(tiny):
    phi = tiny.phi(tiny.caption_ids(["a thin 3", "seven", "a thick two leaning left"]))
    assert phi.shape == (3, EMBEDDING) and torch.allclose(phi.norm(dim=1), torch.ones(3))
    images = tiny.generator(tiny.latent(3), phi)
    assert images.shape == (3, 1, 28, 28) and images.abs().max() <= 1
    assert tiny.discriminator(images, phi).shape == (3,)
    assert tiny.sample(["one", "two"]).shape == (2, 28, 28)


def test_a_caption_naming_only_the_digit_fits_every_such_digit_and_a_wrong_word_fits_none():
    tokenizer = captions.CaptionTokenizer()
    reads = [tokenizer.read(t) for t in ["seven", "a thick seven", "a seven slanted to the left", "a thick three"]]
    thin_upright_seven, thick_left_seven = (7, 1.2, 0.0), (7, 3.0, -0.5)
    fits = fit_matrix(reads, *map(np.array, zip(thin_upright_seven, thick_left_seven)))
    assert fits.tolist() == [[True, False, False, False], [True, True, True, False]]


def test_a_mismatched_caption_never_fits_its_image():
    rng, tokenizer = np.random.default_rng(0), captions.CaptionTokenizer()
    digits, thickness, slant = rng.integers(0, 10, 300), rng.uniform(1, 3, 300), rng.uniform(-0.6, 0.6, 300)
    wrong = [tokenizer.read(mismatched_caption(d, t, s, rng)) for d, t, s in zip(digits, thickness, slant)]
    assert not fit_matrix(wrong, digits, thickness, slant).diagonal().any()
    kinds = {("digit" if r.digit != d else "thickness" if r.thickness else "slant") for r, d in zip(wrong, digits)}
    assert kinds == {"digit", "thickness", "slant"}
    right = [tokenizer.read(captions.random_caption(int(d), t, s, rng)) for d, t, s in zip(digits, thickness, slant)]
    assert fit_matrix(right, digits, thickness, slant).diagonal().all()


def test_the_matching_aware_discriminator_judges_real_images_under_the_wrong_caption(tiny):
    real, fake = torch.rand(4, 1, 28, 28) * 2 - 1, torch.rand(4, 1, 28, 28) * 2 - 1
    right, wrong = tiny.embed(["one"] * 4), tiny.embed(["a thick eight"] * 4)
    judged = []
    original = tiny.discriminator.forward
    tiny.discriminator.forward = lambda x, phi: judged.append((x, phi)) or original(x, phi)
    tiny.eval()
    with_cls = tiny.discriminator_loss(real, right, wrong, fake, 0.9)
    assert any(torch.equal(x, real) and torch.equal(phi, wrong) for x, phi in judged)   # {real image, wrong text}
    assert tiny.discriminator_loss(real, right, right, fake, 0.9) != with_cls
    tiny.matching_aware, judged[:] = False, []
    without = tiny.discriminator_loss(real, right, wrong, fake, 0.9)
    assert not any(torch.equal(phi, wrong) for _, phi in judged)
    assert without == tiny.discriminator_loss(real, right, right, fake, 0.9)


def test_gan_int_adds_a_term_for_blended_captions(tiny):
    phi = tiny.embed(["one", "two", "three", "four"])
    seen = []
    original = tiny.generator.forward
    tiny.generator.forward = lambda z, p: seen.append(p) or original(z, p)
    tiny.eval()
    fake = tiny.generator(tiny.latent(4), phi)
    tiny.generator_loss(fake, phi, torch.Generator().manual_seed(0))
    assert torch.allclose(seen[-1], 0.5 * phi + 0.5 * phi.roll(1, 0))  # halfway between two captions
    count = len(seen)
    tiny.interpolate = False
    tiny.generator_loss(fake, phi)
    assert len(seen) == count                                         # no blended draw without GAN-INT


def test_the_joint_embedding_loss_is_lower_when_matching_pairs_are_close():
    images = torch.nn.functional.normalize(torch.randn(6, EMBEDDING), dim=1)
    matches = torch.eye(6, dtype=torch.bool)
    assert joint_embedding_loss(images, images, matches) < joint_embedding_loss(images, images.roll(1, 0), matches)


def test_a_smoke_run_writes_the_model_the_ablations_and_a_card(tmp_path):
    from plugins.text2image_gan.train import train

    metrics = train(tmp_path, epochs=1, limit=64)
    assert metrics["captions"] == 64 and set(metrics["ablation"]) == {"without_cls", "without_int"}
    for name in ("without_cls", "without_int"):
        config = weights.read_config(tmp_path / name)
        assert config["model"]["matching_aware"] == (name != "without_cls")
        assert config["model"]["interpolate"] == (name != "without_int")
    card = (tmp_path / "README.md").read_text()
    assert "python -m hub train text2image_gan" in card and "GAN-CLS off" in card and "GAN-INT off" in card
    loaded, _ = weights.load_model(TextToImageGAN, tmp_path)
    assert loaded.sample(["seven"]).shape == (1, 28, 28)


# ---- the shipped model and the demo ---------------------------------------------------------------

def test_shipped_weights_reach_the_bar_and_the_card_shows_both_ablations():
    config, card = shipped_weights("text2image_gan")
    directory, m = weights.weights_dir("text2image_gan"), config["metrics"]
    assert m["captions"] == 10000 and m["samples_per_caption"] == 8
    assert m["digit_match"] >= 0.97 and m["word_agreement_gain_min"] >= 0.30
    assert f"{100 * m['digit_match']:.2f}%" in card
    for name, ablation in m["ablation"].items():
        assert weights.sha256_of(directory / name / "model.safetensors") == weights.read_config(directory / name)["sha256"]
        assert f"{100 * ablation['digit_match']:.2f}%" in card


@pytest.mark.slow                # recomputes figures in a subprocess
def test_the_shipped_weights_reach_the_bar_on_a_fixed_subset():
    figures = assert_quick_check_reproduced("text2image_gan")
    assert figures["captions"] == 500
    assert figures["digit_match"] >= 0.97 and figures["word_agreement_gain_min"] >= 0.30


@pytest.fixture(scope="module")
def action():
    actions = plugin_actions("text2image,text2image_gan")
    return lambda name: actions("text2image_gan", name)


def test_generate_draws_the_named_digit_and_checks_every_sample(action):
    gallery, rows, note = action("generate")("a thick seven slanted to the right", 16, 0)
    assert len(gallery) == len(rows) == 16
    assert sum(row[1] == 7 for row in rows) >= 12                      # the evaluator reads most as sevens
    assert "checked for: 7, thick, right" in note and "ms an image" in note


def test_keep_z_change_the_words_gives_a_row_per_caption(action):
    one_row = action("restyle")("a thin one", 4, 0)
    grid = action("restyle")("a thin one\na thick one\nseven", 4, 0)
    assert grid.ndim == 3 and grid.shape[0] > 2 * one_row.shape[0]
    assert action("interpolate")("a thin one", "a thick seven", 5, 0).ndim == 3


def test_both_models_draw_the_same_caption_side_by_side(action):
    *galleries, summary, rows, note = action("side_by_side")("a thick seven", 4, 0)
    assert [row[0] for row in summary] == ["Text to image", "Text-to-image GAN"]
    assert all(len(gallery) == 4 for gallery in galleries) and len(rows) == 8
    assert all(row[3] > 0 for row in summary)                         # milliseconds an image, measured
    assert "checked for: 7, thick" in note


@pytest.mark.parametrize("args, message", [
    (("", 8, 0), "empty"),
    (("a purple elephant", 8, 0), "names no digit.*purple, elephant"),
    (("seven " * 2000, 8, 0), "12,000 characters"),
    (("🙂🙂 \x00\x07", 8, 0), "names no digit.*U\\+1F642, U\\+0000, U\\+0007"),
    (("seven", 0, 0), "Number of samples"),
    (("seven", "lots", 0), "Number of samples"),
    (("seven", 8, -5), "Seed"),
])
def test_bad_captions_and_settings_get_a_message_not_a_crash(action, args, message):
    with pytest.raises(gr.Error, match=message):
        action("generate")(*args)


def test_unknown_words_and_symbols_are_named_and_left_out(action):
    _, rows, note = action("generate")("a fluffy 3 🙂", 2, 0)
    assert len(rows) == 2 and "fluffy" in note and "U+1F642" in note and "It knows:" in note


@pytest.mark.parametrize("name, args, message", [
    ("restyle", ("", 4, 0), "at least one caption"),
    ("restyle", ("one\n" * 9, 4, 0), "at most 8"),
    ("restyle", ("one\nthe purple", 4, 0), "Caption 2"),
    ("interpolate", ("one", "", 5, 0), "Caption 2.*empty"),
    ("side_by_side", ("", 4, 0), "empty"),
])
def test_bad_input_in_the_other_tabs(action, name, args, message):
    with pytest.raises(gr.Error, match=message):
        action(name)(*args)


def test_the_checks_measure_what_the_caption_names():
    tokenizer = captions.CaptionTokenizer()
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 4:24, 12:16] = 1                                            # a thick upright bar: a one
    checked = captions.check_images(image, tokenizer.read("a thick one, upright"))
    assert checked["named"] == 2 and checked["met"][0] == 2
    assert strokes.thickness_word(checked["thickness"][0]) == "thick"
