"""One training scaffold for every GAN-like model, so that a new GAN is its nets and its loss.

- `AdversarialNet`: the base a paper's model subclasses. It holds `generator` and `discriminator`,
  draws G's input (`latent`), and scores with the standard loss: the discriminator's binary
  cross-entropy with one-sided label smoothing, and the generator's non-saturating -log D(G(z))
  (Goodfellow et al. 2014, Sec. 3) in place of log(1 - D(G(z))). A paper overrides what it changes.
- `train_gan`: Adam for G and D, one D step then one G step per batch, an exponential moving
  average of the whole model (batch-norm statistics too), optionally both learning rates decayed
  linearly over the last epochs, and `fit`'s epoch loop.
- `fit`: the epoch loop any adversarial model can use (the AAE's too): tqdm, a log line per
  epoch, the checkpoint with the best Frechet LeNet Distance against held-apart training digits,
  a wall-clock budget, and resuming after an interrupted run from `<out_dir>/resume.pt` (the
  epoch loop is `training.run_epochs`, shared with every other training).
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..weights import load_model
from . import evaluator, training
from .images import to_signed, to_unit, unit_images

def discriminator_bce(real_logit: torch.Tensor, fake_logit: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), the real target smoothed to `real_label` (one-sided smoothing)."""
    return (F.binary_cross_entropy_with_logits(real_logit, torch.full_like(real_logit, real_label))
            + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))


