"""Training and evaluation of the small DALL-E on MNIST: stage 1 (the VQ-VAE image tokenizer), then
stage 2 (the transformer over captions and image tokens), then stage 3 (the same transformer trained on
with the caption sometimes dropped, for classifier-free guidance). All train on the first 50,000 training
images and choose their epoch on the 10,000 held apart; the figures come from the test split."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hub import load_model, weights_dir
from hub.kit import captions, cards, data, evaluator, parameter_count, strokes, training, unit_images
from .model import SmallDallE

MODEL = dict(codes=128, code_dim=32, channels=64, d_model=128, depth=4, heads=4, d_ff=512, dropout=0.1)
TOKENIZER = dict(epochs=8, batch_size=128, lr=2e-3, min_lr=1e-5, ema_decay=0.99, validate_every=1, patience=100,
                 max_minutes=15, restart_every=100)
PRIOR = dict(epochs=12, batch_size=128, lr=1e-3, min_lr=1e-5, warmup_epochs=1, weight_decay=0.01, ema_decay=0.999,
             validate_every=1, patience=100, max_minutes=45, caption_dropout=0.0)
# stage 3: the prior goes on from stage 2 with a fresh, lower cosine; a caption is dropped 1 time in 10
GUIDANCE = {**PRIOR, "epochs": 6, "lr": 3e-4, "warmup_epochs": 0.5, "max_minutes": 25, "caption_dropout": 0.1}
# from the least forcing to the most: colder temperatures, then guidance scales (1: the caption alone)
SAMPLING_CANDIDATES = [dict(temperature=1.0, top_k=None), dict(temperature=1.0, top_k=32), dict(temperature=0.8, top_k=32),
                       dict(temperature=0.7, top_k=32), dict(temperature=0.6, top_k=32), dict(temperature=0.5, top_k=32),
                       *(dict(temperature=1.0, top_k=32, guidance=s) for s in (1.5, 2.0, 3.0, 5.0)),
                       *(dict(temperature=0.8, top_k=32, guidance=s) for s in (1.5, 2.0, 3.0))]
MATCH_TARGET = 0.97                 # the named digit drawn this often before re-ranking: enough forcing
MATCH_MARGIN_SE = 2                 # candidates within this many standard errors of the best digit match tie
SAMPLES_PER_CAPTION = 8             # re-ranked, as in the demo's default


@torch.no_grad()
def encode_all(vqvae, images: torch.Tensor) -> torch.Tensor:
    vqvae.eval()
    return torch.cat([vqvae.encode(images[i:i + 1000]) for i in range(0, len(images), 1000)])


@torch.no_grad()
def reconstruction_error(vqvae, images: torch.Tensor) -> tuple[float, torch.Tensor]:
    """(mean squared error per pixel, the reconstructions)."""
    vqvae.eval()
    out = torch.cat([vqvae.decode(vqvae.encode(images[i:i + 1000])) for i in range(0, len(images), 1000)])
    return float(F.mse_loss(out, images)), out


def train_tokenizer(model: SmallDallE, x_fit, x_valid, cfg, generator, log) -> dict:
    usage = torch.zeros(model.vqvae.codes)
    steps = [0]

    def loss(vqvae, images, epoch):
        value, ids = vqvae.loss(images)
        usage.add_(torch.bincount(ids.flatten(), minlength=len(usage)))
        steps[0] += 1
        if steps[0] % cfg["restart_every"] == 0:
            if (usage == 0).any():
                vqvae.restart_codes(usage == 0, images, generator)
            usage.zero_()
        return value

    best = training.fit(model.vqvae, x_fit, cfg, loss, lambda m: -reconstruction_error(m, x_valid)[0], generator, log)
    model.vqvae.load_state_dict(best["state"])
    return best


def caption_batch(model: SmallDallE, digits, thickness, slant, rng: np.random.Generator) -> torch.Tensor:
    return model.caption_ids([captions.random_caption(int(d), float(t), float(s), rng) for d, t, s in zip(digits, thickness, slant)])


def train_prior(model: SmallDallE, fit_set: tuple, valid_set: tuple, cfg, generator, rng, log) -> dict:
    valid_captions = caption_batch(model, *valid_set[1:], np.random.default_rng(1))

    def loss(m, batch, epoch):
        image_ids, *measured = batch
        caption_ids = caption_batch(m, *measured, rng)
        if cfg["caption_dropout"]:
            caption_ids = m.drop_captions(caption_ids, cfg["caption_dropout"], generator)
        return m.prior_loss(caption_ids, image_ids)

    @torch.no_grad()
    def validate(m):
        m.eval()
        return -float(np.mean([m.prior_loss(valid_captions[i:i + 1000], valid_set[0][i:i + 1000])
                               for i in range(0, len(valid_captions), 1000)]))

    best = training.fit(model, fit_set, cfg, loss, validate, generator, log)
    model.load_state_dict(best["state"])
    return best


def train(out_dir: Path, epochs: int | None = None, seed: int | None = None, limit: int | None = None) -> dict:
    """`epochs` sets the prior's epochs in stage 2 (the other stages' stay as configured unless `limit` makes a
    smoke run)."""
    seed = 0 if seed is None else seed
    tokenizer_cfg = {**TOKENIZER, **({"epochs": 1} if limit else {})}
    prior_cfg = training.settings(PRIOR, epochs=epochs)
    torch.set_num_threads(2)
    out_dir = Path(out_dir)
    log = training.training_logger("text2image", out_dir)
    generator, rng = training.seed_everything(seed), np.random.default_rng(seed)
    x, y = data.mnist("train")
    fit_part, valid_part = held_apart_split(len(x))
    x_fit, x_valid = unit_images(x[fit_part][:limit]), unit_images(x[valid_part][:limit])
    model = SmallDallE(**MODEL)
    log.info("small DALL-E: VQ-VAE %d parameters, transformer %d; model %s, tokenizer %s, prior %s",
             parameter_count(model.vqvae), parameter_count(model.transformer), MODEL,
             tokenizer_cfg, prior_cfg)
    log.info("stage 1: the image tokenizer")
    tokenizer_best = train_tokenizer(model, x_fit, x_valid, tokenizer_cfg, generator, log)

    log.info("stage 2: the transformer over captions and image tokens")
    model.vqvae.requires_grad_(False)
    fit_set, valid_set = prior_data(model, limit)
    prior_best = train_prior(model, fit_set, valid_set, prior_cfg, generator, rng, log)
    config = {"model": MODEL, "training": {"seed": seed, "tokenizer": {**tokenizer_cfg, **summary(tokenizer_best)},
                                           "prior": {**prior_cfg, **summary(prior_best)},
                                           "parameters": parameter_count(model)}}
    return guidance_stage(model, config, out_dir, fit_set, valid_set, generator, rng, log, limit)


def held_apart_split(count: int) -> tuple[slice, slice]:
    return slice(0, count - evaluator.HELD_APART), slice(count - evaluator.HELD_APART, None)


def prior_data(model: SmallDallE, limit: int | None = None) -> tuple[tuple, tuple]:
    """The prior's (fit, held-apart) sets: each digit's image tokens, label, thickness and slant."""
    x, y = data.mnist("train")

    def measured(images, labels):
        thickness, slant = strokes.measure(images)
        return (encode_all(model.vqvae, unit_images(images)), torch.from_numpy(labels.astype(np.int64)),
                torch.from_numpy(thickness), torch.from_numpy(slant))
    return tuple(measured(x[part][:limit], y[part][:limit]) for part in held_apart_split(len(x)))


def guidance_stage(model: SmallDallE, config: dict, out_dir: Path, fit_set, valid_set, generator, rng, log,
                   limit: int | None = None) -> dict:
    """Stage 3 on a prior trained through stage 2, then the sampling chosen, the test figures and the card."""
    guidance_cfg = training.settings(GUIDANCE, epochs=1 if limit else None)
    log.info("stage 3: the transformer trained on, the caption dropped %.0f%% of the time (guidance); %s",
             100 * guidance_cfg["caption_dropout"], guidance_cfg)
    guidance_best = train_prior(model, fit_set, valid_set, guidance_cfg, generator, rng, log)
    log.info("choosing the sampling settings on captions of held-apart digits")
    x, y = data.mnist("train")
    held_apart = held_apart_split(len(x))[1]
    choices = choose_sampling(model, x[held_apart][:limit][:1000], y[held_apart][:limit][:1000])
    log.info("sampling candidates (held-apart): %s", json.dumps(choices))
    metrics = evaluate(model, limit)
    log.info("test metrics %s", json.dumps(metrics))
    config = {**config, "metrics": metrics, "sampling": {**model.default_sampling(), "held_apart": choices}}
    config["training"]["guidance"] = {**guidance_cfg, **summary(guidance_best)}
    cards.publish(out_dir, model, config, model_card(config))
    return metrics


def choose_sampling(model: SmallDallE, images: np.ndarray, labels: np.ndarray) -> list[dict]:
    """Each candidate's figures before re-ranking on captions of held-apart digits (4 samples each); the
    `chosen` one becomes the model's default. The test split is never used to choose."""
    reference, results = evaluator.outputs(evaluator.load(), images)[0], []
    for sampling in SAMPLING_CANDIDATES:
        figures = captions.caption_figures(lambda texts, per: generate_for_captions(model, texts, per, sampling)[0],
                                           images, labels, per=4, seed=1, reference=reference)
        results.append({"guidance": 1.0, **sampling, **{key: figures[key] for key in (
            "digit_match", "word_agreement", "fld", "diversity", "diversity_real_same_digit")},
                        "samples": figures["captions"] * figures["samples_per_caption"]})
    best = chosen(results)
    model.set_default_sampling(best["temperature"], best["top_k"], best["guidance"])
    return results


