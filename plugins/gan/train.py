"""Adversarial training of the GAN family on grayscale MNIST, judged by the hub's evaluator.

Trained on the first 50,000 training images; the checkpoint (an exponential moving average of
the generator) with the best Frechet LeNet Distance against the 10,000 held-apart training images
is kept; the final figures compare 10,000 samples with the test split, which took no part in
training or selection.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from tqdm import tqdm

from hub import data, evaluator, training, weights

from .model import DIGITS, GenerativeAdversarialNet, information_loss

DEFAULTS = {
    "gan": dict(epochs=80, max_minutes=20),
    "dcgan": dict(epochs=60, max_minutes=30, width=32, generator_lr=1e-3),
    "cgan": dict(epochs=60, max_minutes=30, width=32),
    "infogan": dict(epochs=60, max_minutes=40, width=32, generator_lr=1e-3, z_dim=16),
}
COMMON = dict(z_dim=64, batch_size=64, lr=2e-4, betas=(0.5, 0.999), real_label=0.9, ema_decay=0.999,
              selection_samples=2000, samples=10_000, threads=1, seed=0)
TITLES = {"gan": "GAN (MLP)", "dcgan": "DCGAN", "cgan": "Conditional GAN", "infogan": "InfoGAN"}


def to_model_range(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x.astype(np.float32) / 127.5 - 1).view(-1, 1, 28, 28)


def sample_images(model: GenerativeAdversarialNet, n: int, seed: int, **codes) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    return np.concatenate([model.sample(min(1000, n - i), generator,
                                        **{k: v[i:i + 1000] for k, v in codes.items()}).cpu().numpy()
                           for i in range(0, n, 1000)])


def category_matching(model: GenerativeAdversarialNet, per_category: int, seed: int) -> tuple[float, list[int]]:
    """InfoGAN: generate per_category images for each value of c1, read them with the evaluator,
    and match categories to digits one-to-one (Hungarian method) so as to agree most.
    Returns (share of images whose digit is their category's match, the digit of each category)."""
    category = torch.arange(DIGITS).repeat_interleave(per_category)
    images = sample_images(model, len(category), seed, category=category)
    predicted = evaluator.outputs(evaluator.load(), images)[1].argmax(1)
    agreement = np.zeros((DIGITS, DIGITS))
    np.add.at(agreement, (category.numpy(), predicted), 1)
    rows, cols = linear_sum_assignment(-agreement)
    return float(agreement[rows, cols].sum() / len(category)), [int(c) for c in cols]


def evaluate(model: GenerativeAdversarialNet, limit: int | None = None, seed: int = 1) -> dict:
    """The evaluator's figures for `limit` (default 10,000) samples against the test split."""
    n = limit or COMMON["samples"]
    if model.kind == "cgan":
        digits = torch.arange(n) % DIGITS
        metrics = evaluator.judge(sample_images(model, n, seed, digits=digits), labels=digits.numpy())
    else:
        metrics = evaluator.judge(sample_images(model, n, seed))
    if model.kind == "infogan":
        accuracy, digits = category_matching(model, max(n // DIGITS, 1), seed)
        metrics.update(category_accuracy_hungarian=round(accuracy, 4), digit_of_category=digits)
    return {"split": "test", **metrics}


def train(kind: str, demo_id: str, out_dir: Path, epochs: int | None = None, seed: int | None = None,
          limit: int | None = None) -> dict:
    cfg = {**COMMON, **DEFAULTS[kind], **({"epochs": epochs} if epochs is not None else {}),
           **({"seed": seed} if seed is not None else {})}
    torch.set_num_threads(cfg["threads"])
    log = training.training_logger(demo_id, out_dir)
    generator = training.seed_everything(cfg["seed"])
    x, y = data.mnist("train")
    x_fit = to_model_range(x[:-evaluator.HELD_APART][:limit])
    y_fit = torch.from_numpy(y[:-evaluator.HELD_APART][:limit].astype(np.int64))
    reference = evaluator.held_apart_features(min(cfg["selection_samples"], limit or cfg["selection_samples"]))
    model = GenerativeAdversarialNet(kind, cfg["z_dim"], width=cfg.get("width", 64))
    G, D = model.generator, model.discriminator
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.get("generator_lr", cfg["lr"]), betas=cfg["betas"])
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg["lr"], betas=cfg["betas"])
    average = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg["ema_decay"]), use_buffers=True)
    log.info("%s: G %d, D %d parameters, config %s", TITLES[kind], weights.parameter_count(G),
             weights.parameter_count(D), cfg)
    best, started = {"fld": float("inf"), "epoch": 0, "state": None}, time.time()
    for epoch in tqdm(range(1, cfg["epochs"] + 1), desc="epochs"):
        model.train()
        d_total = g_total = 0.0
        for idx in tqdm(training.batches(len(x_fit), cfg["batch_size"], generator), desc=f"epoch {epoch}",
                        total=-(-len(x_fit) // cfg["batch_size"]), leave=False):
            losses = adversarial_step(model, x_fit[idx], y_fit[idx], opt_g, opt_d, generator, cfg["real_label"])
            average.update_parameters(model)
            d_total, g_total = d_total + losses[0], g_total + losses[1]
        steps = -(-len(x_fit) // cfg["batch_size"])
        fake = sample_images(average.module, len(reference), seed=0)
        fld = evaluator.frechet_distance(evaluator.outputs(evaluator.load(), fake)[0], reference)
        if fld < best["fld"]:
            best = {"fld": fld, "epoch": epoch, "state": {k: v.clone() for k, v in average.module.state_dict().items()}}
        minutes = (time.time() - started) / 60
        log.info("epoch %d  D loss %.3f  G loss %.3f  FLD vs held-apart (EMA G) %.2f  best %.2f @%d  %.1f min%s",
                 epoch, d_total / steps, g_total / steps, fld, best["fld"], best["epoch"], minutes,
                 f"  category accuracy {category_matching(average.module, 100, seed=0)[0]:.3f}" if kind == "infogan" else "")
        if minutes > cfg["max_minutes"]:
            log.info("time budget of %s minutes spent: stopping", cfg["max_minutes"])
            break
    model.load_state_dict(best["state"])
    torch.set_num_threads(max(torch.get_num_threads(), 2))
    metrics = {**evaluate(model, limit), "selection_fld_held_apart": round(best["fld"], 3)}
    log.info("test metrics %s", json.dumps(metrics))
    config = {"model": {"kind": kind, "z_dim": cfg["z_dim"], "width": cfg.get("width", 64)}, "metrics": metrics,
              "parameters": {"generator": weights.parameter_count(G), "discriminator": weights.parameter_count(D)},
              "training": {**cfg, "best_epoch": best["epoch"], "last_epoch": epoch, "minutes": round(minutes, 1)}}
    digest = weights.save(out_dir, model, config)
    (out_dir / weights.CARD_FILE).write_text(model_card(kind, demo_id, cfg, config, digest))
    return metrics


def adversarial_step(model, real, digits, opt_g, opt_d, generator, real_label: float) -> tuple[float, float]:
    """One discriminator step, then one generator step with the non-saturating loss
    -log D(G(z)) (Goodfellow et al. 2014, Sec. 3) in place of log(1 - D(G(z)))."""
    n = len(real)
    fake_digits = torch.randint(0, DIGITS, (n,), generator=generator)
    latent = model.latent(n, generator, digits=fake_digits)
    fake = model.generate(latent)

    real_logit, _ = model.discriminate(real, digits)
    fake_logit, q = model.discriminate(fake.detach(), fake_digits)
    d_loss = (F.binary_cross_entropy_with_logits(real_logit, torch.full_like(real_logit, real_label))
              + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
    if model.kind == "infogan":
        d_loss = d_loss + information_loss(q, *model.codes_of(latent))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    fake_logit, q = model.discriminate(fake, fake_digits)
    g_loss = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
    if model.kind == "infogan":
        g_loss = g_loss + information_loss(q, *model.codes_of(latent))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def model_card(kind: str, demo_id: str, cfg: dict, config: dict, digest: str) -> str:
    m, t, p = config["metrics"], config["training"], config["parameters"]
    floor = weights.read_config(weights.weights_dir(evaluator.DEMO_ID))["metrics"]["fld_floor_real_vs_real"]
    extra, shape = "", "" if kind == "gan" else f"; convolution width {cfg['width']} (G: 2w -> w -> 1 channels)"
    if "accuracy_on_requested_digit" in m:
        extra += f"| evaluator accuracy on the requested digit | {100 * m['accuracy_on_requested_digit']:.2f}% |\n"
    matching = ""
    if "digit_of_category" in m:
        matching = ("\nThe digit each value of c1 was matched to: "
                    + ", ".join(f"c1 = {c} -> {d}" for c, d in enumerate(m["digit_of_category"])) + ".\n")
    if "category_accuracy_hungarian" in m:
        extra += (f"| categorical code c1 vs digit class (Hungarian matching; paper: 95%) | "
                  f"{100 * m['category_accuracy_hungarian']:.2f}% |\n")
    return f"""# {TITLES[kind]} on MNIST

{__doc__.strip().splitlines()[0]}
{TITLES[kind]}: generator {p['generator']:,} parameters, discriminator {p['discriminator']:,}; z of {cfg['z_dim']}
dimensions{shape}.
The generator is trained with the non-saturating loss -log D(G(z)) (the minimax game's usual
practical form), the discriminator with one-sided label smoothing (real label {cfg['real_label']}).

## Data and selection
Grayscale MNIST, the first 50,000 training images. After each epoch the moving average of the
generator (decay {cfg['ema_decay']}) draws {cfg['selection_samples']:,} samples; the epoch with the lowest Frechet
LeNet Distance (FLD) against the 10,000 held-apart training images is kept (epoch {t['best_epoch']} of
{t['last_epoch']}). The figures below compare {m['samples']:,} fresh samples with the test split.

## Training
Exact command: `python -m hub train {demo_id}`
Adam, lr {cfg['lr']} for D and {cfg.get('generator_lr', cfg['lr'])} for G, betas {tuple(cfg['betas'])}, batch {cfg['batch_size']}, up to {cfg['epochs']} epochs or
{cfg['max_minutes']} minutes; seed {cfg['seed']}; {t['minutes']:.0f} minutes on {cfg['threads']} CPU thread(s).

## Metrics (the hub's evaluator, `hub/evaluator.py`)
| metric | value |
|---|---|
| FLD to the test split (lower is better) | {m['fld']:.2f} |
| FLD floor: real vs real (test vs held-apart training images) | {floor:.2f} |
| smallest share of any digit among samples (10% if even) | {100 * m['smallest_class_share']:.1f}% |
| evaluator's mean confidence on samples | {m['mean_confidence']:.3f} |
{extra}
Shares of each digit among the samples: {', '.join(f'{d}: {100 * s:.1f}%' for d, s in enumerate(m['class_shares']))}.
{matching}
Reproduce: `python -m hub evaluate {demo_id} --json`.

## Files
- `model.safetensors` (generator and discriminator) SHA-256: `{digest}`
- `config.json`, `train.log`
"""
