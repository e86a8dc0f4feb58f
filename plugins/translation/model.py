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

from hub.kit import (DecoderLayer, EncoderLayer, PositionalEncoding, append_cache_rows, causal_mask, concat_padded,
                     keep_cache_rows, padding_mask, reorder_cache, trim_cache)


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

    def decode(self, tgt: torch.Tensor, memory, memory_mask, caches: list[dict] | None = None,
               start: int | torch.Tensor = 0, need_weights: bool = True, cache_mask: torch.Tensor | None = None):
        """Logits for every position of `tgt` (teacher forcing), or, with `caches`, for the new
        positions only, reusing the keys and values of positions before `start` (one for the batch, or
        one a row); `cache_mask` [b, cached + new keys]: which of them each row may see (default all).
        Returns (logits [b, t, vocab], self-attention weights per layer, cross-attention weights per layer;
        Nones without `need_weights`)."""
        if caches is not None:
            self_mask = None if cache_mask is None else cache_mask[:, None, None, :]
        else:
            self_mask = causal_mask(tgt.size(1), tgt.device) & padding_mask(tgt, self.pad_id)
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

    def next_log_probs(self, tokens, memory, memory_mask, caches: list[dict] | None,
                       positions: torch.Tensor | None = None, cache_mask: torch.Tensor | None = None) -> torch.Tensor:
        """log p(y_t | y_<t, x) [b, vocab] for the last position of `tokens` [b, t]: with the
        key/value cache only that position goes through the decoder (at `positions`, default t - 1, seeing
        the cached keys `cache_mask` allows), without it the whole prefix."""
        if caches is not None:
            start = tokens.size(1) - 1 if positions is None else positions
            logits = self.decode(tokens[:, -1:], memory, memory_mask, caches, start, False, cache_mask)[0]
        else:
            logits = self.decode(tokens, memory, memory_mask, need_weights=False)[0]
        return F.log_softmax(logits[:, -1].float(), -1)

    def length_limit(self, src: torch.Tensor, max_len: int | None) -> int:
        """The maximum length guard: no translation of `src` may run past this many tokens."""
        return int(self.length_limits(src, max_len).max())

    def length_limits(self, src: torch.Tensor, max_len: int | None) -> torch.Tensor:
        """Each sentence's own guard [b]: twice its length plus 10 tokens, or `max_len`; so that a sentence's
        translation never depends on the sentences batched with it."""
        limits = (src != self.pad_id).sum(1) * 2 + 10 if max_len is None else torch.full((src.size(0),), max_len)
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
        """The best translation of each row of `src` by beam search (`BeamSearch`), all started together."""
        search = BeamSearch(self, beam, alpha, max_len, use_cache)
        search.join(src, list(range(src.size(0))))
        best: dict = {}
        while len(search):
            best.update(search.step())
        return [best[i] for i in range(src.size(0))]

    def best_hypotheses(self, sentences: torch.Tensor, tokens: torch.Tensor, scores: torch.Tensor,
                        alpha: float) -> dict[int, list[int]]:
        """{sentence: its best hypothesis's ids} by log p / lp, from tokens [n, beam, t] and scores [n, beam]."""
        lengths = ((tokens != self.pad_id) & (tokens != self.bos_id)).sum(-1).float()
        best = (scores / ((5 + lengths) / 6) ** alpha).argmax(-1)
        rows = tokens[torch.arange(len(sentences), device=tokens.device), best]
        return {sentence: self.strip(row) for sentence, row in zip(sentences.tolist(), rows.tolist())}

    def strip(self, ids: list[int]) -> list[int]:
        """The ids after <s> (and any padding before it), up to </s>."""
        out = []
        for token in ids[ids.index(self.bos_id) + 1:]:
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


