"""The encoder-decoder Transformer of "Attention Is All You Need" (Vaswani et al. 2017), built from
the hub's shared blocks (hub/attention.py): N encoder layers, N decoder layers, the last encoder
output feeding every decoder layer's cross-attention as its keys and values.

One joint English-German subword vocabulary, so the source embedding, the target embedding and the
pre-softmax projection share one weight matrix (section 3.4).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hub.kit import DecoderLayer, EncoderLayer, PositionalEncoding, causal_mask, keep_cache_rows, padding_mask, reorder_cache


class Transformer(nn.Module):
    def __init__(self, vocab_size: int, d_model: int = 256, heads: int = 4, layers: int = 3, d_ff: int = 1024,
                 dropout: float = 0.1, max_len: int = 256, pad_id: int = 0, bos_id: int = 1, eos_id: int = 2):
        super().__init__()
        self.pad_id, self.bos_id, self.eos_id, self.max_len = pad_id, bos_id, eos_id, max_len
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        nn.init.normal_(self.embedding.weight, std=d_model ** -0.5)
        self.positional = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = nn.ModuleList(EncoderLayer(d_model, heads, d_ff, dropout) for _ in range(layers))
        self.decoder = nn.ModuleList(DecoderLayer(d_model, heads, d_ff, dropout) for _ in range(layers))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(d_model), nn.LayerNorm(d_model)  # pre-norm stacks end in one

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(memory [b, s, d_model], source padding mask, self-attention weights of each layer)."""
        mask = padding_mask(src, self.pad_id)
        x, attentions = self.positional(self.embedding(src)), []
        for layer in self.encoder:
            x, weights = layer(x, mask)
            attentions.append(weights)
        return self.encoder_norm(x), mask, attentions

    def decode(self, tgt: torch.Tensor, memory, memory_mask, caches: list[dict] | None = None, start: int = 0,
               need_weights: bool = True):
        """Logits for every position of `tgt` (teacher forcing), or, with `caches`, for the new
        positions only, reusing the keys and values of positions before `start`.
        Returns (logits [b, t, vocab], self-attention weights per layer, cross-attention weights per layer;
        Nones without `need_weights`)."""
        self_mask = None if caches is not None else causal_mask(tgt.size(1), tgt.device) & padding_mask(tgt, self.pad_id)
        y, self_attentions, cross_attentions = self.positional(self.embedding(tgt), start), [], []
        for i, layer in enumerate(self.decoder):
            y, self_weights, cross_weights = layer(y, memory, self_mask, memory_mask,
                                                   caches[i] if caches is not None else None, need_weights)
            self_attentions.append(self_weights)
            cross_attentions.append(cross_weights)
        return self.decoder_norm(y) @ self.embedding.weight.T, self_attentions, cross_attentions

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, mask, _ = self.encode(src)
        return self.decode(tgt_in, memory, mask)[0]

    def next_log_probs(self, tokens, memory, memory_mask, caches: list[dict] | None) -> torch.Tensor:
        """log p(y_t | y_<t, x) [b, vocab] for the last position of `tokens` [b, t]: with the
        key/value cache only that position goes through the decoder, without it the whole prefix."""
        if caches is not None:
            logits = self.decode(tokens[:, -1:], memory, memory_mask, caches, start=tokens.size(1) - 1,
                                 need_weights=False)[0]
        else:
            logits = self.decode(tokens, memory, memory_mask, need_weights=False)[0]
        return F.log_softmax(logits[:, -1].float(), -1)

    def length_limit(self, src: torch.Tensor, max_len: int | None) -> int:
        """The maximum length guard: no translation of `src` may run past this many tokens."""
        return int(self.length_limits(src, max_len).max())

    def length_limits(self, src: torch.Tensor, max_len: int | None) -> torch.Tensor:
        """Each sentence's own guard [b]: `max_len`, or twice its length plus 10 tokens (its padding not
        counted, so that batching a sentence with longer ones never changes its translation)."""
        limits = torch.full((src.size(0),), max_len) if max_len else (src != self.pad_id).sum(1).cpu() * 2 + 10
        return limits.clamp(max=self.max_len - 1).to(src.device)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_len: int | None = None, use_cache: bool = True) -> list[list[int]]:
        """Pick the most probable token at each step; token ids without <s> and </s>."""
        memory, mask, _ = self.encode(src)
        tokens = torch.full((src.size(0), 1), self.bos_id, device=src.device)
        finished = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
        caches = [{} for _ in self.decoder] if use_cache else None
        limits = self.length_limits(src, max_len)
        for step in range(1, int(limits.max()) + 1):
            best = self.next_log_probs(tokens, memory, mask, caches).argmax(-1)
            best = best.masked_fill(finished, self.pad_id)
            tokens = torch.cat([tokens, best[:, None]], 1)
            finished |= (best == self.eos_id) | (limits <= step)
            if finished.all():
                break
        return [self.strip(row) for row in tokens.tolist()]

    @torch.no_grad()
    def beam_search(self, src: torch.Tensor, beam: int = 5, alpha: float = 0.6, max_len: int | None = None,
                    use_cache: bool = True) -> list[list[int]]:
        """Keep the `beam` most probable prefixes of each sentence; a finished hypothesis keeps its
        score; at the end pick the best by log p / lp with lp = ((5 + |y|) / 6)^alpha (Wu et al. 2016).
        A sentence whose hypotheses have all finished leaves the batch, so a batch costs what its
        sentences still need rather than its longest sentence's length times its size."""
        vocab = self.embedding.num_embeddings
        memory, mask, _ = self.encode(src)
        memory, mask = memory.repeat_interleave(beam, 0), mask.repeat_interleave(beam, 0)
        sentences = torch.arange(src.size(0), device=src.device)      # the input sentence of each row of scores
        tokens = torch.full((src.size(0) * beam, 1), self.bos_id, device=src.device)
        scores = torch.full((src.size(0), beam), float("-inf"), device=src.device)
        scores[:, 0] = 0                                      # all beams start equal: expand only the first
        finished = torch.zeros(src.size(0) * beam, dtype=torch.bool, device=src.device)
        caches = [{} for _ in self.decoder] if use_cache else None
        best: dict[int, list[int]] = {}
        limits = self.length_limits(src, max_len)             # a sentence at its limit ends unfinished
        for step in range(1, int(limits.max()) + 1):
            b = sentences.numel()
            log_probs = self.next_log_probs(tokens, memory, mask, caches)
            log_probs[finished] = float("-inf")
            log_probs[finished, self.pad_id] = 0              # a finished hypothesis only pads, at no cost
            candidates = (scores.view(-1, 1) + log_probs).view(b, beam * vocab)
            scores, index = candidates.topk(beam, -1)
            order = (torch.arange(b, device=src.device)[:, None] * beam + index // vocab).view(-1)
            new_tokens = (index % vocab).view(-1)
            tokens = torch.cat([tokens[order], new_tokens[:, None]], 1)
            finished = finished[order] | (new_tokens == self.eos_id)
            if caches is not None:
                reorder_cache(caches, order)
            done = finished.view(b, beam).all(1) | (limits[sentences] <= step)
            if done.any():
                best.update(self.best_hypotheses(sentences[done], tokens.view(b, beam, -1)[done], scores[done], alpha))
                if done.all():
                    break
                rows = (~done).repeat_interleave(beam)
                sentences, scores, tokens, finished = sentences[~done], scores[~done], tokens[rows], finished[rows]
                memory, mask = memory[rows], mask[rows]
                if caches is not None:
                    keep_cache_rows(caches, rows)
        return [best[i] for i in range(src.size(0))]

    def best_hypotheses(self, sentences: torch.Tensor, tokens: torch.Tensor, scores: torch.Tensor,
                        alpha: float) -> dict[int, list[int]]:
        """{sentence: its best hypothesis's ids} by log p / lp, from tokens [n, beam, t] and scores [n, beam]."""
        lengths = ((tokens != self.pad_id) & (tokens != self.bos_id)).sum(-1).float()
        best = (scores / ((5 + lengths) / 6) ** alpha).argmax(-1)
        rows = tokens[torch.arange(len(sentences), device=tokens.device), best]
        return {sentence: self.strip(row) for sentence, row in zip(sentences.tolist(), rows.tolist())}

    def strip(self, ids: list[int]) -> list[int]:
        out = []
        for token in ids[1:]:
            if token in (self.eos_id, self.pad_id):
                break
            out.append(token)
        return out

    @torch.no_grad()
    def attention_maps(self, src: torch.Tensor, output: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Attention weights of one teacher-forced pass over a translation: encoder self-attention
        and decoder cross-attention of each layer, [heads, queries, keys] each."""
        memory, mask, encoder = self.encode(src)
        _, _, cross = self.decode(output, memory, mask)
        return {"encoder": [w[0] for w in encoder], "cross": [w[0] for w in cross]}
