"""Captions of MNIST digits and the checks of images against them (`hub.kit.captions`), shared by the
small DALL-E and the text-to-image GAN: measured properties, the tokenizer and its refusals, and the
figures both models are judged by."""
import numpy as np
import pytest

from hub import InputError
from hub.kit.captions import (MAX_WORDS, CaptionTokenizer, caption_figures, compose_caption, diversity,
                              random_caption, word_checks)
from hub.kit.strokes import measure, slant_word, thickness_word


def bar(width: int, shear: float = 0.0) -> np.ndarray:
    """A vertical stroke of `width` pixels, rows 4-23, its top moved right by `shear` columns a row."""
    image = np.zeros((28, 28), np.float32)
    for row in range(4, 24):
        left = round(12 + shear * (14 - row))
        image[row, left:left + width] = 1
    return image


def test_thickness_is_the_stroke_width_in_pixels():
    thickness, _ = measure(np.stack([bar(1), bar(2), bar(4)]))
    assert np.allclose(thickness, [20 / 21, 40 / 22, 80 / 24])       # 2 area / edges: w*l / (l + w)
    assert [thickness_word(t) for t in thickness] == ["thin", None, "thick"]


def test_slant_is_the_ink_shear_and_its_sign_says_which_way():
    _, slant = measure(np.stack([bar(2, 0.0), bar(2, 0.5), bar(2, -0.5)]))
    assert abs(slant[0]) < 0.01 and slant[1] == pytest.approx(0.5, abs=0.05) and slant[2] == pytest.approx(-0.5, abs=0.05)
    assert [slant_word(s) for s in slant] == ["upright", "right", "left"]


def test_captions_name_the_digit_and_only_measured_properties():
    rng = np.random.default_rng(0)
    captions = [random_caption(8, 2.8, 0.5, rng) for _ in range(200)]
    tokenizer = CaptionTokenizer()
    reads = [tokenizer.read(c) for c in captions]
    assert all(r.digit == 8 and r.thickness in (None, "thick") and r.slant in (None, "right") for r in reads)
    assert {r.thickness for r in reads} == {None, "thick"} and {r.slant for r in reads} == {None, "right"}
    assert any(c.startswith("an ") for c in captions) and not any(" a eight" in c or c.startswith("a 8") for c in captions)
    assert max(len(r.ids) for r in reads) <= MAX_WORDS
    in_between = [tokenizer.read(random_caption(3, 2.0, 0.2, rng)) for _ in range(50)]
    assert all(r.thickness is None and r.slant is None for r in in_between)   # no word for a middle value


def test_the_tokenizer_reads_words_and_numerals_and_reports_unknown_words():
    tokenizer = CaptionTokenizer()
    read = tokenizer.read("A THICK 7, slanted to the right, please!")
    assert (read.digit, read.thickness, read.slant) == (7, "thick", "right")
    assert read.unknown == ["please"] and "please" not in read.words
    assert tokenizer.read("seven").ids != tokenizer.read("7").ids and tokenizer.read("seven").digit == 7
    assert len(tokenizer.encode("a thin two")) == MAX_WORDS


@pytest.mark.parametrize("caption, message", [
    ("", "empty"), ("   ", "empty"), (None, "empty"),
    ("a purple elephant", "names no digit or property.*purple, elephant.*Words it knows: .*seven"),
    ("the digit", "names no digit or property"),
    ("x" * 600, "characters"),
    ("a thick thin seven slanted to the left leaning right upright", "at most 8"),
    ("a seven and a three", "several digits"),
])
def test_bad_captions_get_a_clear_message(caption, message):
    with pytest.raises(InputError, match=message):
        CaptionTokenizer().read(caption)


def test_a_composed_caption_names_exactly_the_words_given():
    rng, tokenizer = np.random.default_rng(0), CaptionTokenizer()
    for thickness, slant in [("thin", None), (None, "upright"), ("thick", "left"), (None, None)]:
        read = tokenizer.read(compose_caption(4, thickness, slant, rng, False, every_word=True))
        assert (read.digit, read.thickness, read.slant) == (4, thickness, slant)


def test_word_checks_hold_where_the_measurement_is_in_the_band():
    checks = word_checks((np.array([1.0, 3.0]), np.array([0.0, 0.5])), "thick", "upright")
    assert checks["thick"].tolist() == [False, True] and checks["upright"].tolist() == [True, False]
    assert word_checks((np.array([1.0]), np.array([0.0])), None, None) == {}


def test_diversity_is_zero_for_copies_and_the_rms_distance_for_a_pair():
    a, b = np.zeros((28, 28)), np.zeros((28, 28))
    b[:14] = 1                                                      # half the pixels differ by 1
    assert diversity(np.stack([np.stack([a, a, a])])) == 0
    assert diversity(np.stack([np.stack([a, b])])) == pytest.approx(np.sqrt(0.5))


@pytest.fixture(scope="module")
def test_digits():
    from hub.kit import data

    x, y = data.mnist("test")
    return data.spread_subset(x, 100), data.spread_subset(y, 100)


def test_caption_figures_reward_a_model_that_draws_what_the_caption_says(test_digits):
    """A cheat that returns the very digit each caption was written from matches nearly every word;
    one that returns a blank image matches none."""
    x, y = test_digits
    faithful = caption_figures(lambda texts, per: np.repeat(x[:, None] / 255.0, per, 1), x, y, per=2)
    blank = caption_figures(lambda texts, per: np.zeros((len(texts), per, 28, 28)), x, y, per=2)
    assert faithful["digit_match"] >= 0.97 and blank["digit_match"] <= 0.2
    assert faithful["word_agreement_gain_min"] >= 0.5 and faithful["diversity"] == 0     # copies of one digit
    assert all(faithful["word_agreement"][w] == 1.0 for w in faithful["word_agreement"])
    assert faithful["fld"] < blank["fld"]
    assert set(faithful["base_rate"]) == {"thin", "thick", "left", "upright", "right"}
    assert faithful["diversity_real_same_digit"] > 0.2
