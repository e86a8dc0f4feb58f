"""Model cards are data: what a card says lives in config.json under "card" (a title and sections of
Markdown), beside the measured "metrics" and the weights' "sha256"; `render` is the one template
that writes every weights/<demo>/README.md from it."""
from __future__ import annotations

from pathlib import Path

from .. import weights

GENERATED = ("Files",)        # sections the template writes itself


def sections_of(markdown: str) -> dict:
    """A card written as Markdown -> its data: {"title": ..., "sections": [[heading, text], ...]};
    the text before the first "## " heading is the section with heading ""."""
    lines = markdown.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError("a model card starts with its '# title' line")
    sections, heading, body = [], "", []
    for line in lines[1:] + ["## "]:
        if line.startswith("## "):
            if heading not in GENERATED and (heading or "\n".join(body).strip()):
                sections.append([heading, "\n".join(body).strip()])
            heading, body = line[3:].strip(), []
        else:
            body.append(line)
    return {"title": lines[0][2:].strip(), "sections": sections}


def render(config: dict, directory: Path) -> str:
    """The README.md of a weights folder, from its config.json alone (and the names of its files)."""
    card = config["card"]
    parts = [f"# {card['title']}"]
    for heading, text in card["sections"]:
        parts.append(f"## {heading}\n{text}" if heading else text)
    if "subset_check" in config:
        parts.append(quick_check(config["subset_check"]))
    files = sorted(p.name for p in Path(directory).iterdir() if p.is_file() and p.name != weights.CARD_FILE)
    listed = [f"- `{name}` SHA-256: `{config['sha256']}`" if name == weights.WEIGHTS_FILE else f"- `{name}`"
              for name in files]
    parts.append("## Files\n" + "\n".join(listed) + "\n\n`config.json` holds this card's content, the model's "
                 "settings and the measured metrics; this file is rendered from it.")
    return "\n\n".join(parts) + "\n"


def quick_check(check: dict) -> str:
    """The figures on a fixed subset of the test split, which a quick run can compare with (the tests do)."""
    def plain(figures: dict) -> list[str]:
        return [f"`{key}` {value}" for key, value in figures.items() if not isinstance(value, (list, dict))]

    def nested(figures: dict, prefix: str = "") -> list[str]:
        lines = []
        for key, value in figures.items():
            if isinstance(value, dict):
                inner = plain(value)
                lines += [f"- `{prefix}{key}`: {', '.join(inner)}"] if inner else []
                lines += nested(value, f"{prefix}{key}.")
        return lines

    lines = [f"- {line}" for line in plain(check["metrics"])] + nested(check["metrics"])
    return (f"## Quick check\n`python -m hub evaluate {check['demo']} --limit {check['limit']} --json` measures "
            f"the same {check['limit']} test examples (or that many samples) every run, and prints:\n\n"
            + "\n".join(lines))


def publish(out_dir: Path, model, config: dict, card: str, dtype=None) -> str:
    """Write the weights, config.json (with the card as data) and the rendered model card of a trained
    model; returns the weights' SHA-256."""
    digest = weights.save(out_dir, model, {**config, "card": sections_of(card)}, dtype=dtype)
    write_card(out_dir)
    return digest


def write_card(directory: Path) -> None:
    """(Re)render weights/<demo>/README.md from its config.json; the weights are not touched."""
    directory = Path(directory)
    (directory / weights.CARD_FILE).write_text(render(weights.read_config(directory), directory))
