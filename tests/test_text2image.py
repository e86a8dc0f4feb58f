"""The small DALL-E: the VQ-VAE, the causal transformer's cached sampling, the re-ranking; then the
shipped weights and the demo (the captions and their checks: test_captions.py)."""
import json

import gradio as gr
import numpy as np
import pytest
import torch
from helpers import evaluate_subset, plugin_actions

from hub import weights
from hub.kit import data
from hub.kit.captions import MAX_WORDS
from plugins.text2image.model import GRID, VQVAE, SmallDallE
from plugins.text2image.train import PRIOR, TOKENIZER, rerank_scores

TINY = dict(codes=16, code_dim=8, channels=16, d_model=32, depth=2, heads=2, d_ff=64, dropout=0.0)


def test_vqvae_round_trip_shapes_and_loss_terms():
    torch.manual_seed(0)
    vqvae = VQVAE(codes=16, code_dim=8, channels=16)
    x = torch.rand(4, 28, 28)
    ids = vqvae.encode(x)
    assert ids.shape == (4, GRID, GRID) and ids.max() < 16
    assert vqvae.decode(ids).shape == (4, 28, 28)
    loss, used = vqvae.loss(x)
    loss.backward()
    assert torch.equal(used, ids)
    assert vqvae.encoder[0].weight.grad.abs().sum() > 0           # the straight-through copy reaches the encoder
    assert vqvae.quantizer.codebook.weight.grad.abs().sum() > 0   # the codebook term moves the codes


def test_dead_codes_restart_on_encoder_outputs():
    torch.manual_seed(0)
    vqvae = VQVAE(codes=16, code_dim=8, channels=16)
    unused = torch.zeros(16, dtype=torch.bool)
    unused[:3] = True
    before = vqvae.quantizer.codebook.weight[3:].clone()
    vqvae.restart_codes(unused, torch.rand(2, 28, 28), torch.Generator().manual_seed(0))
    outputs = vqvae.encoder(torch.rand(2, 1, 28, 28)).permute(0, 2, 3, 1).reshape(-1, 8)
    assert torch.equal(vqvae.quantizer.codebook.weight[3:], before)
    assert vqvae.quantizer.codebook.weight[:3].abs().max() > 1 / 16 and outputs.abs().max() > 0


def test_the_prior_predicts_image_tokens_only_from_the_caption_and_earlier_tokens():
    torch.manual_seed(0)
    model = SmallDallE(**TINY).eval()
    captions = model.caption_ids(["a thick seven", "two"])
    image = torch.randint(0, 16, (2, GRID, GRID))
    sequence = model.sequence(captions, image)
    assert sequence.shape == (2, MAX_WORDS + 1 + GRID * GRID)
    logits = model.transformer(sequence)
    changed = sequence.clone()
    changed[:, 30] = model.transformer.text_vocabulary + (image.flatten(1)[:, 30 - MAX_WORDS - 1] + 1) % 16
    again = model.transformer(changed)
    assert torch.allclose(logits[:, :30], again[:, :30], atol=1e-5)      # the causal mask: no peeking ahead
    assert not torch.allclose(logits[:, 30:], again[:, 30:])
    other_caption = model.transformer(model.sequence(model.caption_ids(["a thin one", "two"]), image))
    assert not torch.allclose(other_caption[0, MAX_WORDS:], logits[0, MAX_WORDS:])   # the caption conditions it


def test_cached_sampling_draws_what_the_full_pass_predicts():
    """Greedy sampling (top-k 1) with the key/value cache gives the tokens a full pass would argmax."""
    torch.manual_seed(0)
    model = SmallDallE(**TINY).eval()
    captions = model.caption_ids(["a thick seven", "zero"])
    tokens = model.sample_tokens(captions, torch.Generator().manual_seed(0), top_k=1)
    logits = model.transformer(model.sequence(captions, tokens)[:, :-1])[:, MAX_WORDS:]
    assert torch.equal(logits.argmax(-1), tokens.flatten(1))
    images, _ = model.sample(captions, torch.Generator().manual_seed(0), temperature=0.5, top_k=4)
    assert images.shape == (2, 28, 28) and 0 <= images.min() and images.max() <= 1


