"""The README's "Write a plugin" example, copied verbatim into a --plugins-dir: it is listed, it loads,
and it answers through gradio_client."""
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import start_hub, stop_hub
from gradio_client import Client, handle_file
from PIL import Image

from hub.kit import data, grayscale_ink, to_mnist

ROOT = Path(__file__).resolve().parent.parent


def readme_plugin() -> str:
    section = (ROOT / "README.md").read_text().split("## Write a plugin", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_example_is_a_whole_plugin_of_about_thirty_lines():
    code = readme_plugin()
    assert "@hookimpl" in code and "def load" in code and "def build_ui" in code
    assert 20 <= len([line for line in code.splitlines() if line.strip()]) <= 40


@pytest.mark.slow            # starts the app
def test_the_readme_plugin_is_listed_loads_and_answers(tmp_path):
    folder = tmp_path / "mydemos"
    folder.mkdir()
    (folder / "nearest_mean.py").write_text(readme_plugin())
    listed = subprocess.run([sys.executable, "-m", "hub", "list", "--json", "--check", "--plugins-dir", str(folder),
                             "--plugins", "nearest_mean"], cwd=ROOT, capture_output=True, text=True, check=True)
    rows = json.loads(listed.stdout)
    assert [(r["demo"], r["status"]) for r in rows if r["status"] != "disabled"] == [("nearest_mean", "ok")]

    digit = data.mnist("test")[0][0]
    png = tmp_path / "digit.png"
    Image.fromarray(255 - digit).resize((140, 140)).save(png)          # dark ink on a light page, larger
    spec = importlib.util.spec_from_file_location("readme_nearest_mean", folder / "nearest_mean.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.load().read(to_mnist(grayscale_ink(str(png))))
    assert expected == int(data.mnist("test")[1][0])                    # the example reads this digit right

    url, process = start_hub(tmp_path, "--plugins-dir", str(folder), "--plugins", "nearest_mean")
    try:
        answer = Client(url, verbose=False).predict(handle_file(str(png)), api_name="/nearest_mean_read")
    finally:
        stop_hub(process)
    assert answer == str(expected)
    assert np.isfinite(module.load().means).all()
