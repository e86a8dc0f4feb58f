"""Training of the adversarial autoencoders (one per prior) on grayscale MNIST.

Trained on the first 50,000 training images; after each epoch, digits decoded from prior samples
are compared with the 10,000 held-apart training images (Frechet LeNet Distance) and the best epoch
is kept. Final figures on the test split, and the hub's evaluator on digits decoded from prior samples.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hub import read_config, weights_dir
from hub.kit import adversarial, cards, data, evaluator, parameter_count, training, unit_images

from .model import DIGITS, PRIORS, AdversarialAutoencoder, sample_prior

DEFAULTS = dict(epochs=15, batch_size=100, lr=5e-4, adversarial_lr=5e-4, critic_lr=5e-4, betas=(0.5, 0.9),
                r1_gamma=1.0, label_guided=True, anneal=True, max_minutes=15, selection_samples=2000, samples=10_000,
                threads=1, seed=0)


def images(x: np.ndarray) -> torch.Tensor:
    return unit_images(x, (-1, 784))


@torch.no_grad()
def evaluate_prior(model: AdversarialAutoencoder, limit: int | None = None, seed: int = 1) -> dict:
    model.eval()
    x = images(data.spread_subset(data.mnist("test")[0], limit))
    reconstruction = sum(model.reconstruction_loss(x[i:i + 1000]).item() * len(x[i:i + 1000])
                         for i in range(0, len(x), 1000)) / len(x)
    parts = torch.arange(limit or DEFAULTS["samples"]) % DIGITS      # every part of the prior equally
    samples = model.sample(len(parts), torch.Generator().manual_seed(seed), parts).cpu().numpy()
    return {"split": "test", "examples": len(x), "reconstruction_bce_nats": round(reconstruction, 2),
            **evaluator.judge(samples, labels=parts.numpy() if model.label_guided else None)}


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


def train_prior(prior: str, out_dir: Path, epochs: int | None, seed: int | None, limit: int | None,
                **overrides) -> dict:
    cfg = training.settings(DEFAULTS, overrides, epochs=epochs, seed=seed)
    torch.set_num_threads(cfg["threads"])
    log = training.training_logger(f"aae.{prior}", out_dir)
    generator = training.seed_everything(cfg["seed"])
    x, y = data.mnist("train")
    x, y = images(x[:-evaluator.HELD_APART][:limit]), torch.from_numpy(y[:-evaluator.HELD_APART][:limit].astype(np.int64))
    reference = evaluator.held_apart_features(min(cfg["selection_samples"], limit or cfg["selection_samples"]))
    model = AdversarialAutoencoder(prior, label_guided=cfg["label_guided"])
    autoencoder = torch.optim.Adam([*model.encoder.parameters(), *model.decoder.parameters()], lr=cfg["lr"])
    critic = torch.optim.Adam(model.discriminator.parameters(), lr=cfg["critic_lr"], betas=cfg["betas"])
    encoder = torch.optim.Adam(model.encoder.parameters(), lr=cfg["adversarial_lr"], betas=cfg["betas"])
    schedules = [torch.optim.lr_scheduler.CosineAnnealingLR(o, cfg["epochs"]) for o in (autoencoder, critic, encoder)
                 if cfg["anneal"]]
    log.info("AAE with a %s prior, %d parameters, config %s", prior, parameter_count(model), cfg)
    optimizers = {"autoencoder": autoencoder, "critic": critic, "encoder": encoder}

    def step(batch):
        return aae_step(model, *batch, autoencoder, critic, encoder, generator, cfg["r1_gamma"])

    best = adversarial.fit(model, (x, y), step, cfg, log, generator, out_dir, optimizers,
                           score=lambda m: selection_fld(m, reference), schedules=tuple(schedules),
                           loss_names=("reconstruction", "D loss", "encoder-as-G loss"))
    torch.set_num_threads(max(torch.get_num_threads(), 2))
    metrics = {**evaluate_prior(model, limit), "selection_fld_held_apart": round(best["fld"], 3)}
    log.info("test metrics %s", json.dumps(metrics))
    config = {"model": {"prior": prior, "label_guided": cfg["label_guided"]}, "metrics": metrics,
              "training": {**cfg, "best_epoch": best["epoch"], "last_epoch": best["last_epoch"],
                           "minutes": round(best["minutes"], 1)}}
    cards.publish(out_dir, model, config, model_card(prior, cfg, config, parameter_count(model)))
    return metrics


@torch.no_grad()
def selection_fld(model: AdversarialAutoencoder, reference: np.ndarray) -> float:
    fake = model.sample(len(reference), torch.Generator().manual_seed(0)).cpu().numpy()
    return evaluator.frechet_distance(evaluator.outputs(evaluator.load(), fake)[0], reference)


def aae_step(model, x, digits, autoencoder, critic, encoder, generator, r1_gamma: float = 0.0) -> tuple[float, float, float]:
    """The paper's two phases on one batch: reconstruction, then regularization (D, then the
    encoder as D's adversary)."""
    reconstruction = model.reconstruction_loss(x)
    autoencoder.zero_grad(set_to_none=True)
    reconstruction.backward()
    autoencoder.step()

    z_prior = sample_prior(model.prior, len(x), generator, digits).requires_grad_(r1_gamma > 0)
    real, fake = model.critic(z_prior, digits), model.critic(model.encode(x).detach(), digits)
    d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
              + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if r1_gamma > 0:            # R1 penalty (Mescheder et al. 2018): keeps D smooth on the prior
        slope, = torch.autograd.grad(real.sum(), z_prior, create_graph=True)
        d_loss = d_loss + r1_gamma / 2 * slope.pow(2).sum(1).mean()
    critic.zero_grad(set_to_none=True)
    d_loss.backward()
    critic.step()

    fooled = model.critic(model.encode(x), digits)
    g_loss = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
    encoder.zero_grad(set_to_none=True)
    g_loss.backward()
    encoder.step()
    return reconstruction.item(), d_loss.item(), g_loss.item()


