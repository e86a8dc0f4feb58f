"""Training of the adversarial autoencoders (one per prior) on grayscale MNIST.

Trained on the first 50,000 training images for a fixed number of epochs (no checkpoint
selection: the last epoch is shipped); figures on the test split, and the hub's evaluator on
digits decoded from prior samples.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from hub import data, evaluator, training, weights

from .model import PRIORS, AdversarialAutoencoder, sample_prior

DEFAULTS = dict(epochs=20, batch_size=100, lr=5e-4, adversarial_lr=5e-5, critic_lr=5e-4, betas=(0.5, 0.9),
                r1_gamma=1.0, max_minutes=12, samples=10_000, threads=1, seed=0)


def images(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x.astype(np.float32) / 255).view(-1, 784)


@torch.no_grad()
def evaluate_prior(model: AdversarialAutoencoder, limit: int | None = None, seed: int = 1) -> dict:
    model.eval()
    x = images(data.spread_subset(data.mnist("test")[0], limit))
    reconstruction = sum(model.reconstruction_loss(x[i:i + 1000]).item() * len(x[i:i + 1000])
                         for i in range(0, len(x), 1000)) / len(x)
    samples = model.sample(limit or DEFAULTS["samples"], torch.Generator().manual_seed(seed)).cpu().numpy()
    return {"split": "test", "examples": len(x), "reconstruction_bce_nats": round(reconstruction, 2),
            **evaluator.judge(samples)}


def evaluate(handle, limit: int | None = None) -> dict:
    """Both priors' figures; `handle` is the demo's lazy handle (two models)."""
    results = {}
    for prior in PRIORS:
        with handle.use(prior) as model:
            results[prior] = evaluate_prior(model, limit)
    return results


def train(out_dir: Path, epochs: int | None = None, seed: int | None = None, limit: int | None = None) -> dict:
    """One model per prior, in out_dir/<prior>/."""
    return {prior: train_prior(prior, Path(out_dir) / prior, epochs, seed, limit) for prior in PRIORS}


def train_prior(prior: str, out_dir: Path, epochs: int | None, seed: int | None, limit: int | None) -> dict:
    cfg = {**DEFAULTS, **({"epochs": epochs} if epochs is not None else {}),
           **({"seed": seed} if seed is not None else {})}
    torch.set_num_threads(cfg["threads"])
    log = training.training_logger(f"aae.{prior}", out_dir)
    generator = training.seed_everything(cfg["seed"])
    x = images(data.mnist("train")[0][:-evaluator.HELD_APART][:limit])
    model = AdversarialAutoencoder(prior)
    autoencoder = torch.optim.Adam([*model.encoder.parameters(), *model.decoder.parameters()], lr=cfg["lr"])
    critic = torch.optim.Adam(model.discriminator.parameters(), lr=cfg["critic_lr"], betas=cfg["betas"])
    encoder = torch.optim.Adam(model.encoder.parameters(), lr=cfg["adversarial_lr"], betas=cfg["betas"])
    log.info("AAE with a %s prior, %d parameters, config %s", prior, weights.parameter_count(model), cfg)
    started = time.time()
    for epoch in tqdm(range(1, cfg["epochs"] + 1), desc="epochs"):
        model.train()
        totals = np.zeros(3)
        for idx in tqdm(training.batches(len(x), cfg["batch_size"], generator), desc=f"epoch {epoch}",
                        total=-(-len(x) // cfg["batch_size"]), leave=False):
            totals += aae_step(model, x[idx], autoencoder, critic, encoder, generator, cfg["r1_gamma"])
        totals /= -(-len(x) // cfg["batch_size"])
        minutes = (time.time() - started) / 60
        log.info("epoch %d  reconstruction %.2f  D loss %.3f  encoder-as-G loss %.3f  %.1f min", epoch, *totals, minutes)
        if minutes > cfg["max_minutes"]:
            log.info("time budget of %s minutes spent: stopping", cfg["max_minutes"])
            break
    torch.set_num_threads(max(torch.get_num_threads(), 2))
    metrics = evaluate_prior(model, limit)
    log.info("test metrics %s", json.dumps(metrics))
    config = {"model": {"prior": prior}, "metrics": metrics,
              "training": {**cfg, "last_epoch": epoch, "minutes": round(minutes, 1)}}
    digest = weights.save(out_dir, model, config)
    (out_dir / weights.CARD_FILE).write_text(model_card(prior, cfg, config, weights.parameter_count(model), digest))
    return metrics


def aae_step(model, x, autoencoder, critic, encoder, generator, r1_gamma: float = 0.0) -> tuple[float, float, float]:
    """The paper's two phases on one batch: reconstruction, then regularization (D, then the
    encoder as D's adversary)."""
    reconstruction = model.reconstruction_loss(x)
    autoencoder.zero_grad(set_to_none=True)
    reconstruction.backward()
    autoencoder.step()

    z_prior = sample_prior(model.prior, len(x), generator).requires_grad_(r1_gamma > 0)
    real, fake = model.discriminator(z_prior), model.discriminator(model.encode(x).detach())
    d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
              + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if r1_gamma > 0:            # R1 penalty (Mescheder et al. 2018): keeps D smooth on the prior
        slope, = torch.autograd.grad(real.sum(), z_prior, create_graph=True)
        d_loss = d_loss + r1_gamma / 2 * slope.pow(2).sum(1).mean()
    critic.zero_grad(set_to_none=True)
    d_loss.backward()
    critic.step()

    fooled = model.discriminator(model.encode(x))
    g_loss = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
    encoder.zero_grad(set_to_none=True)
    g_loss.backward()
    encoder.step()
    return reconstruction.item(), d_loss.item(), g_loss.item()


