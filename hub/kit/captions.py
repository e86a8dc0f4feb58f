"""Captions of MNIST digits: the label plus two properties measured on the image itself (stroke
thickness and slant, `hub.kit.strokes`), so that a generated image can be checked against the words it
was asked for; and that check, shared by every demo that draws digits from a caption (the small DALL-E,
the text-to-image GAN), so that their figures are measured by one piece of code:

- digit match: the share of samples the hub's evaluator reads as the captioned digit;
- word agreement: for each thickness or slant word, the share of samples captioned with it whose
  measurement falls in its band, beside the word's base rate (the share of the real test digits in the
  band: what a model that ignored the word would score);
- FLD of all samples to the test digits, and diversity: the mean pairwise distance among the samples of
  one caption (root mean square over pixels in [0, 1]), beside the same figure for real test digits
  of one label.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import InputError
from . import strokes

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SLANT_PHRASES = {"left": ["slanted to the left", "leaning left"], "right": ["slanted to the right", "leaning right"],
                 "upright": ["upright", "standing upright"]}
TEMPLATES = ["{digit}", "a {thickness} {digit}", "a {digit} {slant}", "a {thickness} {digit} {slant}",
             "{thickness} {digit}, {slant}"]
FILLERS = ["a", "an", "the", "digit", "to", "standing", "slanted", "leaning"]
EXAMPLE_CAPTIONS = ["a thick seven slanted to the right", "a thin 3", "an upright four", "zero", "a thin two leaning left",
                    "thick 8, standing upright", "a digit slanted to the right"]
MAX_WORDS = 8                    # caption positions the transformer reads
MAX_CHARACTERS = 500


WORD_BANDS = ("thin", "thick", "left", "upright", "right")


def random_caption(digit: int, thickness: float, slant: float, rng: np.random.Generator) -> str:
    """One of the templates, filled with what was measured; properties left out at random, so that a
    caption may name only the digit (the model then draws any thickness and slant)."""
    as_word = rng.random() < 0.5
    thickness_word = strokes.thickness_word(thickness) if rng.random() < 0.7 else None
    slant_word = strokes.slant_word(slant) if rng.random() < 0.7 else None
    return compose_caption(digit, thickness_word, slant_word, rng, as_word)


def compose_caption(digit: int, thickness: str | None, slant: str | None, rng: np.random.Generator,
                    as_word: bool = True, every_word: bool = False) -> str:
    """A caption naming `digit` (as a word or a numeral) and the given thickness and slant words (None:
    left out), in one of the templates that fits them (which may leave a given word out, unless
    `every_word`), the slant in one of its phrasings."""
    words = {"digit": DIGIT_WORDS[digit] if as_word else str(digit), "thickness": thickness, "slant": slant}
    if words["slant"]:
        words["slant"] = SLANT_PHRASES[words["slant"]][rng.integers(2)]
    given = {k for k, v in words.items() if v}
    usable = [t for t in TEMPLATES if set(re.findall(r"{(\w+)}", t)) <= given
              and not (every_word and set(re.findall(r"{(\w+)}", t)) != given)]
    caption = usable[rng.integers(len(usable))].format(**words)
    return re.sub(r"\ba (?=[aeiou8])", "an ", caption)


def vocabulary() -> list[str]:
    words = DIGIT_WORDS + [str(d) for d in range(10)] + ["thin", "thick", "left", "right", "upright"] + FILLERS
    return ["<pad>", "<image>"] + sorted(set(words))


@dataclass
class ReadCaption:
    """What the model reads of a caption: token ids, the words kept, those it does not know, and the
    digit and properties it names (for checking the images against the words)."""
    ids: list[int]
    words: list[str]
    unknown: list[str]
    digit: int | None
    thickness: str | None
    slant: str | None


def shown_symbol(token: str) -> str:
    """A word as it is; a symbol that is not a letter or a digit (an emoji, a control character) by its
    code point, so that a message can name it."""
    return token if token.isalnum() else f"U+{ord(token):04X}"


class CaptionTokenizer:
    """Word-level: lower-case words and single digits; unknown words are reported and left out."""

    def __init__(self):
        self.words = vocabulary()
        self.index = {w: i for i, w in enumerate(self.words)}
        self.pad, self.image_start = self.index["<pad>"], self.index["<image>"]

    def __len__(self) -> int:
        return len(self.words)

    def known_words(self) -> str:
        return ", ".join(w for w in self.words if not w.startswith("<"))

    def read(self, caption: str) -> ReadCaption:
        caption = "" if caption is None else str(caption)
        if not caption.strip():
            raise InputError("The caption is empty: describe a digit, for example 'a thick seven slanted to the right'.")
        if len(caption) > MAX_CHARACTERS:
            raise InputError(f"The caption has {len(caption):,} characters; keep it under {MAX_CHARACTERS}, "
                             f"the model reads at most {MAX_WORDS} words.")
        tokens = re.findall(r"[^\W\d_]+|\d|[^\w\s.,;:!?'\"()-]", caption.lower())
        known = [t for t in tokens if t in self.index]
        unknown = list(dict.fromkeys(shown_symbol(t) for t in tokens if t not in self.index))
        if not set(known) - set(FILLERS) - {"digit"}:
            what = ", ".join(unknown) or repr(caption.strip())
            raise InputError(f"The caption names no digit or property the model knows ({what}). "
                             f"Words it knows: {self.known_words()}.")
        if len(known) > MAX_WORDS:
            raise InputError(f"The caption has {len(known)} words the model knows; it reads at most {MAX_WORDS}.")
        digits = sorted({DIGIT_WORDS.index(w) if w in DIGIT_WORDS else int(w)
                         for w in known if w in DIGIT_WORDS or w.isdigit()})
        if len(digits) > 1:
            raise InputError(f"The caption names several digits ({', '.join(map(str, digits))}); name one.")
        said = set(known)
        thickness = next((w for w in ("thin", "thick") if w in said), None)
        slant = next((w for w in ("left", "right", "upright") if w in said), None)
        return ReadCaption([self.index[w] for w in known], known, unknown, digits[0] if digits else None,
                           thickness, slant)

    def encode(self, caption: str) -> list[int]:
        """The known words' ids, padded to MAX_WORDS."""
        ids = self.read(caption).ids
        return ids + [self.pad] * (MAX_WORDS - len(ids))


