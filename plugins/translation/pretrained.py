"""A pretrained Hugging Face sequence-to-sequence checkpoint (MarianMT such as opus-mt-en-de, or
another encoder-decoder) behind the same interface as the Transformer trained here.

Chosen with the environment variable DEMO_HUB_TRANSLATION_MODEL: a local directory, or a model id
already in the local Hugging Face cache. Nothing is downloaded (local_files_only)."""
from __future__ import annotations

import torch

from hub import HoldsModule
from hub.kit import load_local

from .translator import MAX_SOURCE_TOKENS, Attention

class PretrainedTranslator(HoldsModule):
    def __init__(self, source: str):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.tokenizer = load_local(AutoTokenizer, source)
        # the eager implementation returns attention weights
        self.model = load_local(AutoModelForSeq2SeqLM, source, attn_implementation="eager").eval()
        self.name = f"Pretrained: {source}"

    def encode(self, texts: list[str]) -> dict:
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=MAX_SOURCE_TOKENS)
        return {k: v.to(self.model.device) for k, v in batch.items()}

    def source_token_count(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    def tokens(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text)

    def unknown_characters(self, text: str) -> list[str]:
        unk = self.tokenizer.unk_token_id
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if unk is None or unk not in ids:
            return []
        known = set(self.tokenizer.decode([i for i in ids if i != unk]))
        return list(dict.fromkeys(c for c in text if not c.isspace() and c not in known))

    @torch.no_grad()
    def generate(self, texts: list[str], beam: int, alpha: float = 0.6, use_cache: bool = True) -> torch.Tensor:
        batch = self.encode(texts)
        return self.model.generate(**batch, num_beams=max(beam, 1), do_sample=False, length_penalty=alpha,
                                   max_new_tokens=2 * batch["input_ids"].size(1) + 10, use_cache=use_cache)

    def translate(self, texts: list[str], beam: int = 1, alpha: float = 0.6, batch_size: int = 32,
                  use_cache: bool = True, progress=None) -> list[str]:
        starts = range(0, len(texts), batch_size)
        out = []
        for start in progress(starts) if progress else starts:
            ids = self.generate(texts[start:start + batch_size], beam, alpha, use_cache)
            out += self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return out

    @torch.no_grad()
    def attention(self, text: str, beam: int = 1) -> tuple[str, Attention]:
        batch = self.encode([text])
        output = self.generate([text], beam)
        result = self.model(**batch, decoder_input_ids=output[:, :-1], output_attentions=True)
        source = self.tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
        target = self.tokenizer.convert_ids_to_tokens(output[0, 1:].tolist())
        maps = Attention(source, target,
                         [w[0].float().cpu() for w in result.encoder_attentions or ()],
                         [w[0].float().cpu() for w in result.cross_attentions or ()])
        return self.tokenizer.decode(output[0], skip_special_tokens=True), maps
