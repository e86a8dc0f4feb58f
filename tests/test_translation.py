"""Translation: the subword tokenizer, the Transformer's decoding, the demo's answers to bad input,
a pretrained Marian checkpoint built here, and the shipped weights' BLEU recomputed on a subset."""
import io
import json

import gradio as gr
import pytest
import torch
from helpers import OneModel, evaluate_subset, plugin_actions

from hub import weights
from hub.kit import data
from hub import InputError
from plugins.translation import TRAINED, load_translator
from plugins.translation.demo import MAX_CHARS, TranslationDemo
from plugins.translation.model import Transformer
from plugins.translation.tokenizer import train_bpe, unknown_characters
from plugins.translation.train import encode_pairs, token_batches
from plugins.translation.translator import MAX_SOURCE_TOKENS, Translator

SENTENCES = data.multi30k("val")


@pytest.fixture(scope="module")
def tokenizer():
    english, german = SENTENCES
    return train_bpe(english + german, 400)


@pytest.fixture
def tiny_translator(tokenizer, tmp_path):
    """An untrained tiny Transformer, saved and loaded the way the shipped one is."""
    torch.manual_seed(0)
    config = {"vocab_size": tokenizer.get_vocab_size(), "d_model": 32, "heads": 4, "layers": 2, "d_ff": 64,
              "dropout": 0.0}
    weights.save(tmp_path, Transformer(**config), {"model": config}, dtype=torch.float16)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    return load_translator(tmp_path)


def test_the_tokenizer_round_trips_text_and_names_what_it_cannot_spell(tokenizer):
    for sentence in ["A man in an orange hat starring at something.", "Zwei Männer, die im Freien arbeiten."]:
        assert tokenizer.decode(tokenizer.encode(sentence).ids) == sentence
    assert unknown_characters(tokenizer, "A dog 😀 and 猫") == ["😀", "猫"]
    assert unknown_characters(tokenizer, "A dog") == []


def test_pairs_are_batched_by_length_within_the_token_budget(tokenizer):
    english, german = SENTENCES
    pairs = encode_pairs(tokenizer, english, german)
    assert pairs[0][0][-1] == tokenizer.token_to_id("</s>") and pairs[0][1][0] == tokenizer.token_to_id("<s>")
    batches = token_batches(pairs, 600, torch.Generator().manual_seed(0))
    assert sorted(i for b in batches for i in b) == list(range(len(pairs)))
    for batch in batches:
        longest = max(max(len(pairs[i][0]), len(pairs[i][1])) for i in batch)
        assert longest * len(batch) <= 600 or len(batch) == 1


def test_greedy_and_beam_agree_with_and_without_the_cache_and_respect_the_length_guard(tiny_translator):
    model = tiny_translator.model
    src = tiny_translator.batch(["A man sleeping in a green room on a couch.", "Two dogs"])
    assert model.greedy(src) == model.greedy(src, use_cache=False)
    assert model.beam_search(src, 3) == model.beam_search(src, 3, use_cache=False)
    assert model.beam_search(src, beam=1) == model.greedy(src)
    assert all(len(ids) <= 4 for ids in model.greedy(src, max_len=4))
    assert all(len(ids) <= model.length_limit(src, None) for ids in model.beam_search(src, 2))


def test_a_sentence_translates_the_same_alone_and_beside_longer_ones(tiny_translator):
    """The untrained model never says </s>, so each translation runs to its length guard: the sentence's
    own, not the longest one's in the batch."""
    model, short = tiny_translator.model, "Two dogs"
    src = tiny_translator.batch(["A man sleeping in a green room on a couch.", short])
    alone = tiny_translator.batch([short])
    assert model.length_limits(src, None).tolist()[1] == model.length_limit(alone, None) < model.length_limit(src, None)
    assert model.greedy(src)[1] == model.greedy(alone)[0]
    assert len(model.greedy(alone)[0]) == model.length_limit(alone, None)
    assert model.beam_search(src, 3)[1] == model.beam_search(alone, 3)[0]


def test_a_tokenizer_that_does_not_match_the_model_is_refused(tokenizer):
    model = Transformer(tokenizer.get_vocab_size(), 16, 2, 1, 32, pad_id=3)
    with pytest.raises(ValueError, match="special ids"):
        Translator(model, tokenizer)


def test_the_demo_answers_bad_input_clearly(tiny_translator):
    demo = TranslationDemo(OneModel(tiny_translator), [TRAINED])
    for text in ["", "   \n ", None]:
        with pytest.raises(InputError, match="Type an English sentence"):
            demo.translate(text, "Greedy", 1)
    with pytest.raises(InputError, match="Beam size"):
        demo.translate("A dog.", "Beam search", 40)
    with pytest.raises(InputError, match="decoding method"):
        demo.translate("A dog.", "sampling", 2)
    with pytest.raises(InputError, match="Unknown model"):
        demo.translate("A dog.", "Greedy", 1, "gpt")
    output, tokens, notes = demo.translate("A dog 😀 runs", "Greedy", 1, TRAINED)
    assert isinstance(output, str) and "😀" in notes and "<unk>" in tokens
    output, _, notes = demo.translate("a dog runs " * 1000, "Beam search", 2)
    assert f"first {MAX_CHARS:,}" in notes and f"first {MAX_SOURCE_TOKENS - 1}" in notes