def model_card(prior: str, cfg: dict, config: dict, params: int) -> str:
    m, t = config["metrics"], config["training"]
    floor = read_config(weights_dir(evaluator.DEMO_ID))["metrics"]["fld_floor_real_vs_real"]
    return f"""# Adversarial autoencoder (Makhzani et al. 2016), {prior.replace('_', ' ')} prior, on MNIST

Encoder 784-512-512-2 and decoder 2-512-512-784 (ReLU, Bernoulli output), a discriminator 12-256-256-1
on the 2-D codes that tells prior samples from encoded digits; the encoder learns to fool it, which
pulls the codes of all digits onto the {prior.replace('_', ' ')} prior. {params:,} parameters.

Label-guided regularization (the paper's section 2.3, figure 4): the discriminator also sees the
digit as a one-hot vector, and the prior samples it is shown for digit d come from the d-th part of
the prior (the d-th Gaussian of the ring, the d-th tenth of the roll). The labels shape the code space
only through the discriminator; the decoder never sees them. Decoding samples from the d-th part
therefore draws a d, which the evaluator checks below.

## Data
Grayscale MNIST, the first 50,000 training images (intensities as Bernoulli targets) and their labels;
{t['last_epoch']} epochs; after each, {cfg['selection_samples']:,} digits decoded from the prior were compared with the
10,000 held-apart training images (FLD) and the best epoch kept (epoch {t['best_epoch']}, FLD {m['selection_fld_held_apart']:.1f});
figures on the {m['examples']:,} test images.

## Training
Exact command: `python -m hub train aae` (trains both priors; this one is in `weights/aae/{prior}/`)
Reconstruction: Adam lr {cfg['lr']}; regularization: D Adam lr {cfg['critic_lr']} with an R1 penalty (gamma
{cfg['r1_gamma']}), the encoder as D's adversary Adam lr {cfg['adversarial_lr']}, betas {tuple(cfg['betas'])}; every rate
cosine-annealed to zero over the epochs; batch {cfg['batch_size']}; seed {cfg['seed']}; {t['minutes']:.0f} minutes on {cfg['threads']} CPU thread(s).

## Metrics
| metric | value |
|---|---|
| test reconstruction cross-entropy (nats per digit) | {m['reconstruction_bce_nats']:.2f} |
| FLD of {m['samples']:,} digits decoded from prior samples, vs the test split | {m['fld']:.2f} |
| FLD floor: real vs real | {floor:.2f} |
| smallest share of any digit among samples (10% if even) | {100 * m['smallest_class_share']:.1f}% |
| evaluator reads digit d in samples from the d-th part of the prior | {100 * m['accuracy_on_requested_digit']:.1f}% |
| evaluator's mean confidence on samples | {m['mean_confidence']:.3f} |

A 2-D code is a hard bottleneck: reconstructions are blurry and samples far less sharp than a GAN's
(FLD in the hundreds, against 15-110 for the hub's GANs); the point of this model is the shape of its
code space, which the demo plots. The swiss roll, a thin curve, is the harder prior to fill.

Reproduce: `python -m hub evaluate aae --json`.
"""
