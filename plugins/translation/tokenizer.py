"""A joint English-German subword vocabulary: byte-pair encoding (Sennrich et al. 2016) learned with
Hugging Face `tokenizers` on the training sentences of both languages, shipped as tokenizer.json
beside the weights. Words keep a leading "▁" for the space before them, so decoding restores the
original spacing and the output is detokenized text, as sacreBLEU expects."""
from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = [PAD, BOS, EOS, UNK]
FILE = "tokenizer.json"


def train_bpe(sentences: list[str], vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(sentences, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                                                 show_progress=False))
    return tokenizer


def load(directory: Path) -> Tokenizer:
    return Tokenizer.from_file(str(Path(directory) / FILE))


def unknown_characters(tokenizer: Tokenizer, text: str) -> list[str]:
    """The characters of `text` that the vocabulary cannot spell (they become <unk>)."""
    encoding = tokenizer.encode(text)
    unk = tokenizer.token_to_id(UNK)
    found = []
    for token_id, (start, end) in zip(encoding.ids, encoding.offsets):
        if token_id == unk:
            found.extend(c for c in text[start:end] if not c.isspace() and c not in found)
    return found