def captions_of(images: np.ndarray, labels: np.ndarray, seed: int) -> list[str]:
    """A random caption of each image, from its label and its measured thickness and slant."""
    thickness, slant = strokes.measure(images)
    rng = np.random.default_rng(seed)
    return [random_caption(int(d), float(t), float(s), rng) for d, t, s in zip(labels, thickness, slant)]


def word_checks(measured: tuple[np.ndarray, np.ndarray], thickness: str | None,
                slant: str | None) -> dict[str, np.ndarray]:
    """For each property word a caption names, whether each image's measurement (`strokes.measure`)
    falls in that word's band."""
    checks = {}
    if thickness:
        checks[thickness] = np.array([strokes.thickness_word(t) == thickness for t in measured[0]])
    if slant:
        checks[slant] = np.array([strokes.slant_word(s) == slant for s in measured[1]])
    return checks


def words_met(checks: dict[str, np.ndarray], count: int) -> np.ndarray:
    """How many of the named words (`word_checks`) each of `count` images meets."""
    return sum(checks.values(), np.zeros(count))


def check_images(images: np.ndarray, read: ReadCaption) -> dict[str, np.ndarray | int]:
    """What a viewer checks of each image [n, 28, 28] drawn for a caption (`CaptionTokenizer.read`): the
    evaluator's probabilities [n, 10], the measured thickness and slant, and how many of the `named`
    property words each image's measurements `met`."""
    from . import evaluator

    _, probabilities = evaluator.outputs(evaluator.load(), images)
    thickness, slant = strokes.measure(images)
    checks = word_checks((thickness, slant), read.thickness, read.slant)
    return {"probabilities": probabilities, "thickness": thickness, "slant": slant,
            "met": words_met(checks, len(images)), "named": len(checks)}


CHECK_COLUMNS = ["evaluator reads", "p(named digit)", "thickness (px)", "slant", "properties met"]


def check_row(checked: dict, i: int, read: ReadCaption) -> list:
    """Image i's row under CHECK_COLUMNS."""
    probabilities = checked["probabilities"][i]
    p_named = probabilities[read.digit] if read.digit is not None else probabilities.max()
    thickness, slant = checked["thickness"][i], checked["slant"][i]
    return [int(probabilities.argmax()), round(float(p_named), 3),
            f"{thickness:.2f} ({strokes.thickness_word(thickness) or 'medium'})",
            f"{slant:+.2f} ({strokes.slant_word(slant) or 'between bands'})",
            f"{int(checked['met'][i])} of {checked['named']}"]


