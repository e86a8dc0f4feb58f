"""Training and evaluation of the English-German Transformer on Multi30k.

Train on `train` (29,000 pairs); after each epoch translate `val` greedily and keep the epoch with
the best BLEU; report on `test_2016_flickr` once, greedy and with beam search. BLEU and chrF are
sacreBLEU's defaults (13a tokenization) on detokenized output.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import sacrebleu
import torch
import torch.nn.functional as F
from tqdm import tqdm

from hub.kit import cards, data, parameter_count, training

from .tokenizer import BOS, EOS, FILE, PAD, train_bpe
from .model import Transformer
from .translator import Translator, padded

DEFAULTS = dict(vocab_size=6000, d_model=192, heads=4, layers=3, d_ff=768, dropout=0.1, batch_tokens=2500,
                lr=1e-3, warmup_steps=800, epochs=15, label_smoothing=0.1, clip_norm=1.0, beam=5, alpha=0.6,
                max_minutes=75, threads=2, seed=0)
TEST_SPLIT = "test_2016_flickr"
MODEL_KEYS = ("d_model", "heads", "layers", "d_ff", "dropout")


def scores(hypotheses: list[str], references: list[str]) -> dict:
    return {"bleu": round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2),
            "chrf": round(sacrebleu.corpus_chrf(hypotheses, [references]).score, 2)}


def evaluate_translator(translator, split: str = TEST_SPLIT, limit: int | None = None, beam: int = 5,
                        alpha: float = 0.6) -> dict:
    """BLEU and chrF of greedy decoding and of beam search on `split` (`limit` pairs spread over it)."""
    english, german = (data.spread_subset(side, limit) for side in data.multi30k(split))
    result = {"split": split, "sentences": len(english)}
    for method, width in (("greedy", 1), ("beam", beam)):
        started = time.time()
        output = translator.translate(english, beam=width, alpha=alpha)
        result[method] = {**scores(output, german), "seconds": round(time.time() - started, 1)}
    result["beam_size"], result["length_penalty_alpha"] = beam, alpha
    return result


def evaluate(model, limit: int | None = None) -> dict:
    """The trained Transformer's figures; `model` is the lazy handle when a pretrained checkpoint was
    added beside it (its first model is the one trained here)."""
    if hasattr(model, "use"):
        with model.use() as translator:
            return evaluate_translator(translator, limit=limit)
    return evaluate_translator(model, limit=limit)


def encode_pairs(tokenizer, english: list[str], german: list[str]) -> list[tuple[list[int], list[int]]]:
    """(source ids + </s>, <s> + target ids + </s>) for each pair."""
    bos, eos = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
    sources, targets = tokenizer.encode_batch(english), tokenizer.encode_batch(german)
    return [(s.ids + [eos], [bos] + t.ids + [eos]) for s, t in zip(sources, targets)]


def token_batches(pairs, batch_tokens: int, generator: torch.Generator) -> list[list[int]]:
    """Index lists of pairs of similar length, each at most `batch_tokens` padded tokens per side,
    in random order."""
    noise = torch.rand(len(pairs), generator=generator).tolist()
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]) + noise[i], len(pairs[i][1])))
    out, current, longest = [], [], 0
    for i in order:
        longest_if_added = max(longest, len(pairs[i][0]), len(pairs[i][1]))
        if current and longest_if_added * (len(current) + 1) > batch_tokens:
            out.append(current)
            current, longest_if_added = [], max(len(pairs[i][0]), len(pairs[i][1]))
        current.append(i)
        longest = longest_if_added
    out.append(current)
    return [out[i] for i in torch.randperm(len(out), generator=generator).tolist()]


def learning_rate(step: int, total: int, cfg: dict) -> float:
    """Linear warm-up (as in the paper, section 5.3), then a cosine decay to zero over the planned steps."""
    if step < cfg["warmup_steps"]:
        return cfg["lr"] * (step + 1) / cfg["warmup_steps"]
    progress = (step - cfg["warmup_steps"]) / max(1, total - cfg["warmup_steps"])
    return cfg["lr"] * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train(out_dir: Path, epochs: int | None = None, seed: int | None = None, limit: int | None = None) -> dict:
    cfg = training.settings(DEFAULTS, epochs=epochs, seed=seed)
    out_dir = Path(out_dir)
    torch.set_num_threads(cfg["threads"])
    log = training.training_logger("translation", out_dir)
    generator = training.seed_everything(cfg["seed"])
    english, german = data.multi30k("train")
    english, german = english[:limit], german[:limit]
    tokenizer = train_bpe(english + german, cfg["vocab_size"])
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out_dir / FILE))
    pairs = encode_pairs(tokenizer, english, german)
    pad = tokenizer.token_to_id(PAD)
    model_config = {"vocab_size": tokenizer.get_vocab_size(), **{k: cfg[k] for k in MODEL_KEYS}}
    model = Transformer(**model_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=(0.9, 0.98), eps=1e-9)
    val_english, val_german = data.multi30k("val")
    val_english, val_german = val_english[:limit], val_german[:limit]
    steps_per_epoch = len(token_batches(pairs, cfg["batch_tokens"], torch.Generator().manual_seed(0)))
    total = cfg["epochs"] * steps_per_epoch
    log.info("Transformer %s, %d parameters, vocabulary %d, %d pairs, %d steps an epoch, config %s",
             model_config, parameter_count(model), tokenizer.get_vocab_size(), len(pairs), steps_per_epoch, cfg)
    progress = {"step": 0}                 # optimizer steps so far: the learning rate follows them

    def one_epoch(epoch: int) -> str:
        model.train()
        loss_sum = tokens = 0
        for batch in tqdm(token_batches(pairs, cfg["batch_tokens"], generator), desc=f"epoch {epoch}", leave=False):
            src = padded([pairs[i][0] for i in batch], pad)
            tgt = padded([pairs[i][1] for i in batch], pad)
            logits = model(src, tgt[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt[:, 1:].reshape(-1), ignore_index=pad,
                                   label_smoothing=cfg["label_smoothing"])
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(progress["step"], total, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_norm"])
            optimizer.step()
            progress["step"] += 1
            count = int((tgt[:, 1:] != pad).sum())
            loss_sum, tokens = loss_sum + loss.item() * count, tokens + count
        return f"train loss {loss_sum / tokens:.3f}  lr {learning_rate(progress['step'], total, cfg):.2e}"

    def validation_bleu(m) -> float:
        m.eval()
        return scores(Translator(m, tokenizer).translate(val_english), val_german)["bleu"]

    best = training.run_epochs(one_epoch, validation_bleu, model, cfg, log, maximise=True,
                               score_name="val BLEU (greedy)")
    model.load_state_dict(best["state"])
    model.half().float().eval()          # the figures are those of the float16 weights that ship
    translator = Translator(model, tokenizer)
    val = evaluate_translator(translator, "val", limit, cfg["beam"], cfg["alpha"])
    metrics = evaluate_translator(translator, TEST_SPLIT, limit, cfg["beam"], cfg["alpha"])
    log.info("val %s", json.dumps(val))
    log.info("test %s", json.dumps(metrics))
    config = {"model": model_config, "metrics": {**metrics, "val": val},
              "training": {**cfg, "best_epoch": best["epoch"], "last_epoch": best["last_epoch"],
                           "minutes": round(best["minutes"], 1),
                           "parameters": parameter_count(model)}}
    cards.publish(out_dir, model, config, model_card(config), dtype=torch.float16)      # half the file; computed in float32
    return metrics


def model_card(config: dict) -> str:
    m, t, c = config["metrics"], config["training"], config["model"]
    v = m["val"]
    return f"""# Transformer (Vaswani et al. 2017), English to German, trained on Multi30k