def chosen(candidates: list[dict]) -> dict:
    """Among the candidates whose digit match reaches MATCH_TARGET, the one closest to the real digits (lowest
    FLD): a colder or more guided sampler draws the named digit more often but varies less and sits further from
    the real digits, so past the target only realism counts. When none reaches it, the first candidate (they go
    from the least forcing to the most) within MATCH_MARGIN_SE standard errors of the best digit match: a gain
    the held-apart samples cannot tell from chance does not pay for that."""
    reaching = [c for c in candidates if c["digit_match"] >= MATCH_TARGET]
    if reaching:
        return min(reaching, key=lambda c: c["fld"])
    best = max(candidates, key=lambda c: c["digit_match"])
    margin = MATCH_MARGIN_SE * math.sqrt(best["digit_match"] * (1 - best["digit_match"]) / best["samples"])
    return next(c for c in candidates if c["digit_match"] >= best["digit_match"] - margin)


def summary(best: dict) -> dict:
    return {"best_epoch": best["epoch"], "last_epoch": best["last_epoch"], "minutes": round(best["minutes"], 1),
            "best_validation": round(best["valid"], 4)}


def rerank_scores(probabilities: np.ndarray, digit: int | None, met: np.ndarray, named: int) -> np.ndarray:
    """The re-ranking score, our stand-in for DALL-E's CLIP score: the evaluator's probability of the
    named digit (its top probability if none is named), times the share of named properties the
    measurements confirm (counted as (1 + met) / (1 + named), so a miss costs but does not zero it)."""
    p = probabilities.max(1) if digit is None else probabilities[:, digit]
    return p * (1 + met) / (1 + named)