def test_the_demo_draws_attention_maps_and_refuses_layers_it_does_not_have(tiny_translator):
    demo = TranslationDemo(OneModel(tiny_translator), [TRAINED])
    text = "The animal didn't cross the street because it was too tired."
    output, maps = tiny_translator.attention(text)
    assert len(maps.cross) == 2 and maps.cross[0].shape == (4, len(maps.target_tokens), len(maps.source_tokens))
    assert torch.allclose(maps.cross[1].sum(-1), torch.ones(4, len(maps.target_tokens)), atol=1e-4)
    for kind in ["Encoder self-attention (English -> English)", "cross"]:
        figure, translated, _ = demo.attention(text, "Greedy", 1, kind, "2", "average")
        assert figure.axes and translated == output
    with pytest.raises(InputError, match="Layer must be between 1 and 2"):
        demo.attention(text, "Greedy", 1, "cross", "5", "1")
    with pytest.raises(InputError, match="Unknown attention"):
        demo.attention(text, "Greedy", 1, "decoder self", "1", "1")


def tiny_marian(directory):
    """A Marian checkpoint made of nothing downloaded: a sentencepiece model trained on 600
    Multi30k sentences and a 1-layer MarianMT with random weights, saved like the real ones."""
    sentencepiece = pytest.importorskip("sentencepiece")
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    english, german = SENTENCES
    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(english[:300] + german[:300]), model_writer=proto, vocab_size=200,
        character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=2, pad_id=-1, minloglevel=2)
    for name in ("source.spm", "target.spm"):
        (directory / name).write_bytes(proto.getvalue())
    pieces = sentencepiece.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = {"</s>": 0, "<unk>": 1, "<pad>": 2}
    for i in range(pieces.get_piece_size()):
        vocab.setdefault(pieces.id_to_piece(i), len(vocab))
    (directory / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = MarianTokenizer(str(directory / "source.spm"), str(directory / "target.spm"),
                                str(directory / "vocab.json"), source_lang="en", target_lang="de")
    config = MarianConfig(vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                          decoder_ffn_dim=32, max_position_embeddings=64, pad_token_id=2, eos_token_id=0,
                          decoder_start_token_id=2)
    torch.manual_seed(0)
    MarianMTModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_a_marian_checkpoint_loads_from_a_local_directory_and_serves_the_demo(tmp_path, monkeypatch):
    import plugins.translation as plugin

    directory = tiny_marian(tmp_path)
    monkeypatch.setenv(plugin.PRETRAINED_ENV_VAR, str(directory))
    specs = plugin.model_specs()
    assert [s.name for s in specs] == [TRAINED, f"pretrained: {directory}"]
    marian = specs[1].load()
    demo = TranslationDemo(OneModel(marian), [s.name for s in specs])
    output, tokens, notes = demo.translate("A man sleeping 😀", "Beam search", 2, specs[1].name)
    assert isinstance(output, str) and "▁man" in tokens and "😀" in notes
    figure, translated, _ = demo.attention("A man sleeping.", "Greedy", 1, "cross", "1", "2", specs[1].name)
    assert translated == marian.translate(["A man sleeping."])[0]
    _, maps = marian.attention("A man sleeping.")
    assert maps.cross[0].shape == (2, len(maps.target_tokens), len(maps.source_tokens))
    assert maps.encoder[0].shape == (2, len(maps.source_tokens), len(maps.source_tokens))


def test_a_missing_pretrained_model_is_a_clear_error(tmp_path):
    from plugins.translation.pretrained import PretrainedTranslator

    with pytest.raises(OSError, match="neither a local model directory nor a model in the local"):
        PretrainedTranslator(str(tmp_path / "no-such-model"))


# ---- the shipped weights -------------------------------------------------------------------------

def test_shipped_weights_and_card():
    directory = weights.weights_dir("translation")
    config = weights.read_config(directory)
    assert weights.sha256_of(directory / "model.safetensors") == config["sha256"]
    assert (directory / "model.safetensors").stat().st_size < 10 * 2**20 and (directory / "tokenizer.json").is_file()
    card = (directory / "README.md").read_text()
    assert "python -m hub train translation" in card and f"{config['metrics']['beam']['bleu']:.2f}" in card
    assert config["metrics"]["split"] == "test_2016_flickr" and config["metrics"]["sentences"] == 1000
    assert config["metrics"]["beam"]["bleu"] >= 30                     # the bar


@pytest.mark.slow                # recomputes figures in a subprocess
def test_bleu_recomputed_on_a_test_subset_from_the_shipped_weights():
    result = evaluate_subset("translation", 200)
    assert result["sentences"] == 200 and result["split"] == "test_2016_flickr"
    assert result["beam"]["bleu"] >= 30 and result["greedy"]["bleu"] >= 28


def test_the_hub_serves_the_shipped_translator():
    action = plugin_actions("translation")
    german, tokens, notes = action("translation", "translate")(
        "A brown dog is running after the black dog.", "Beam search", 5, TRAINED)
    assert "Hund" in german and "▁dog" in tokens and notes == ""
    figure, translated, _ = action("translation", "attention")(
        "The animal didn't cross the street because it was too tired.", "Greedy", 1,
        "Decoder cross-attention (German step -> English token)", "average", "average", TRAINED)
    assert figure.axes and translated
    with pytest.raises(gr.Error, match="Type an English sentence"):
        action("translation", "translate")("  ", "Greedy", 1, TRAINED)