def generator_bce(fake_logit: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss -log D(G(z))."""
    return F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))


class AdversarialNet(nn.Module):
    """A generator G(latent) -> images [n, 1, 28, 28] in [-1, 1] and a discriminator D(x) -> one logit per
    image. Subclasses set `self.generator`, `self.discriminator`, `self.z_dim`, and override `latent`,
    `discriminate` or the losses where their paper differs. `CONTROLS` names what a user may set besides
    the seed, as `latent`'s keyword arguments: "digit" (a conditional G), "category" and "codes" (InfoGAN)."""
    z_dim: int
    CONTROLS: tuple[str, ...] = ()

    def latent(self, n: int, generator: torch.Generator | None = None, **codes) -> torch.Tensor:
        """G's input for n samples: z ~ N(0, I)."""
        return torch.randn(n, self.z_dim, generator=generator).to(self.device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def generate(self, latent: torch.Tensor) -> torch.Tensor:
        return self.generator(latent)

    def discriminate(self, x: torch.Tensor, digits: torch.Tensor | None = None) -> torch.Tensor:
        """The logit that x is real; `digits` are x's labels, for a conditional D."""
        return self.discriminator(x)

    def digits_of(self, latent: torch.Tensor) -> torch.Tensor | None:
        """The digits a latent asks for (a conditional G), else None."""
        return None

    def discriminator_loss(self, real, digits, fake, latent, real_label: float) -> torch.Tensor:
        return discriminator_bce(self.discriminate(real, digits), self.discriminate(fake, self.digits_of(latent)),
                                 real_label)

    def generator_loss(self, fake, latent) -> torch.Tensor:
        return generator_bce(self.discriminate(fake, self.digits_of(latent)))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, **codes) -> torch.Tensor:
        """n images [n, 28, 28] in [0, 1]."""
        self.eval()
        return to_unit(self.generate(self.latent(n, generator, **codes))[:, 0])


@torch.no_grad()
def realness(model: AdversarialNet, images) -> torch.Tensor:
    """D's logit that each image [N, 28, 28] in [0, 1] is a real digit (a demo's `discriminator_score`). A
    conditional D is asked about every digit, and its most convinced answer kept."""
    model.eval()
    x = to_signed(unit_images(images, (-1, 1, 28, 28))).to(model.device)
    if "digit" not in model.CONTROLS:
        return model.discriminate(x).cpu()
    digits = torch.arange(10, device=model.device)
    return torch.stack([model.discriminate(x, digit.expand(len(x))) for digit in digits]).amax(0).cpu()


def sample_images(model, n: int, seed: int, chunk: int = 1000, **codes) -> np.ndarray:
    """n samples [n, 28, 28] in [0, 1] from one seed, drawn `chunk` at a time; `codes` (tensors of n) are
    split alongside."""
    generator = torch.Generator().manual_seed(seed)
    return np.concatenate([model.sample(min(chunk, n - i), generator,
                                        **{k: v[i:i + chunk] for k, v in codes.items()}).cpu().numpy()
                           for i in range(0, n, chunk)])


def selection_fld(reference: np.ndarray) -> Callable[[nn.Module], float]:
    """The checkpoint score: FLD of as many samples (seed 0) as `reference` has held-apart digit features."""
    def score(model) -> float:
        fake = sample_images(model, len(reference), seed=0)
        return evaluator.frechet_distance(evaluator.outputs(evaluator.load(), fake)[0], reference)
    return score


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def gan_step(model: AdversarialNet, real, digits, optimizers: dict, generator, real_label: float) -> tuple:
    """One discriminator step, then one generator step on the same fakes."""
    # drawn for every paper, conditional or not: each run keeps the random stream that made its shipped weights
    fake_digits = torch.randint(0, 10, (len(real),), generator=generator)
    latent = model.latent(len(real), generator, **({"digits": fake_digits} if "digit" in model.CONTROLS else {}))
    fake = model.generate(latent)
    d_loss = model.discriminator_loss(real, digits, fake.detach(), latent, real_label)
    optimizer_step(optimizers["discriminator"], d_loss)
    g_loss = model.generator_loss(fake, latent)
    optimizer_step(optimizers["generator"], g_loss)
    return d_loss.item(), g_loss.item()


def train_gan(model: AdversarialNet, images: torch.Tensor, digits: torch.Tensor, reference: np.ndarray, cfg: dict,
              log, generator, out_dir: Path, report: Callable[[nn.Module], str] | None = None) -> dict:
    """Train `model` on `images` [N, 1, 28, 28] in [-1, 1] (with their `digits`), keeping the checkpoint
    whose samples are nearest (FLD) the `reference` features (`evaluator.held_apart_features(n)`). cfg: lr,
    betas, generator_lr (G's, if not lr), batch_size, real_label, ema_decay, epochs, max_minutes, and
    optionally decay_epochs (see `linear_decay`).
    Leaves the best checkpoint of the weight average in `model`; returns `fit`'s record."""
    optimizers = {
        "generator": torch.optim.Adam(model.generator.parameters(), lr=cfg.get("generator_lr", cfg["lr"]),
                                      betas=cfg["betas"]),
        "discriminator": torch.optim.Adam(model.discriminator.parameters(), lr=cfg["lr"], betas=cfg["betas"])}
    average = training.weight_average(model, cfg["ema_decay"], buffers=True)

    def step(batch):
        losses = gan_step(model, *batch, optimizers, generator, cfg["real_label"])
        average.update_parameters(model)
        return losses

    return fit(model, (images, digits), step, cfg, log, generator, out_dir, optimizers, score=selection_fld(reference),
               average=average, schedules=decay_schedules(optimizers, cfg), loss_names=("D loss", "G loss"), report=report)


def linear_decay(optimizer: torch.optim.Optimizer, epochs: int, decay_epochs: int):
    """The learning rate held for epochs - decay_epochs epochs, then lowered linearly each epoch, to
    1 / decay_epochs of itself in the last one: late in a run, full-size steps keep G circling the
    equilibrium; smaller ones let it settle."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda done: min(1.0, (epochs - done) / decay_epochs))


def decay_schedules(optimizers: dict, cfg: dict) -> tuple:
    """`linear_decay` for every optimizer when cfg asks for it with decay_epochs, else none."""
    if not cfg.get("decay_epochs"):
        return ()
    return tuple(linear_decay(o, cfg["epochs"], cfg["decay_epochs"]) for o in optimizers.values())


def decay_phrase(cfg: dict, rates: str = "both rates") -> str:
    """The card's words for `decay_schedules` ("" when there is no decay), to follow a sentence on the rates."""
    if not cfg.get("decay_epochs"):
        return ""
    return (f"; {rates} held for {cfg['epochs'] - cfg['decay_epochs']} epochs, then lowered linearly over the last "
            f"{cfg['decay_epochs']} (to 1/{cfg['decay_epochs']} of themselves in the last one)")


def model_settings(paper: type, cfg: dict) -> dict:
    """The settings `paper`'s constructor takes, from the run's settings (what config.json's "model" holds)."""
    return {name: cfg[name] for name in inspect.signature(paper).parameters if name in cfg}


def start(paper: type, cfg: dict, init: Path | None) -> tuple[nn.Module, dict, dict | None]:
    """(the nets, the run's settings, the earlier run's config): new nets from cfg, or with `init` the nets
    of the earlier run saved there, G and D as it left them (their weight averages), and its nets' settings."""
    if init is None:
        return paper(**model_settings(paper, cfg)), cfg, None
    model, earlier = load_model(paper, init)
    return model, {**cfg, **earlier["model"]}, earlier


def continuation(t: dict) -> str:
    """The card's words on the earlier run a run went on from ("" for a run from scratch)."""
    earlier = t.get("continued_from")
    if not earlier:
        return ""
    total = t["minutes"] + earlier["minutes"]
    return (f"\nThis run went on from the weights of an earlier one: G and D as that run left them (its weight average "
            f"at its epoch {earlier['best_epoch']} of {earlier['last_epoch']}, {earlier['minutes']:.0f} minutes with "
            f"lr {earlier['lr']} for D and {earlier.get('generator_lr', earlier['lr'])} for G"
            f"{decay_phrase(earlier) or ', held constant'}), with fresh Adam state; {total:.0f} minutes of "
            "training in all.")


def fit(model: nn.Module, columns: tuple, step: Callable[[tuple], tuple], cfg: dict, log, generator,
        out_dir: Path, optimizers: dict, score: Callable[[nn.Module], float], average: nn.Module | None = None,
        schedules: tuple = (), loss_names: tuple = (), report: Callable[[nn.Module], str] | None = None,
        score_name: str = "FLD vs held-apart", maximise: bool = False) -> dict:
    """Epochs of shuffled batches of `columns`; `step(batch)` updates the model and returns its losses.
    After each epoch the scored module (the `average`'s module if given, else `model`) is measured by
    `score` (an FLD unless `score_name` says otherwise: lower is better, unless `maximise`) and the best state kept
    (`training.run_epochs`, which also keeps the time budget and resumes an interrupted run from
    `out_dir`). `model` ends with the best state; the result's "fld" is its score."""
    scored = average.module if average is not None else model
    count, size = len(columns[0]), cfg["batch_size"]
    steps = -(-count // size)

    def one_epoch(epoch: int) -> str:
        model.train()
        totals = np.zeros(len(loss_names))
        for idx in tqdm(training.batches(count, size, generator), desc=f"epoch {epoch}", total=steps, leave=False):
            totals += step(tuple(column[idx] for column in columns))
        for schedule in schedules:
            schedule.step()
        losses = "  ".join(f"{name} {total / steps:.3f}" for name, total in zip(loss_names, totals))
        return losses + (f"  {report(scored)}" if report else "")

    modules = {"model": model, **({"average": average} if average is not None else {})}
    checkpoints = training.Checkpoints(out_dir, modules, optimizers, schedules, generator)
    best = training.run_epochs(one_epoch, score, scored, cfg, log, checkpoints, maximise, score_name=score_name)
    model.load_state_dict(best["state"])
    return {**best, "fld": best["score"]}