def test_guided_sampling_draws_from_the_empty_caption_plus_s_times_the_captions_pull():
    """l_s = l(empty) + s (l(caption) - l(empty)), checked against full passes of both streams (greedy)."""
    torch.manual_seed(0)
    model = SmallDallE(**TINY).eval()
    captions = model.caption_ids(["a thick seven", "zero"])
    tokens = model.sample_tokens(captions, torch.Generator().manual_seed(0), top_k=1, guidance=3.0)

    def logits(caption_ids):
        return model.transformer(model.sequence(caption_ids, tokens)[:, :-1])[:, MAX_WORDS:]
    conditional, unconditional = logits(captions), logits(model.empty_captions(captions))
    assert torch.equal((unconditional + 3.0 * (conditional - unconditional)).argmax(-1), tokens.flatten(1))
    assert not torch.equal(conditional.argmax(-1), tokens.flatten(1))          # the guidance changed the draw


def test_dropped_captions_are_all_padding_and_come_at_the_share_asked():
    model = SmallDallE(**TINY)
    captions = model.caption_ids(["a thick seven"] * 2000)
    dropped = model.drop_captions(captions, 0.1, torch.Generator().manual_seed(0))
    empty = (dropped == model.captions.pad).all(1)
    assert torch.equal(dropped[~empty], captions[~empty]) and 0.08 < empty.float().mean() < 0.12
    assert torch.equal(model.drop_captions(captions, 0.0, torch.Generator()), captions)


def test_one_prior_step_lowers_the_loss_on_its_batch():
    torch.manual_seed(0)
    model = SmallDallE(**TINY)
    captions, image = model.caption_ids(["seven"] * 8), torch.randint(0, 16, (8, GRID, GRID))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.prior_loss(captions, image)
    for _ in range(5):
        optimizer.zero_grad()
        model.prior_loss(captions, image).backward()
        optimizer.step()
    assert model.prior_loss(captions, image) < first


def test_reranking_prefers_the_named_digit_then_the_named_properties():
    probabilities = np.array([[0.1] * 10, np.eye(10)[7] * 0.9 + 0.01, np.eye(10)[7] * 0.9 + 0.01])
    scores = rerank_scores(probabilities, 7, met=np.array([2, 0, 2]), named=2)
    assert list(np.argsort(-scores)) == [2, 1, 0]
    assert rerank_scores(probabilities, None, np.zeros(3), 0)[1] == pytest.approx(0.91)


def test_default_sampling_travels_with_the_weights(tmp_path):
    model = SmallDallE(**TINY)
    model.set_default_sampling(0.8, 32, 2.0)
    weights.save(tmp_path, model, {"model": TINY})
    loaded, _ = weights.load_model(SmallDallE, tmp_path)
    assert loaded.default_sampling() == {"temperature": 0.8, "top_k": 32, "guidance": 2.0}


def test_the_sampling_chosen_reaches_the_target_closest_to_real_digits_else_the_warmest_within_noise():
    from plugins.text2image.train import chosen

    def candidate(temperature, digit_match, fld=30.0):
        return dict(temperature=temperature, digit_match=digit_match, fld=fld, samples=4000)
    warm, mild, cold = candidate(1.0, 0.92), candidate(0.8, 0.949), candidate(0.6, 0.955)
    assert chosen([warm, mild, cold]) is mild           # 0.006 apart: within 2 standard errors (0.0066)
    assert chosen([warm, candidate(0.8, 0.94), cold]) is cold
    assert chosen([candidate(1.0, 0.9), candidate(0.8, 0.9)])["temperature"] == 1.0
    guided, forced = candidate(1.0, 0.988, fld=31.4), candidate(0.8, 0.998, fld=97.0)
    assert chosen([warm, mild, forced, guided]) is guided    # both reach 97%: the one nearer the real digits


