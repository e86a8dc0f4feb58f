import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import save_doubler  # noqa: E402


@pytest.fixture
def doubler_weights(tmp_path):
    return save_doubler(tmp_path / "weights" / "doubler")


@pytest.fixture(autouse=True)
def no_plugin_env(monkeypatch):
    for var in ("DEMO_HUB_PLUGINS", "DEMO_HUB_DISABLE", "DEMO_HUB_STRICT"):
        monkeypatch.delenv(var, raising=False)