@torch.no_grad()
def generate_for_captions(model: SmallDallE, captions: list[str], per_caption: int, sampling: dict, seed: int = 0,
                          chunk: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """(images [len(captions), per_caption, 28, 28], image tokens [..., 7, 7])."""
    generator = torch.Generator().manual_seed(seed)
    ids = model.caption_ids(captions).repeat_interleave(per_caption, 0)
    images, tokens = [], []
    for i in range(0, len(ids), chunk):
        out, toks = model.sample(ids[i:i + chunk], generator, sampling["temperature"], sampling["top_k"],
                                 sampling.get("guidance", 1.0))
        images.append(out.cpu().numpy())
        tokens.append(toks.cpu().numpy())
    shape = (len(captions), per_caption)
    return np.concatenate(images).reshape(*shape, 28, 28), np.concatenate(tokens).reshape(*shape, 7, 7)


def evaluate(model, limit: int | None = None) -> dict:
    """Tokenizer reconstruction of the test images; the shared caption figures (`hub.kit.captions`) of
    samples for captions of the test images, and the digit match after re-ranking."""
    x, y = data.mnist("test")
    x, y = data.spread_subset(x, limit), data.spread_subset(y, limit)
    images = unit_images(x)
    mse, reconstructions = reconstruction_error(model.vqvae, images)
    judge = evaluator.load()
    tokens = encode_all(model.vqvae, images)
    metrics = {"split": "test", "tokenizer": {
        "images": len(x), "mse_per_pixel": round(mse, 5),
        "evaluator_accuracy_on_reconstructions": round(evaluator.accuracy(judge, reconstructions, y), 4),
        "evaluator_accuracy_on_originals": round(evaluator.accuracy(judge, images, y), 4),
        "codes_used": int(tokens.unique().numel()), "codes": model.vqvae.codes}}
    sampling, drawn = model.default_sampling(), {}

    def draw(texts, per):
        drawn["images"] = generate_for_captions(model, texts, per, sampling)[0]
        return drawn["images"]
    metrics.update(sampling, **captions.caption_figures(draw, x, y, SAMPLES_PER_CAPTION))
    metrics["digit_match_after_reranking"] = reranked_match(model, captions.captions_of(x, y, seed=2), drawn["images"])
    return metrics


def reranked_match(model: SmallDallE, texts: list[str], images: np.ndarray) -> float:
    """The share of captions whose top sample by `rerank_scores` is read as the captioned digit."""
    per = images.shape[1]
    _, probabilities = evaluator.outputs(evaluator.load(), images.reshape(-1, 28, 28))
    thickness, slant = (m.reshape(len(texts), per) for m in strokes.measure(images))
    hits = []
    for text, probs, t, s in zip(texts, probabilities.reshape(len(texts), per, 10), thickness, slant):
        read = model.captions.read(text)
        checks = captions.word_checks((t, s), read.thickness, read.slant)
        best = int(np.argmax(rerank_scores(probs, read.digit, captions.words_met(checks, per), len(checks))))
        hits.append(probs[best].argmax() == read.digit)
    return round(float(np.mean(hits)), 4)


def rechosen(sampling: dict) -> str:
    if "before" not in sampling:
        return ""
    b = sampling["before"]
    return (f" Chosen again on these trained weights by `python -m plugins.text2image.train --choose-sampling`; before,"
            f" the default was temperature {b['temperature']}, top-k {b['top_k'] or 'off'}, guidance {b.get('guidance', 1.0)},"
            f" and its test digit match was {100 * b['digit_match_test']:.2f}%.")


def stage_3_alone(training_config: dict) -> str:
    """The card's word on weights whose stage 3 ran on its own, after an earlier run's stages 1 and 2."""
    if "stages_1_2_from" not in training_config:
        return ""
    return (f" These weights ran stages 1 and 2 in that command's run of commit {training_config['stages_1_2_from']}"
            " (before stage 3 existed), then stage 3 on their own: `python -m plugins.text2image.train --guidance-stage`"
            " (same seed; the batch order and captions of stage 3 differ from a run of all three stages).")


def model_card(config: dict) -> str:
    m, c, t, s = config["metrics"], config["model"], config["training"], config["sampling"]
    tok = m["tokenizer"]
    stage1, stage2, stage3 = t["tokenizer"], t["prior"], t["guidance"]
    agreement = "\n".join(f"| {word} | {100 * m['word_agreement'][word]:.1f}% | {100 * m['base_rate'][word]:.1f}% | "
                          f"{m['word_samples'][word]:,} |" for word in m["word_agreement"])
    candidates = "\n".join(f"| {r['temperature']} | {r['top_k'] or 'off'} | {r['guidance']} | {100 * r['digit_match']:.1f}% | "
                           f"{r['fld']:.2f} | {r['diversity']:.3f} ({r['diversity_real_same_digit']:.3f}) |"
                           for r in s["held_apart"])
    return f"""# Text to image: a small DALL-E (VQ-VAE + decoder-only transformer) on MNIST

Stage 1, the image tokenizer: a VQ-VAE (van den Oord et al. 2017; DALL-E used a dVAE) maps a 28 x 28 digit to
7 x 7 tokens from a codebook of {c['codes']} ({c['code_dim']}-d codes, {c['channels']} channels) and back.
Stage 2, the prior: a decoder-only transformer ({c['depth']} causal pre-norm layers from the hub's shared
blocks, d_model {c['d_model']}, {c['heads']} heads, d_ff {c['d_ff']}) over [{captions.MAX_WORDS} caption words; <image>; 49 image tokens].
Stage 3, guidance: the same transformer trained on with the caption dropped (all padding) {100 * stage3['caption_dropout']:.0f}% of the time,
so that it also models digits with no caption; sampling with guidance scale s draws each token from the logits
l(empty) + s (l(caption) - l(empty)) (classifier-free guidance, Ho & Salimans 2022; s = 1 is the caption alone).
{t['parameters']:,} parameters in all.

## Data and captions
MNIST: every stage trains on the first 50,000 training images and chooses its epoch on the 10,000 held apart.
Captions are built from the label and two properties measured on each image (`hub/kit/captions.py`):
stroke thickness (2 x ink area / ink edges: "thin" under {strokes.THIN_BELOW} px, "thick" over {strokes.THICK_ABOVE} px) and slant
(the ink's shear: "slanted to the left" under {strokes.LEFT_BELOW}, "upright" within +-{strokes.UPRIGHT_WITHIN}, "slanted to the right" over
{strokes.RIGHT_ABOVE} columns per row), in {len(captions.TEMPLATES)} templates, the digit as a word or a numeral, each property left out at random.

## Training
Exact command: `python -m hub train text2image` (seed {t['seed']}, 2 CPU threads).{stage_3_alone(t)}
- Stage 1: Adam, lr {stage1['lr']} cosine, batch {stage1['batch_size']}, dead codes restarted every {stage1['restart_every']} steps;
  epoch {stage1['best_epoch']} of {stage1['last_epoch']} chosen by held-apart reconstruction error; {stage1['minutes']:.0f} minutes.
- Stage 2: AdamW (weight decay {stage2['weight_decay']}), lr {stage2['lr']} with {stage2['warmup_epochs']} warm-up epoch then cosine, batch {stage2['batch_size']},
  dropout {c['dropout']}, EMA of the weights; fresh random captions every epoch; epoch {stage2['best_epoch']} of {stage2['last_epoch']} chosen by
  held-apart loss ({-stage2['best_validation']:.3f} nats per image token); {stage2['minutes']:.0f} minutes.
- Stage 3: from stage 2's weights, lr {stage3['lr']} with {stage3['warmup_epochs']} warm-up epoch then cosine, the rest as stage 2; epoch
  {stage3['best_epoch']} of {stage3['last_epoch']} chosen by held-apart loss with the caption ({-stage3['best_validation']:.3f} nats per image token); {stage3['minutes']:.0f} minutes.
- Sampling: chosen on captions of 1,000 held-apart digits (4 samples each): among the candidates whose digit match
  before re-ranking reaches {100 * MATCH_TARGET:.0f}%, the one closest to the held-apart digits (lowest FLD); were there none,
  the least forcing candidate (in the table's order) within {MATCH_MARGIN_SE} standard errors of the best digit match. A
  colder or more guided sampler draws the named digit more often, but varies less and sits further from the real
  digits:

| temperature | top-k | guidance | digit match (held apart) | FLD to held-apart digits | diversity (real) |
|---|---|---|---|---|---|
{candidates}

Shipped default: temperature {s['temperature']}, top-k {s['top_k'] or 'off'}, guidance {s['guidance']}.{rechosen(s)}

## Metrics (test split)
Tokenizer, on the {tok['images']:,} test images: squared error {tok['mse_per_pixel']:.4f} a pixel; the evaluator reads
{100 * tok['evaluator_accuracy_on_reconstructions']:.2f}% of the reconstructions as their label ({100 * tok['evaluator_accuracy_on_originals']:.2f}% of the originals);
{tok['codes_used']} of {tok['codes']} codes in use.

Generation, for a caption of each of the {m['captions']:,} test images, {m['samples_per_caption']} samples a caption, measured by the code
the text-to-image GAN's figures come from (`hub/kit/captions.py`):

| figure | value |
|---|---|
| digit match before re-ranking (every sample) | **{100 * m['digit_match']:.2f}%** |
| digit match after re-ranking (the top sample of each caption) | **{100 * m['digit_match_after_reranking']:.2f}%** |
| FLD of all samples to the test digits | {m['fld']:.2f} |
| diversity: mean pairwise RMS pixel distance among one caption's samples (real digits of one label: {m['diversity_real_same_digit']:.3f}) | {m['diversity']:.3f} |

Word agreement before re-ranking: the share of samples whose measurement falls in the band the caption names,
beside the share of all test digits in that band (its base rate: what ignoring the word would give); the smallest
gain over the words is {100 * m['word_agreement_gain_min']:+.1f} points:

| word | agreement | test digits in the band | samples |
|---|---|---|---|
{agreement}

The digit is read by the hub's evaluator (a LeNet trained on MNIST, `weights/evaluator`); re-ranking scores each
sample by the evaluator's probability of the named digit times (1 + properties met) / (1 + properties named).
The same evaluator ranks and then judges, so the figure after re-ranking is optimistic by construction (as
CLIP-ranked samples scored by CLIP would be); the figure before re-ranking is the model's own.

Reproduce: `python -m hub evaluate text2image --json`.
"""


SUBSET = 500
STAGE_3_FROM = "50e11bd"          # the commit whose shipped weights had stages 1 and 2 only


def guidance_stage_alone(directory: Path, out_dir: Path, limit: int | None = None) -> dict:
    """Stage 3 on weights trained through stage 2 (the shipped ones before stage 3 existed: they have no
    guidance setting yet), written with its card to `out_dir`. Returns the test figures (`limit`: a smoke run)."""
    torch.set_num_threads(2)
    model, saved = load_model(SmallDallE, directory, absent_ok=("default_guidance",))
    seed, out_dir = saved["training"]["seed"], Path(out_dir)
    if out_dir.resolve() != Path(directory).resolve():             # the log goes on from stages 1 and 2
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(directory) / "train.log", out_dir / "train.log")
    log = training.training_logger("text2image", out_dir, append=True)
    generator, rng = training.seed_everything(seed), np.random.default_rng(seed)
    model.vqvae.requires_grad_(False)
    config = {"model": saved["model"], "training": {**saved["training"], "stages_1_2_from": STAGE_3_FROM}}
    return guidance_stage(model, config, out_dir, *prior_data(model, limit), generator, rng, log, limit)