def test_a_card_says_when_the_sampling_was_chosen_again_and_what_it_was_before():
    from plugins.text2image.train import rechosen

    assert rechosen({"temperature": 0.8, "top_k": 32}) == ""
    said = rechosen({"temperature": 0.6, "top_k": 32,
                     "before": {"temperature": 0.8, "top_k": 32, "guidance": 2.0, "digit_match_test": 0.9969}})
    assert "--choose-sampling" in said and "temperature 0.8, top-k 32, guidance 2.0" in said and "99.69%" in said
    assert "guidance 1.0" in rechosen({"before": {"temperature": 0.8, "top_k": 32, "digit_match_test": 0.9403}})


def test_a_smoke_run_trains_the_three_stages_and_writes_weights_config_and_card(tmp_path):
    from plugins.text2image.train import SAMPLING_CANDIDATES, train

    metrics = train(tmp_path, epochs=1, limit=64)
    config = weights.read_config(tmp_path)
    assert metrics["tokenizer"]["images"] == 64 and metrics["captions"] == 64
    stages = config["training"]
    assert stages["tokenizer"]["last_epoch"] == stages["prior"]["last_epoch"] == stages["guidance"]["last_epoch"] == 1
    assert stages["prior"]["caption_dropout"] == 0 < stages["guidance"]["caption_dropout"]
    assert len(config["sampling"]["held_apart"]) == len(SAMPLING_CANDIDATES) and "guidance" in config["sampling"]
    card = (tmp_path / "README.md").read_text()
    assert "python -m hub train text2image" in card and weights.sha256_of(tmp_path / "model.safetensors") in card
    assert "Stage 3" in card and "--guidance-stage" not in card
    loaded, _ = weights.load_model(SmallDallE, tmp_path)
    assert loaded.default_sampling() == {key: config["sampling"][key] for key in ("temperature", "top_k", "guidance")}


@pytest.mark.slow
def test_stage_3_alone_goes_on_from_weights_saved_before_it_existed(tmp_path):
    """The shipped weights of stages 1 and 2 had no guidance setting: stage 3 loads them, trains on, says so."""
    from safetensors.torch import save_file

    from plugins.text2image.train import guidance_stage_alone

    earlier, out = tmp_path / "earlier", tmp_path / "out"
    earlier.mkdir()
    state = {k: v for k, v in SmallDallE(**TINY).state_dict().items() if k != "default_guidance"}
    save_file(state, str(earlier / "model.safetensors"))
    (earlier / "config.json").write_text(json.dumps({"model": TINY, "sha256": weights.sha256_of(earlier / "model.safetensors"),
                                                     "training": {"seed": 0, "parameters": 1, **EARLIER_STAGES}}))
    (earlier / "train.log").write_text("stages 1 and 2\n")
    metrics = guidance_stage_alone(earlier, out, limit=64)
    config = weights.read_config(out)
    assert metrics["captions"] == 64 and config["training"]["guidance"]["last_epoch"] == 1
    assert (out / "train.log").read_text().startswith("stages 1 and 2\n") and "stage 3" in (out / "train.log").read_text()
    assert "--guidance-stage" in (out / "README.md").read_text()
    assert weights.load_model(SmallDallE, out)[0].default_sampling()["guidance"] == config["sampling"]["guidance"]


EARLIER_STAGES = {stage: {**settings, "best_epoch": 1, "last_epoch": 1, "minutes": 0.1, "best_validation": -3.0}
                  for stage, settings in (("tokenizer", TOKENIZER), ("prior", PRIOR))}


# ---- the shipped model and the demo ---------------------------------------------------------------

