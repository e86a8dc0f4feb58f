"""Captions of MNIST digits: the label plus two properties measured on the image itself (stroke
thickness and slant, `hub.kit.strokes`), so that a generated image can be checked against the words it
was asked for. The model card gives the share of test digits in each band.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from hub import InputError
from hub.kit import strokes

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SLANT_PHRASES = {"left": ["slanted to the left", "leaning left"], "right": ["slanted to the right", "leaning right"],
                 "upright": ["upright", "standing upright"]}
TEMPLATES = ["{digit}", "a {thickness} {digit}", "a {digit} {slant}", "a {thickness} {digit} {slant}",
             "{thickness} {digit}, {slant}"]
FILLERS = ["a", "an", "the", "digit", "to", "standing", "slanted", "leaning"]
MAX_WORDS = 8                    # caption positions the transformer reads
MAX_CHARACTERS = 500


def random_caption(digit: int, thickness: float, slant: float, rng: np.random.Generator) -> str:
    """One of the templates, filled with what was measured; properties left out at random, so that a
    caption may name only the digit (the model then draws any thickness and slant)."""
    words = {"digit": DIGIT_WORDS[digit] if rng.random() < 0.5 else str(digit),
             "thickness": strokes.thickness_word(thickness) if rng.random() < 0.7 else None,
             "slant": strokes.slant_word(slant) if rng.random() < 0.7 else None}
    if words["slant"]:
        words["slant"] = SLANT_PHRASES[words["slant"]][rng.integers(2)]
    usable = [t for t in TEMPLATES if all(words[k] for k in re.findall(r"{(\w+)}", t))]
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
        tokens = re.findall(r"[a-z]+|\d", caption.lower())
        known, unknown = [t for t in tokens if t in self.index], [t for t in tokens if t not in self.index]
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