def choose_sampling_again(directory: Path) -> dict:
    """The shipped weights' sampling chosen again among SAMPLING_CANDIDATES on the same held-apart captions, and
    the test figures measured again; the trained weights stay as they are (only the default-sampling buffers
    change). Returns the new config."""
    trained, saved = load_model(SmallDallE, directory)
    before = saved["sampling"].get("before") or {**saved["sampling"], "digit_match_test": saved["metrics"]["digit_match"]}
    x, y = data.mnist("train")
    held_apart = slice(len(x) - evaluator.HELD_APART, None)
    choices = choose_sampling(trained, x[held_apart][:1000], y[held_apart][:1000])
    saved["sampling"] = {**trained.default_sampling(), "held_apart": choices,
                         "before": {key: before.get(key, 1.0) for key in ("temperature", "top_k", "guidance", "digit_match_test")}}
    saved["metrics"] = evaluate(trained)
    saved["subset_check"] = {"demo": "text2image", "limit": SUBSET, "metrics": evaluate(trained, SUBSET)}
    cards.publish(directory, trained, saved, model_card(saved))
    return saved


if __name__ == "__main__":
    # `python -m plugins.text2image.train --choose-sampling`: see `choose_sampling_again`.
    # `python -m plugins.text2image.train --guidance-stage [OUT]`: see `guidance_stage_alone` (OUT: the weights folder).
    # `python -m plugins.text2image.train METRICS.json`: the shipped config takes the test figures printed by
    # `python -m hub evaluate text2image --json` (saved to METRICS.json) and a fresh quick check, and the card
    # is rendered again; the weights stay as they are
    import sys

    directory = weights_dir("text2image")
    if sys.argv[1] == "--choose-sampling":
        print(json.dumps(choose_sampling_again(directory)["metrics"]))
        sys.exit()
    if sys.argv[1] == "--guidance-stage":
        print(json.dumps(guidance_stage_alone(directory, Path(sys.argv[2]) if len(sys.argv) > 2 else directory)))
        sys.exit()
    trained, saved = load_model(SmallDallE, directory)
    saved["metrics"] = json.loads(Path(sys.argv[1]).read_text().strip().splitlines()[-1])
    saved["subset_check"] = {"demo": "text2image", "limit": SUBSET, "metrics": evaluate(trained, SUBSET)}
    if cards.publish(directory, trained, saved, model_card(saved)) != saved["sha256"]:
        raise RuntimeError("re-saving the weights changed their bytes")