def test_shipped_weights_and_card():
    directory = weights.weights_dir("text2image")
    config = weights.read_config(directory)
    assert weights.sha256_of(directory / "model.safetensors") == config["sha256"]
    assert (directory / "model.safetensors").stat().st_size < 10 * 2**20
    card, m = (directory / "README.md").read_text(), config["metrics"]
    assert "python -m hub train text2image" in card
    assert f"{100 * m['digit_match']:.2f}%" in card and f"{m['fld']:.2f}" in card
    assert m["captions"] == 10000 and m["tokenizer"]["images"] == 10000
    assert m["digit_match"] >= 0.97                                  # issue 23's bar, before re-ranking
    assert m["digit_match_after_reranking"] >= m["digit_match"]


@pytest.mark.slow                # recomputes figures in a subprocess
def test_figures_recomputed_on_a_subset():
    subset, full = evaluate_subset("text2image", 200), weights.read_config(weights.weights_dir("text2image"))["metrics"]
    assert subset["captions"] == 200
    assert subset["digit_match"] >= full["digit_match"] - 0.05
    assert subset["digit_match_after_reranking"] >= 0.9
    assert abs(subset["tokenizer"]["mse_per_pixel"] - full["tokenizer"]["mse_per_pixel"]) < 0.005
    for word, agreement in full["word_agreement"].items():
        assert agreement > full["base_rate"][word]             # the words change what is drawn


@pytest.fixture(scope="module")
def action():
    actions = plugin_actions("text2image")
    return lambda name: actions("text2image", name)


def test_generate_ranks_samples_of_the_named_digit(action):
    gallery, ranking, tokens, note = action("generate")("a thick seven slanted to the right", 32, None, None, 0)
    assert len(gallery) == 32 and len(ranking) == 32 and np.array(tokens).shape == (GRID, GRID)
    scores = [row[-1] for row in ranking]
    assert scores == sorted(scores, reverse=True)
    assert sum(row[1] == 7 for row in ranking) >= 24                   # the evaluator reads most as sevens
    assert ranking[0][1] == 7 and ranking[0][5] == "2 of 2"             # the top one is a thick, right-leaning seven
    assert "thick seven slanted to the right" in note and "checked for: 7, thick, right" in note


def test_the_guidance_slider_defaults_to_the_shipped_scale_and_changes_the_draw(action):
    shipped = weights.read_config(weights.weights_dir("text2image"))["sampling"]["guidance"]
    tokens = {scale: action("generate")("a thin four", 4, None, None, 3, scale)[2] for scale in (None, shipped, 1.0)}
    assert shipped != 1.0 and tokens[None] == tokens[shipped] != tokens[1.0]


def test_unknown_words_are_named_with_the_words_the_model_knows(action):
    *_, note = action("generate")("a fluffy 3 on a blue background", 2, 1.0, 0, 0)
    assert "fluffy" in note and "blue" in note and "It knows:" in note and "thick" in note


@pytest.mark.parametrize("args, message", [
    (("", 8, 1.0, 0, 0), "empty"),
    (("a purple elephant", 8, 1.0, 0, 0), "names no digit"),
    (("seven", 0, 1.0, 0, 0), "Number of samples"),
    (("seven", 10**9, 1.0, 0, 0), "Number of samples"),
    (("seven", "many", 1.0, 0, 0), "Number of samples"),
    (("seven", 8, -1, 0, 0), "Temperature"),
    (("seven", 8, 1.0, 1000, 0), "Top-k"),
    (("seven", 8, 1.0, 0, 0, float("nan")), "Guidance scale"),
    (("seven", 8, 1.0, 0, 0, 50), "Guidance scale"),
])
def test_bad_requests_get_a_message_not_a_crash(action, args, message):
    with pytest.raises(gr.Error, match=message):
        action("generate")(*args)


def test_the_tokenizer_tab_shows_tokens_and_the_reconstruction(action):
    original, tokens, reconstruction, note = action("tokenize")(0)
    x, y = data.mnist("test")
    assert original.shape == reconstruction.shape == (224, 224) and np.array(tokens).shape == (GRID, GRID)
    assert np.abs(original.astype(float) - reconstruction).mean() < 40      # drawn back close to the digit
    assert f"labelled {y[0]}" in note
    with pytest.raises(gr.Error, match="Test image number"):
        action("tokenize")(10000)
