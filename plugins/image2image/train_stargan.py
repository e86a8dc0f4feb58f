"""Training and measuring StarGAN over the stroke domains (thickness, slant: labelled on MNIST) and the
style domains (MNIST, USPS), the two label sets joined by the mask vector."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from hub.kit import adversarial, cards, data, evaluator, parameter_count, strokes, training

from . import by_hand, domains
from .stargan import GROUPS, LABEL_SETS, StarGAN, domain_code, stroke_labels
from .train_cyclegan import per_digit, percent, signed

DEMO_ID = "stargan"
# The paper's generator depth (6 residual blocks) at half its width. The first one shipped, width 16 and 4 blocks,
# reached 87.3% on its weakest attribute and kept 92.0% of the digits; the second, width 32 with a critic of width
# 32, 93.0% and 92.4%. Its translations that lost the digit were visibly not real digits (broken strokes, blots,
# faint marks inside a 0 that carry what the reconstruction needs), which a critic should refuse: that critic had
# a twelfth of G's parameters (174k against 1.98M), where the paper's has five times its G's. Hence a critic twice as
# wide (675k); stored in float16, G and D stay under 10 MB. Trained from scratch for 30 epochs (the checkpoint of the
# last): weakest attribute 84.4% ("right"), style 99.8%, digit kept 95.5%; the digit rose 3.1 points, the weakest
# attribute fell 8.6.
MODEL = dict(width=32, blocks=6, critic_width=64)
# The paper's schedule: both rates held, then lowered linearly over the second half.
DEFAULTS = dict(**MODEL, lr=2e-4, betas=(0.5, 0.999), batch_size=16, n_critic=5, lambda_cls=1.0, lambda_rec=10.0,
                lambda_gp=10.0, ema_decay=0.999, epochs=30, decay_epochs=15, max_minutes=170, selection_digits=500,
                selection="aims", threads=2, seed=0)
# A run that goes on from earlier weights (`--init`): as many generator steps again, both rates lowered linearly
# as the paper does. Tried once before on the first shipped (width 16) weights for 4 of 7 epochs: on 1,000
# held-apart digits the digit kept rose 1 point (90.7% -> 91.6%) while "thick" fell 5 (87.0% -> 81.7%), which the
# shortfall from 1 then scored as worse; the shortfall from the aims (AIMS) scores it as better. Tried on the second
# shipped (width 32) weights: the held-apart digit kept rose from 89.4% to 91.5% by epoch 9 while the weakest
# attribute fell to 85.0%, then both fell, and the run was stopped after epoch 12. Its epoch 9 measured on the test
# splits: digit kept 94.2% (shipped: 92.4%), weakest attribute 84.8% ("right"; shipped: 93.0%), style 99.9%, still
# short of 95%. Going on from there with lambda_rec 5 and lr 1e-4 held the digit kept at 91.0% for two epochs.
CONTINUED = dict(epochs=20, decay_epochs=20, max_minutes=100, threads=2)
# What the issue aims at (the weakest attribute value, the style, the digit kept); the checkpoint is the one whose
# held-apart figures fall least short of them.
AIMS = dict(attribute_attainment_min=0.80, style_attainment=0.90, digit_kept=0.95)
STYLE_INDEX = {"mnist": 0, "usps": 1}
TARGET_NAMES = {"usps_style": "USPS style", "mnist_style": "MNIST style"}   # in the card


def split_data() -> dict:
    """Training digits: MNIST's first 50,000 (those inside a thickness band and a slant band carry the
    stroke labels; all of them carry the style label "mnist") and USPS's first 6,291 ("usps"). Held
    apart for choosing the checkpoint: MNIST's last 10,000 training digits and USPS's last 1,000."""
    mx, my = domains.mnist("train")
    ux, uy = domains.usps("train")
    mnist, usps = mx[:-evaluator.HELD_APART], ux[:-domains.USPS_VALID]
    labels = stroke_labels(mnist)
    labelled = (labels["thickness"] >= 0) & (labels["slant"] >= 0)
    return {"strokes": mnist[labelled], "thickness": labels["thickness"][labelled], "slant": labels["slant"][labelled],
            "mnist": mnist, "usps": usps,
            "valid": {"mnist": (mx[-evaluator.HELD_APART:], my[-evaluator.HELD_APART:]),
                      "usps": (ux[-domains.USPS_VALID:], uy[-domains.USPS_VALID:])}}


def style_reader(limit: int | None = None) -> domains.LeNet:
    """The style classifier: the protocol's LeNet trained on real training digits, MNIST (0) against USPS
    (1), as many of each (`limit`: that many of each)."""
    ux, _ = domains.usps("train")
    ux = data.spread_subset(ux, limit)
    mx = data.spread_subset(domains.mnist("train")[0], len(ux))
    return domains.train_lenet(np.concatenate([mx, ux]), np.repeat([0, 1], [len(mx), len(ux)]))


def translate_all(model: StarGAN, images: np.ndarray, code: torch.Tensor) -> np.ndarray:
    """G(x, c) for every image, 1000 at a time; `code` [N, CODE]."""
    return np.concatenate([model.translate(torch.from_numpy(images[i:i + 1000]), code[i:i + 1000]).numpy()
                           for i in range(0, len(images), 1000)])


def attribute_targets(labels: dict) -> dict[str, tuple[str, torch.Tensor]]:
    """For every attribute value, the codes that ask for it and keep the digit's other stroke attribute
    in its nearest band (`labels`: `stroke_labels(x, nearest=True)`)."""
    targets = {}
    for group in LABEL_SETS["strokes"]:
        for index, value in enumerate(GROUPS[group]):
            chosen = {g: torch.from_numpy(labels[g]) for g in LABEL_SETS["strokes"]}
            chosen[group] = torch.full((len(labels[group]),), index)
            targets[value] = (group, domain_code("strokes", **chosen))
    return targets


def measure(model: StarGAN, mnist: tuple, usps: tuple, reader: domains.LeNet) -> dict:
    """Every StarGAN figure on (images, labels) of both styles: attribute attainment per value (the share
    of G(x, c) whose measured band is the target's) beside its base rate (inputs already there), style
    attainment (the style classifier reads the target style), the digit kept (the hub's evaluator
    reads x's label from every translation; also per target, beside how often it reads the untranslated
    inputs right, and per change of band, from the input's band to the one asked for), and the
    reconstruction error |x - G(G(x, c), c')|."""
    model = getattr(model, "module", model).eval()
    mx, my = mnist
    judge = evaluator.load()
    own = stroke_labels(mx, nearest=True)
    own_code = domain_code("strokes", **{g: torch.from_numpy(own[g]) for g in LABEL_SETS["strokes"]})
    input_bands = stroke_labels(mx)
    attainment, base_rate, outputs, labels, errors, targets, input_band_of = {}, {}, [], [], [], [], {}

    def keep(target, translated, x, y, back_code):
        targets.append((target, len(y)))
        outputs.append(translated)
        labels.append(y)
        errors.append(np.abs(translate_all(model, translated, back_code) - x).mean())

    for value, (group, code) in attribute_targets(own).items():
        translated = translate_all(model, mx, code)
        index = GROUPS[group].index(value)
        attainment[value] = round(float((stroke_labels(translated)[group] == index).mean()), 4)
        base_rate[value] = round(float((input_bands[group] == index).mean()), 4)
        input_band_of[value] = group
        keep(value, translated, mx, my, own_code)
    style = {}
    for name, (x, y), target in (("mnist_to_usps", mnist, "usps"), ("usps_to_mnist", usps, "mnist")):
        there = domain_code("style", style=torch.full((len(x),), STYLE_INDEX[target]))
        back = domain_code("style", style=torch.full((len(x),), 1 - STYLE_INDEX[target]))
        translated = translate_all(model, x, there)
        style[name] = round(float((domains.predict(reader, translated) == STYLE_INDEX[target]).mean()), 4)
        keep(f"{target}_style", translated, x, y, back)
    read = evaluator.outputs(judge, np.concatenate(outputs))[1].argmax(1)
    truth = np.concatenate(labels)
    kept = read == truth
    ends = np.cumsum([n for _, n in targets])
    kept_of = {target: kept[end - n:end] for (target, n), end in zip(targets, ends)}
    by_target = {target: round(float(shares.mean()), 4) for target, shares in kept_of.items()}
    by_change = {f"{source}_to_{target}": share_of(kept_of[target][input_bands[group] == index])
                 for target, group in input_band_of.items() for index, source in enumerate(GROUPS[group])}
    on_inputs = {name: round(float((evaluator.outputs(judge, x)[1].argmax(1) == y).mean()), 4)
                 for name, (x, y) in (("mnist", mnist), ("usps", usps))}
    return {"attribute_attainment": attainment, "attribute_attainment_min": min(attainment.values()),
            "base_rate": base_rate,
            "style_attainment": round(float(np.mean(list(style.values()))), 4),
            "style_attainment_by_direction": style,
            "digit_kept": round(float(kept.mean()), 4), "digit_kept_per_digit": per_digit(read, truth),
            "digit_kept_by_target": by_target, "digit_kept_by_change": by_change, "digit_read_on_inputs": on_inputs,
            "reconstruction_error": round(float(np.mean(errors)), 4)}


def share_of(hits: np.ndarray) -> float | None:
    """The share of True in `hits`, None when there is none to count."""
    return round(float(hits.mean()), 4) if hits.size else None


def selection_score(valid: dict, n: int, reader: domains.LeNet, log=None):
    """Lower is better, on held-apart digits: how far the three rates of AIMS fall short of their aims, plus a
    hundredth of how far they fall short of 1 (which ranks checkpoints that meet every aim). Each rate is
    logged."""
    mnist, usps = ((data.spread_subset(x, n), data.spread_subset(y, n)) for x, y in (valid["mnist"], valid["usps"]))

    def score(model: StarGAN) -> float:
        m = measure(model, mnist, usps, reader)
        rates = {name: m[name] for name in AIMS}
        if log:
            log.info("held-apart %s", "  ".join(f"{name} {rate:.4f}" for name, rate in rates.items()))
        return (sum(max(0.0, AIMS[name] - rate) for name, rate in rates.items())
                + 0.01 * sum(1 - rate for rate in rates.values()))
    return score


def train(out_dir: Path, epochs: int | None = None, seed: int | None = None, limit: int | None = None,
          init: Path | None = None) -> dict:
    cfg = training.settings(DEFAULTS, CONTINUED if init else {}, epochs=epochs, seed=seed)
    torch.set_num_threads(cfg["threads"])
    out_dir = Path(out_dir)
    log = training.training_logger(DEMO_ID, out_dir)
    generator = training.seed_everything(cfg["seed"])
    split = split_data()
    strokes_x = signed(split["strokes"][:limit])
    strokes_codes = domain_code("strokes", thickness=torch.from_numpy(split["thickness"][:limit]),
                                slant=torch.from_numpy(split["slant"][:limit]))
    style_x = {name: signed(split[name][:limit]) for name in STYLE_INDEX}
    model, cfg, earlier = adversarial.start(StarGAN, cfg, init)
    log.info("StarGAN, %d parameters (G %d, D %d); %d digits with stroke labels, %d MNIST and %d USPS digits; config %s",
             parameter_count(model), parameter_count(model.G), parameter_count(model.D), len(strokes_x),
             len(style_x["mnist"]), len(style_x["usps"]), cfg)
    optimizers = {"generator": torch.optim.Adam(model.G.parameters(), lr=cfg["lr"], betas=cfg["betas"]),
                  "discriminator": torch.optim.Adam(model.D.parameters(), lr=cfg["lr"], betas=cfg["betas"])}
    average = training.weight_average(model, cfg["ema_decay"], buffers=True)
    weights = {"gp": cfg["lambda_gp"], "cls": cfg["lambda_cls"], "rec": cfg["lambda_rec"]}
    iteration = [0]

    def style_batch(size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Half MNIST, half USPS digits, with their style codes."""
        halves = [(style_x[name][torch.randint(len(style_x[name]), (size // 2,), generator=generator)], index)
                  for name, index in STYLE_INDEX.items()]
        x = torch.cat([h for h, _ in halves])
        return x, domain_code("style", style=torch.tensor([i for h, i in halves for _ in range(len(h))]))

    def random_codes(label_set: str, size: int) -> torch.Tensor:
        return domain_code(label_set, **{g: torch.randint(len(GROUPS[g]), (size,), generator=generator)
                                         for g in LABEL_SETS[label_set]})

    def step(batch):
        """One critic iteration on each label set in turn (the paper alternates data sets); G every
        n_critic iterations."""
        losses = np.zeros(4)
        for label_set, (x, own) in (("strokes", batch), ("style", style_batch(len(batch[0])))):
            target = random_codes(label_set, len(x))
            d_loss, d_parts = model.discriminator_loss(x, own, target, label_set, weights, generator)
            adversarial.optimizer_step(optimizers["discriminator"], d_loss)
            losses[:2] += d_parts["D adversarial"], d_parts["D cls"]
            iteration[0] += 1
            if iteration[0] % cfg["n_critic"] == 0:
                g_loss, g_parts = model.generator_loss(x, own, target, label_set, weights)
                adversarial.optimizer_step(optimizers["generator"], g_loss)
                average.update_parameters(model)
                losses[2:] += cfg["n_critic"] * g_parts["G cls"], cfg["n_critic"] * g_parts["reconstruction"]
        return losses / 2

    reader = style_reader()
    score = selection_score(split["valid"], cfg["selection_digits"], reader, log)
    best = adversarial.fit(model, (strokes_x, strokes_codes), step, cfg, log, generator, out_dir, optimizers,
                           score=score, average=average, schedules=adversarial.decay_schedules(optimizers, cfg),
                           score_name="shortfall (held-apart)",
                           loss_names=("D adversarial", "D cls", "G cls", "reconstruction"))
    torch.set_num_threads(max(torch.get_num_threads(), 2))
    model.half().float()             # the figures are those of the float16 weights that ship
    metrics = evaluate(model, limit)
    log.info("test metrics %s", json.dumps(metrics))
    config = {"model": adversarial.model_settings(StarGAN, cfg), "metrics": metrics,
              "training": {**cfg, "best_epoch": best["epoch"], "last_epoch": best["last_epoch"],
                           "selection_shortfall": round(best["fld"], 4), "minutes": round(best["minutes"], 1),
                           "generator_steps": generator_steps(best["last_epoch"], len(strokes_x), cfg),
                           "parameters": parameter_count(model),
                           "stroke_labelled_digits": len(strokes_x),
                           **({"continued_from": earlier["training"]} if earlier else {})}}
    config["subset_check"] = subset_check(model)
    cards.publish(out_dir, model, config, model_card(config), dtype=torch.float16)    # G and D in 10 MB
    return metrics


def generator_steps(epochs: int, stroke_digits: int, cfg: dict) -> int:
    """G's updates in `epochs` epochs: a critic iteration per label set for every batch, G every n_critic
    (counted from the epochs, since a run that resumed counts its iterations again from 0)."""
    batches = -(-stroke_digits // cfg["batch_size"])
    return epochs * batches * len(LABEL_SETS) // cfg["n_critic"]


SUBSET = 300                  # test digits of each style for the quick check


def subset_check(model: StarGAN) -> dict:
    """The figures on a fixed subset, which `python -m hub evaluate stargan --limit 300` reproduces."""
    return {"demo": DEMO_ID, "limit": SUBSET, "metrics": evaluate(model, SUBSET)}


def evaluate(model: StarGAN, limit: int | None = None) -> dict:
    """Every figure on the test splits (`limit`: that many test digits of each style, and a style
    classifier trained on ten times as many)."""
    mnist = tuple(data.spread_subset(a, limit) for a in domains.mnist("test"))
    usps = tuple(data.spread_subset(a, limit) for a in domains.usps("test"))
    reader = style_reader(10 * limit if limit else None)
    style_real = {name: round(float((domains.predict(reader, x) == STYLE_INDEX[name]).mean()), 4)
                  for name, (x, _) in (("mnist", mnist), ("usps", usps))}
    return {"split": "test", "mnist_examples": len(mnist[0]), "usps_examples": len(usps[0]),
            **measure(model, mnist, usps, reader), "style_reader_accuracy_on_real": style_real,
            "by_hand": by_hand_reference(mnist, usps, reader)}


def by_hand_reference(mnist: tuple, usps: tuple, reader: domains.LeNet) -> dict:
    """The slant and style changes made by hand (`by_hand`): each MNIST digit sheared to the median slant
    of the training digits in the target band, a USPS digit laid out as MNIST's are and an MNIST digit as
    USPS's are; the share that reaches the target (band; style, by the style classifier) and the share
    whose label the evaluator still reads."""
    train = domains.mnist("train")[0][:-evaluator.HELD_APART]
    slant, band = strokes.measure(train)[1], stroke_labels(train)["slant"]
    changed = {value: (by_hand.shear(mnist[0], float(np.median(slant[band == index]))), mnist[1],
                       lambda x, index=index: stroke_labels(x)["slant"] == index)
               for index, value in enumerate(GROUPS["slant"])}
    changed["usps_style"] = (by_hand.as_usps(mnist[0]), mnist[1],
                             lambda x: domains.predict(reader, x) == STYLE_INDEX["usps"])
    changed["mnist_style"] = (by_hand.as_mnist(usps[0]), usps[1],
                              lambda x: domains.predict(reader, x) == STYLE_INDEX["mnist"])
    judge = evaluator.load()
    return {"attained": {target: round(float(reached(x).mean()), 4) for target, (x, _, reached) in changed.items()},
            "digit_kept": {target: round(evaluator.accuracy(judge, x, y), 4) for target, (x, y, _) in changed.items()}}


def model_card(config: dict) -> str:
    m, t, c = config["metrics"], config["training"], config["model"]
    rows = "\n".join(f"| {group} | {value} | **{percent(m['attribute_attainment'][value])}** | "
                     f"{percent(m['base_rate'][value])} |"
                     for group in LABEL_SETS["strokes"] for value in GROUPS[group])
    digit_rows = " | ".join(percent(m["digit_kept_per_digit"][str(d)]) for d in range(10))
    style = m["style_attainment_by_direction"]
    return f"""# StarGAN (Choi et al. 2018): one generator for thickness, slant and style

One generator G(x, c) (the CycleGAN generator: c7s1-{c['width']}, two stride-2 convolutions, {c['blocks']} residual
blocks at 7 x 7, two transposed convolutions, c7s1-1; the domain code c tiled over the image as extra
input channels) and one discriminator with two heads, D_src (a 3 x 3 map of WGAN critic scores) and
D_cls (a logit per attribute value); {t['parameters']:,} parameters in all.

## Domains and data
- Stroke thickness (thin, thick) and slant (left, upright, right), measured on each digit as the
  text-to-image captions measure them (`hub.kit.strokes`): MNIST's first 50,000 training digits that
  fall inside a band of both, {t['stroke_labelled_digits']:,} digits.
- Style (MNIST, USPS): the same 50,000 MNIST digits and USPS's first 6,291 training digits, upscaled
  to 28 x 28 (as in the CycleGAN demo).
The two label sets come from different data, so every code ends with the paper's mask vector saying
which set it speaks for; D_cls is asked only about that set's labels. Checkpoint chosen on held-apart
digits (MNIST's last 10,000 training digits, USPS's last 1,000) {selection_rule(t)}: epoch {t['best_epoch']} of
{t['last_epoch']}.

## Training
Exact command: {training.commands(DEMO_ID, t)}
WGAN-GP (lambda_gp {t['lambda_gp']}), lambda_cls {t['lambda_cls']}, lambda_rec {t['lambda_rec']}, n_critic {t['n_critic']} (the paper's), one
critic iteration on each label set in turn; Adam (lr {t['lr']}, betas {tuple(t['betas'])}; the paper's 1e-4 is
slower than this budget allows{adversarial.decay_phrase(t)}), batch {t['batch_size']}, an exponential moving average of the weights (decay
{t['ema_decay']}); {t['generator_steps']:,} generator steps, seed {t['seed']}; {t['minutes']:.0f} minutes on {t.get('threads', 2)} CPU thread(s).{adversarial.continuation(t)}

## Metrics (test splits: {m['mnist_examples']:,} MNIST digits, {m['usps_examples']:,} USPS digits)
Attribute attainment: each MNIST test digit is asked for each value of one attribute, the other
kept in its nearest band; the share whose measured band is the target, beside the base rate (how
many inputs were already there):

| attribute | value | attained | base rate |
|---|---|---|---|
{rows}

Smallest: **{percent(m['attribute_attainment_min'])}**. Style attainment (a LeNet trained on real MNIST against
real USPS, {percent(m['style_reader_accuracy_on_real']['mnist'])} / {percent(m['style_reader_accuracy_on_real']['usps'])} right on real MNIST / USPS test digits,
reads the target style): **{percent(m['style_attainment'])}** ({percent(style['mnist_to_usps'])} MNIST -> USPS, {percent(style['usps_to_mnist'])} USPS -> MNIST).
Digit kept (the hub's evaluator reads the input's label from every translation above):
**{percent(m['digit_kept'])}**; per digit 0-9: {digit_rows}.
{by_target(m)}
{by_hand_sentence(m)}
{change_tables(m)}
Reconstruction error |x - G(G(x, c), c')| (pixels in [0, 1]): {m['reconstruction_error']}.
Anchor: the paper judges its CelebA translations with a classifier trained on real attributes
(Table 2); so do these figures, with measured bands in place of a classifier for the strokes.

{shortfalls(config)}
Reproduce: `python -m hub evaluate stargan --json`.
"""


def selection_rule(t: dict) -> str:
    """How the run chose its checkpoint, in words (runs before AIMS scored the shortfall from 1 alone)."""
    if t.get("selection") != "aims":
        return "by how far attainment, style and digit kept fall short of 1"
    aims = ", ".join(percent(aim) for aim in AIMS.values())
    return (f"by how far the weakest attribute value, the style and the digit kept fall short of the aims ({aims}), "
            "ties broken by how far they fall short of 1")


def by_target(m: dict) -> str:
    """The digit kept per target domain, beside how often the evaluator reads the untranslated inputs."""
    if "digit_kept_by_target" not in m:
        return ""
    kept, raw = m["digit_kept_by_target"], m["digit_read_on_inputs"]
    return ("Per target domain: " + ", ".join(f"{TARGET_NAMES.get(target, target)} {percent(share)}"
                                             for target, share in kept.items())
            + f"; the evaluator reads {percent(raw['mnist'])} of the untranslated MNIST test digits and "
              f"{percent(raw['usps'])} of the USPS ones right.")


def by_hand_sentence(m: dict) -> str:
    """What the slant and style changes keep when made by hand, beside what G keeps."""
    if "by_hand" not in m:
        return ""
    hand = m["by_hand"]

    def listed(shares: dict) -> str:
        return ", ".join(f"{TARGET_NAMES.get(target, target)} {percent(share)}" for target, share in shares.items())
    return ("Made by hand instead, with geometry alone (`plugins/image2image/by_hand.py`: each MNIST digit sheared "
            "to the median slant of the training digits in the target band; a USPS digit fitted into MNIST's "
            "20 x 20 box and centred by its mass, an MNIST digit fitted to the whole frame as USPS digits are), "
            f"the same changes keep the digit in {listed(hand['digit_kept'])}, and reach the target in "
            f"{listed(hand['attained'])}: what a change of slant or style costs by itself.")


def change_tables(m: dict) -> str:
    """The digit kept by the band each input was in (rows) and the band asked for (columns), per attribute."""
    if "digit_kept_by_change" not in m:
        return ""
    change = m["digit_kept_by_change"]

    def cell(key):
        return "-" if change[key] is None else percent(change[key])

    tables = []
    for group in LABEL_SETS["strokes"]:
        values = GROUPS[group]
        rows = "\n".join(f"| {source} | " + " | ".join(cell(f"{source}_to_{target}") for target in values) + " |"
                         for source in values)
        tables.append(f"| {group} of the input | {' | '.join(values)} |\n|---|{'---|' * len(values)}\n{rows}")
    return ("\nDigit kept by the band the input was in (rows) and the band asked for (columns); inputs between two "
            "bands are left out:\n\n" + "\n\n".join(tables) + "\n")


def worst_change(m: dict) -> str:
    """The change of band that loses the most digits, in words, or "" when it is not measured."""
    change = {key: share for key, share in m.get("digit_kept_by_change", {}).items() if share is not None}
    if not change:
        return ""
    key = min(change, key=change.get)
    source, target = key.split("_to_")
    return f"; the worst change of band: {source} -> {target} keeps it in {percent(change[key])}"


def lost_by_g(m: dict) -> str:
    """Where G keeps fewer digits than the same change made by hand (one that reaches its target in at
    least 90%, so that the two changes compare), the targets and both shares."""
    hand, kept = m.get("by_hand", {"digit_kept": {}, "attained": {}}), m.get("digit_kept_by_target", {})
    behind = [f"{TARGET_NAMES.get(t, t)} {percent(kept[t])} against {percent(share)}"
              for t, share in hand["digit_kept"].items()
              if t in kept and kept[t] < share and hand["attained"][t] >= 0.9]
    return (" Made by hand, those changes lose fewer digits (" + "; ".join(behind) + "): the loss is the "
            "generator's, not the change's.") if behind else ""


def shortfalls(config: dict) -> str:
    m, t = config["metrics"], config["training"]
    lines = [f"- {value}: attained in {percent(share)}, short of the 80% aimed at."
             for value, share in m["attribute_attainment"].items() if share < 0.8]
    if m["style_attainment"] < 0.9:
        lines.append(f"- Style attained in {percent(m['style_attainment'])}, short of the 90% aimed at.")
    if m["digit_kept"] < 0.95:
        lines.append(f"- Digit kept in {percent(m['digit_kept'])}, short of the 95% aimed at{worst_change(m)}."
                     + lost_by_g(m))
    if t["last_epoch"] < t["epochs"]:
        stalled = (f", its held-apart score no better after epoch {t['best_epoch']}: more time alone would likely not "
                   f"close the gap" if t["last_epoch"] - t["best_epoch"] >= 3 else "")
        lines.append(f"- The run stopped at its {t['max_minutes']}-minute budget after epoch {t['last_epoch']} of "
                     f"{t['epochs']}{stalled}.")
    return ("## Short of the aim\n" + "\n".join(lines) + "\n") if lines else ""


if __name__ == "__main__":           # renders the card again from the saved config (its text changed)
    import sys

    from hub import load_model, weights_dir

    trained, saved = load_model(StarGAN, weights_dir(DEMO_ID))
    if "--measure" in sys.argv:      # and measures the shipped weights again first (figures were added)
        saved.update(metrics=evaluate(trained), subset_check=subset_check(trained))
    if cards.publish(weights_dir(DEMO_ID), trained, saved, model_card(saved)) != saved["sha256"]:
        raise RuntimeError("re-saving the weights changed their bytes")