def model_card(prior: str, cfg: dict, config: dict, params: int, digest: str) -> str:
    m, t = config["metrics"], config["training"]
    floor = weights.read_config(weights.weights_dir(evaluator.DEMO_ID))["metrics"]["fld_floor_real_vs_real"]
    return f"""# Adversarial autoencoder (Makhzani et al. 2016), {prior.replace('_', ' ')} prior, on MNIST

Encoder 784-512-512-2 and decoder 2-512-512-784 (ReLU, Bernoulli output), a discriminator 2-256-256-1
on the 2-D codes that tells prior samples from encoded digits; the encoder learns to fool it, which
pulls the codes of all digits onto the {prior.replace('_', ' ')} prior. {params:,} parameters.

## Data
Grayscale MNIST, the first 50,000 training images (intensities as Bernoulli targets); {t['last_epoch']}
epochs, no checkpoint selection (the last epoch is shipped); figures on the {m['examples']:,} test images.

## Training
Exact command: `python -m hub train aae` (trains both priors; this one is in `weights/aae/{prior}/`)
Reconstruction: Adam lr {cfg['lr']}; regularization: D Adam lr {cfg['critic_lr']} with an R1 penalty (gamma
{cfg['r1_gamma']}), the encoder as D's adversary Adam lr {cfg['adversarial_lr']}, betas {tuple(cfg['betas'])}; batch
{cfg['batch_size']}; seed {cfg['seed']}; {t['minutes']:.0f} minutes on {cfg['threads']} CPU thread(s).

## Metrics
| metric | value |
|---|---|
| test reconstruction cross-entropy (nats per digit) | {m['reconstruction_bce_nats']:.2f} |
| FLD of {m['samples']:,} digits decoded from prior samples, vs the test split | {m['fld']:.2f} |
| FLD floor: real vs real | {floor:.2f} |
| smallest share of any digit among samples (10% if even) | {100 * m['smallest_class_share']:.1f}% |
| evaluator's mean confidence on samples | {m['mean_confidence']:.3f} |

A 2-D code is a hard bottleneck: reconstructions are blurry and samples less sharp than a GAN's; the
point of this model is the shape of its code space, which the demo plots.

Reproduce: `python -m hub evaluate aae --json`.

## Files
- `model.safetensors` SHA-256: `{digest}`
- `config.json`, `train.log`
"""