class BeamSearch:
    """Beam search over a changing batch: keep the `beam` most probable prefixes of each sentence; a finished
    hypothesis keeps its score; at the end pick the best by log p / lp with lp = ((5 + |y|) / 6)^alpha
    (Wu et al. 2016).

    Sentences may join between steps and leave as soon as all their hypotheses have finished (or reached their
    length limit), as in iteration-level scheduling (Yu et al. 2022, "Orca"): a server keeps decoding while
    requests come and go instead of waiting for a whole batch to end. A sentence that joins starts at position 0
    while the others go on; it sees none of the self-attention keys cached before it came (`cache_mask`).
    Rows: sentence i owns rows i * beam .. (i + 1) * beam - 1."""

    def __init__(self, model: Transformer, beam: int = 5, alpha: float = 0.6, max_len: int | None = None,
                 use_cache: bool = True):
        self.model, self.beam, self.alpha, self.max_len = model, beam, alpha, max_len
        device = model.embedding.weight.device
        self.tickets: list = []                                  # the caller's name for each sentence
        self.limits = torch.zeros(0, dtype=torch.long, device=device)    # tokens each sentence may reach
        self.steps = torch.zeros(0, dtype=torch.long, device=device)     # tokens each sentence has
        self.scores = torch.zeros(0, beam, device=device)       # log p of each hypothesis
        self.tokens = torch.zeros(0, 0, dtype=torch.long, device=device)   # rows, left-padded
        self.finished = torch.zeros(0, dtype=torch.bool, device=device)
        self.memory = self.memory_mask = None
        self.caches = [{} for _ in model.decoder] if use_cache else None
        self.cache_mask = torch.zeros(0, 0, dtype=torch.bool, device=device)  # which cached keys a row may see

    def __len__(self) -> int:
        return len(self.tickets)

    @torch.no_grad()
    def join(self, src: torch.Tensor, tickets: list) -> None:
        """Start the sentences `src` [n, s] (padded token ids), named by `tickets`, at the next step."""
        if self.caches is None and self.tokens.size(1):
            raise ValueError("without the key/value cache, sentences can only start together")
        model, n, beam = self.model, src.size(0), self.beam
        memory, mask, _ = model.encode(src)
        memory, mask = memory.repeat_interleave(beam, 0), mask.repeat_interleave(beam, 0)
        if self.caches is not None:
            append_cache_rows(self.caches, [layer.new_cache(memory) for layer in model.decoder])
        self.memory = memory if self.memory is None else concat_padded(self.memory, memory, 1)
        self.memory_mask = mask if self.memory_mask is None else concat_padded(self.memory_mask, mask, 3)
        limits = model.length_limits(src, self.max_len)
        self.limits = torch.cat([self.limits, limits])
        self.steps = torch.cat([self.steps, torch.zeros_like(limits)])
        scores = torch.full((n, beam), float("-inf"), device=src.device)
        scores[:, 0] = 0                                      # all beams start equal: expand only the first
        self.scores = torch.cat([self.scores, scores])
        width = max(self.tokens.size(1), 1)                   # one column more than the cache: <s> and each step's
        start = torch.full((n * beam, 1), model.bos_id, device=src.device)
        self.tokens = torch.cat([pad_left(self.tokens, width - self.tokens.size(1), model.pad_id),
                                 pad_left(start, width - 1, model.pad_id)])
        self.finished = torch.cat([self.finished, torch.zeros(n * beam, dtype=torch.bool, device=src.device)])
        cached = self.cache_mask.size(1)
        self.cache_mask = torch.cat([self.cache_mask, torch.zeros(n * beam, cached, dtype=torch.bool, device=src.device)])
        self.tickets += tickets

    @torch.no_grad()
    def step(self) -> dict:
        """One token for every hypothesis; {ticket: best hypothesis's ids} of the sentences that ended."""
        model, beam, b = self.model, self.beam, len(self)
        vocab = model.embedding.num_embeddings
        if self.caches is not None:
            self.cache_mask = torch.cat([self.cache_mask, self.cache_mask.new_ones(b * beam, 1)], 1)
            log_probs = model.next_log_probs(self.tokens, self.memory, self.memory_mask, self.caches,
                                             self.steps.repeat_interleave(beam), self.cache_mask)
        else:
            log_probs = model.next_log_probs(self.tokens, self.memory, self.memory_mask, None)
        log_probs[self.finished] = float("-inf")
        log_probs[self.finished, model.pad_id] = 0            # a finished hypothesis only pads, at no cost
        candidates = (self.scores.view(-1, 1) + log_probs).view(b, beam * vocab)
        self.scores, index = candidates.topk(beam, -1)
        order = (torch.arange(b, device=index.device)[:, None] * beam + index // vocab).view(-1)
        new_tokens = (index % vocab).view(-1)
        self.tokens = torch.cat([self.tokens[order], new_tokens[:, None]], 1)
        self.finished = self.finished[order] | (new_tokens == model.eos_id)
        if self.caches is not None:
            reorder_cache(self.caches, order)             # a row's cache mask is its sentence's: no reordering
        self.steps += 1
        done = self.finished.view(b, beam).all(1) | (self.steps >= self.limits)
        return self.leave(done) if done.any() else {}

    def leave(self, done: torch.Tensor) -> dict:
        """Take the sentences `done` [b] out of the batch; their best hypotheses by ticket."""
        b, beam = len(self), self.beam
        tickets = [t for t, d in zip(self.tickets, done.tolist()) if d]
        ended = self.model.best_hypotheses(torch.arange(len(tickets)), self.tokens.view(b, beam, -1)[done],
                                           self.scores[done], self.alpha)
        keep, rows = ~done, (~done).repeat_interleave(beam)
        self.tickets = [t for t, d in zip(self.tickets, done.tolist()) if not d]
        self.limits, self.steps, self.scores = self.limits[keep], self.steps[keep], self.scores[keep]
        self.tokens, self.finished = self.tokens[rows], self.finished[rows]
        self.memory, self.memory_mask, self.cache_mask = self.memory[rows], self.memory_mask[rows], self.cache_mask[rows]
        if self.caches is not None:
            keep_cache_rows(self.caches, rows)
            self.trim()
        return {ticket: ended[i] for i, ticket in enumerate(tickets)}

    def trim(self) -> None:
        """Drop the columns no remaining row uses: cached steps from before the oldest sentence came, source
        padding past the longest remaining sentence."""
        seen = self.cache_mask.any(0).nonzero()
        first = int(seen[0]) if len(seen) else self.cache_mask.size(1)
        source = int(self.memory_mask.flatten(1).any(0).nonzero().max()) + 1 if len(self) else 0
        trim_cache(self.caches, first, source)
        self.cache_mask = self.cache_mask[:, first:]
        self.memory, self.memory_mask = self.memory[:, :source], self.memory_mask[..., :source]
        self.tokens = self.tokens[:, first:]


def pad_left(rows: torch.Tensor, columns: int, value: int) -> torch.Tensor:
    return torch.cat([rows.new_full((rows.size(0), columns), value), rows], 1)