Encoder-decoder Transformer written from the paper with the hub's shared blocks: {c['layers']} encoder and
{c['layers']} decoder layers, d_model {c['d_model']}, {c['heads']} heads (d_k {c['d_model'] // c['heads']}), d_ff {c['d_ff']},
dropout {c['dropout']}, sinusoidal positions, pre-LayerNorm residual blocks, one joint BPE vocabulary of
{c['vocab_size']:,} subwords whose embedding is shared by the encoder, the decoder and the output layer.
{t['parameters']:,} parameters, stored as float16.

## Data
Multi30k task 1, English to German: trained on `train` (29,000 pairs), the epoch chosen by greedy
BLEU on `val` (epoch {t['best_epoch']} of {t['last_epoch']}), reported once on `{m['split']}` ({m['sentences']:,} pairs).
The BPE vocabulary (`tokenizer.json`, Hugging Face tokenizers) was learned on the training sentences only.

## Training
Exact command: `python -m hub train translation`
Adam (0.9, 0.98, 1e-9), peak lr {t['lr']} after {t['warmup_steps']} warm-up steps, cosine decay over {t['epochs']} epochs,
batches of about {t['batch_tokens']:,} tokens, label smoothing {t['label_smoothing']}, gradient clipping {t['clip_norm']};
seed {t['seed']}; {t['minutes']:.0f} minutes on {t['threads']} CPU threads.

## Metrics (sacreBLEU, default 13a tokenization, detokenized output)
| split | decoding | BLEU | chrF |
|---|---|---|---|
| {m['split']} (test) | greedy | {m['greedy']['bleu']:.2f} | {m['greedy']['chrf']:.2f} |
| {m['split']} (test) | beam {m['beam_size']}, length penalty alpha {m['length_penalty_alpha']} | **{m['beam']['bleu']:.2f}** | {m['beam']['chrf']:.2f} |
| val | greedy | {v['greedy']['bleu']:.2f} | {v['greedy']['chrf']:.2f} |
| val | beam {v['beam_size']} | {v['beam']['bleu']:.2f} | {v['beam']['chrf']:.2f} |

Figures of the float16 weights as shipped. Published small Transformers on Multi30k reach about
35-36.5 BLEU. Beam size and alpha were fixed in advance, not tuned.

Reproduce: `python -m hub evaluate translation --json`.
"""
