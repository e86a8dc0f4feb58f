"""Text in, text out: the trained Transformer with its tokenizer, behind the interface the demo,
the evaluation and the benchmark use (a pretrained Hugging Face model offers the same one)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tokenizers import Tokenizer

from hub import HoldsModule

from .model import Transformer
from .tokenizer import BOS, EOS, PAD, unknown_characters

MAX_SOURCE_TOKENS = 120           # longer input is cut here, and the demo says so


def padded(rows: list[list[int]], pad_id: int) -> torch.Tensor:
    """Token id lists -> one [rows, longest] tensor, padded on the right."""
    out = torch.full((len(rows), max(map(len, rows))), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row)
    return out


@dataclass
class Attention:
    """What the demo draws: token strings and [layers][heads, queries, keys] weights."""
    source_tokens: list[str]
    target_tokens: list[str]
    encoder: list[torch.Tensor] = field(default_factory=list)    # source x source
    cross: list[torch.Tensor] = field(default_factory=list)      # target x source


class Translator(HoldsModule):
    name = "Transformer trained here (Multi30k en-de)"

    def __init__(self, model: Transformer, tokenizer: Tokenizer):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.eos_id = tokenizer.token_to_id(EOS)
        ids = {token: tokenizer.token_to_id(token) for token in (PAD, BOS, EOS)}
        if (ids[PAD], ids[BOS], ids[EOS]) != (model.pad_id, model.bos_id, model.eos_id):
            raise ValueError(f"tokenizer special ids {ids} do not match the model's")

    def source_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids[:MAX_SOURCE_TOKENS - 1] + [self.eos_id]

    def source_token_count(self, text: str) -> int:
        return len(self.tokenizer.encode(text).ids)

    def unknown_characters(self, text: str) -> list[str]:
        return unknown_characters(self.tokenizer, text)

    def batch(self, texts: list[str]) -> torch.Tensor:
        return padded([self.source_ids(t) for t in texts], self.model.pad_id).to(next(self.model.parameters()).device)

    def translate_ids(self, texts: list[str], beam: int = 1, alpha: float = 0.6, use_cache: bool = True) -> list[list[int]]:
        src = self.batch(texts)
        if beam <= 1:
            return self.model.greedy(src, use_cache=use_cache)
        return self.model.beam_search(src, beam, alpha, use_cache=use_cache)

    def translate(self, texts: list[str], beam: int = 1, alpha: float = 0.6, batch_size: int = 100,
                  use_cache: bool = True, progress=None) -> list[str]:
        """Translations of `texts`, greedy (beam 1) or by beam search; sentences are grouped by length."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = [""] * len(texts)
        starts = range(0, len(order), batch_size)
        for start in progress(starts) if progress else starts:
            group = order[start:start + batch_size]
            for i, ids in zip(group, self.translate_ids([texts[i] for i in group], beam, alpha, use_cache)):
                out[i] = self.tokenizer.decode(ids)
        return out

    def attention(self, text: str, beam: int = 1) -> tuple[str, Attention]:
        """The translation of one sentence and the attention maps of the model producing it."""
        src = self.batch([text])
        ids = self.translate_ids([text], beam)[0]
        tgt = torch.tensor([[self.model.bos_id, *ids]], device=src.device)
        maps = self.model.attention_maps(src, tgt)
        source_tokens = [self.tokenizer.id_to_token(i) for i in src[0].tolist()]
        target_tokens = [self.tokenizer.id_to_token(i) for i in ids] + [EOS]
        # the cross-attention rows are the decoder inputs <s> y1..yn, i.e. the steps that produced y1..yn </s>
        return self.tokenizer.decode(ids), Attention(source_tokens, target_tokens, maps["encoder"], maps["cross"])

    @torch.no_grad()
    def decoding_steps(self, text: str, top: int = 5) -> list[tuple[str, list[tuple[str, float]]]]:
        """Greedy decoding of one sentence, a step at a time: each step's chosen subword and its `top` most
        probable subwords with p(y_t | y_<t, x), the causal mask keeping every step from the words after it."""
        src = self.batch([text])
        memory, mask, _ = self.model.encode(src)
        tokens = torch.tensor([[self.model.bos_id]], device=src.device)
        steps = []
        for _ in range(self.model.length_limit(src, None)):
            probabilities = self.model.next_log_probs(tokens, memory, mask, None)[0].exp()
            best = probabilities.topk(top)
            steps.append((self.tokenizer.id_to_token(int(best.indices[0])),
                          [(self.tokenizer.id_to_token(int(i)), float(p)) for p, i in zip(best.values, best.indices)]))
            tokens = torch.cat([tokens, best.indices[:1][None]], 1)
            if int(best.indices[0]) == self.eos_id:
                break
        return steps

    def tokens(self, text: str) -> list[str]:
        return self.tokenizer.encode(text).tokens
