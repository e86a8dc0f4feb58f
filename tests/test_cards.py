"""Model cards are data: every shipped card is config.json rendered by the one template."""
from pathlib import Path

import pytest
import torch

from hub import weights
from hub.kit import cards

SHIPPED = sorted({path.parent for path in weights.WEIGHTS_ROOT.rglob(weights.CONFIG_FILE)})


@pytest.mark.parametrize("directory", SHIPPED, ids=[str(d.relative_to(weights.WEIGHTS_ROOT)) for d in SHIPPED])
def test_every_shipped_card_is_its_config_rendered(directory):
    config = weights.read_config(directory)
    assert config["card"]["title"] and config["card"]["sections"]
    assert "split" in str(config["metrics"])                        # the measured figures name their split
    card = (directory / weights.CARD_FILE).read_text()
    assert card == cards.render(config, directory)
    assert f"SHA-256: `{config['sha256']}`" in card and config["sha256"] == weights.sha256_of(
        directory / weights.WEIGHTS_FILE)


def test_publish_stores_the_card_as_data_and_renders_it(tmp_path: Path):
    model = torch.nn.Linear(2, 1)
    written = """# A tiny model

What it is.

## Training
Exact command: `python -m hub train tiny`

## Files
- written by hand: the template replaces this section
"""
    digest = cards.publish(tmp_path, model, {"model": {}, "metrics": {"split": "test", "accuracy": 0.5}}, written)
    config = weights.read_config(tmp_path)
    assert config["card"] == {"title": "A tiny model", "sections": [["", "What it is."],
                                                                    ["Training", "Exact command: `python -m hub train tiny`"]]}
    card = (tmp_path / weights.CARD_FILE).read_text()
    assert card.startswith("# A tiny model\n\nWhat it is.\n\n## Training\n") and "written by hand" not in card
    assert f"`model.safetensors` SHA-256: `{digest}`" in card