def reading_note(read: ReadCaption, known_words: str) -> str:
    """What the model read of a caption, what it will be checked for, and the words it left out."""
    note = f"The model read: **{' '.join(read.words)}**"
    named = [w for w in (read.digit, read.thickness, read.slant) if w is not None]
    note += f" (it will be checked for: {', '.join(map(str, named))})." if named else "."
    if read.digit is None:
        note += " No digit named: the model draws any digit."
    if read.unknown:
        note += f"\n\nWords the model does not know, left out: *{', '.join(read.unknown)}*. It knows: {known_words}."
    return note


def base_rates(images: np.ndarray) -> dict[str, float]:
    """The share of `images` whose measurement falls in each word's band."""
    thickness, slant = strokes.measure(images)
    words = [strokes.thickness_word(t) for t in thickness] + [strokes.slant_word(s) for s in slant]
    return {w: round(float(words.count(w) / len(images)), 4) for w in WORD_BANDS}


def diversity(samples: np.ndarray) -> float:
    """Mean pairwise distance among the images of each group, [groups, n, 28, 28] in [0, 1]: the root
    mean square pixel difference of each pair, averaged over pairs and groups."""
    x = np.asarray(samples, np.float64).reshape(len(samples), samples.shape[1], -1)
    squared = (x ** 2).sum(2)
    distances = squared[:, :, None] + squared[:, None, :] - 2 * np.einsum("gip,gjp->gij", x, x)
    distances = np.sqrt(np.maximum(distances, 0) / x.shape[2])
    n = x.shape[1]
    return float(distances.sum((1, 2)).mean() / (n * (n - 1)))


def real_diversity(images: np.ndarray, labels: np.ndarray, per: int, seed: int = 0) -> float:
    """`diversity` of real digits: groups of `per` test digits of one label (a group per 100 digits)."""
    rng = np.random.default_rng(seed)
    digits = [d for d in range(10) if (labels == d).sum() >= per]
    groups = [images[rng.choice(np.flatnonzero(labels == d), per, replace=False)]
              for d in rng.choice(digits, max(len(images) // 100, 10))]
    return diversity(np.stack(groups).astype(np.float32) / (255.0 if images.max() > 1 else 1.0))


def caption_figures(draw: Callable[[list[str], int], np.ndarray], images: np.ndarray, labels: np.ndarray,
                    per: int, seed: int = 2, reference: np.ndarray | None = None) -> dict:
    """The figures of a caption-to-image model: `draw(captions, per)` -> [len(captions), per, 28, 28] in
    [0, 1] is asked for `per` samples of a caption of each of the real `images` (with their `labels`; the
    captions come from `captions_of(images, labels, seed)`), and the samples are checked against their
    captions' words and compared with the real images (see the module's docstring). The FLD is to the test
    split, or to the evaluator's `reference` features (held-apart digits, to choose a checkpoint)."""
    from . import evaluator

    captions, tokenizer = captions_of(images, labels, seed), CaptionTokenizer()
    samples = draw(captions, per)
    features, probabilities = evaluator.outputs(evaluator.load(), samples.reshape(-1, 28, 28))
    read_digits = probabilities.argmax(1).reshape(len(captions), per)
    thickness, slant = (m.reshape(len(captions), per) for m in strokes.measure(samples))
    match, agreement = [], {w: [] for w in WORD_BANDS}
    for caption, reads, t, s in zip(captions, read_digits, thickness, slant):
        read = tokenizer.read(caption)
        match.extend(reads == read.digit)
        for word, holds in word_checks((t, s), read.thickness, read.slant).items():
            agreement[word].extend(holds)
    rates = base_rates(images)
    agreed = {w: round(float(np.mean(v)), 4) for w, v in agreement.items() if v}
    return {"captions": len(captions), "samples_per_caption": per, "digit_match": round(float(np.mean(match)), 4),
            "word_agreement": agreed, "base_rate": rates,
            "word_agreement_gain_min": round(min(agreed[w] - rates[w] for w in agreed), 4),
            "word_samples": {w: len(v) for w, v in agreement.items() if v},
            "fld": round(evaluator.frechet_distance(
                features, evaluator.real_test_features() if reference is None else reference), 3),
            "diversity": round(diversity(samples), 4),
            "diversity_real_same_digit": round(real_diversity(images, labels, per), 4)}


def caption_thumbnail(ctx) -> np.ndarray:
    """The gallery's picture of a text-to-image demo (`DemoSpec.thumbnail`): the example captions, each
    drawn once from seed 0 by its `caption_sample`, in a 4 x 4 grid."""
    import torch

    from .display import tile

    demo = ctx.demo
    with ctx.models.use(demo.models[0].name) as model:
        images = demo.caption_sample(model, (EXAMPLE_CAPTIONS * 16)[:16], torch.Generator().manual_seed(0))
    return tile(np.asarray(images), 4)
