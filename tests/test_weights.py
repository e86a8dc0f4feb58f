"""Weights IO: hash and shape checks, header-only size estimate, missing and corrupt files."""
import json

import pytest
import torch
from helpers import Doubler, save_doubler

from hub import weights
from hub.core import Hub
from hub.placement import parse_inventory
from hub.ui import build_app


def test_round_trip_and_header_estimate(tmp_path):
    model = torch.nn.Linear(3, 2)
    digest = weights.save(tmp_path, model, {"model": {"in": 3}})
    assert json.loads((tmp_path / "config.json").read_text())["sha256"] == digest
    assert weights.estimate_bytes(tmp_path) == (3 * 2 + 2) * 4
    fresh = torch.nn.Linear(3, 2)
    config = weights.load_into(fresh, tmp_path)
    assert config["model"] == {"in": 3}
    assert torch.equal(fresh.weight, model.weight)


def test_half_precision_files_are_half_the_size_and_load_into_float32(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    weights.save(tmp_path, model, {"model": {}}, dtype=torch.float16)
    assert weights.estimate_bytes(tmp_path) == (3 * 2 + 2) * 2
    fresh = torch.nn.Linear(3, 2)
    weights.load_into(fresh, tmp_path)
    assert fresh.weight.dtype == torch.float32
    assert torch.allclose(fresh.weight, model.weight, atol=1e-3) and not torch.equal(fresh.weight, model.weight)


def test_missing_weights_say_so(tmp_path):
    with pytest.raises(weights.WeightsError, match="missing"):
        weights.load_into(Doubler(), tmp_path / "nowhere")
    save_doubler(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(weights.WeightsError, match="model.safetensors is missing"):
        weights.load_into(Doubler(), tmp_path)
    assert weights.estimate_bytes(tmp_path) == 0


def test_corrupt_weights_fail_the_hash_check(tmp_path):
    save_doubler(tmp_path)
    path = tmp_path / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(weights.WeightsError, match="corrupt"):
        weights.load_into(Doubler(), tmp_path)


def test_garbage_file_with_matching_hash_is_not_safetensors(tmp_path):
    save_doubler(tmp_path)
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x00" * 7)
    config = json.loads((tmp_path / "config.json").read_text())
    config["sha256"] = weights.sha256_of(path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(weights.WeightsError, match="could not be read"):
        weights.load_into(Doubler(), tmp_path)
    assert weights.estimate_bytes(tmp_path) == 0


def test_wrong_shapes_are_named(tmp_path):
    weights.save(tmp_path, torch.nn.Linear(3, 2), {})
    with pytest.raises(weights.WeightsError, match=r"'weight' has shape \[2, 3\] but the model expects \[2, 4\]"):
        weights.load_into(torch.nn.Linear(4, 2), tmp_path)
    with pytest.raises(weights.WeightsError, match="missing"):
        weights.load_into(Doubler(), tmp_path)


def test_only_the_tensors_named_absent_ok_may_be_missing(tmp_path):
    class Grown(torch.nn.Linear):                  # a model that gained a buffer after its weights were saved
        def __init__(self):
            super().__init__(3, 2)
            self.register_buffer("setting", torch.tensor(1.5))
    torch.manual_seed(0)
    old = torch.nn.Linear(3, 2)
    weights.save(tmp_path, old, {"model": {}})
    with pytest.raises(weights.WeightsError, match="missing.*setting"):
        weights.load_into(Grown(), tmp_path)
    grown = Grown()
    weights.load_into(grown, tmp_path, absent_ok=("setting",))
    assert torch.equal(grown.weight, old.weight) and float(grown.setting) == 1.5
    weights.save(tmp_path / "no_bias", torch.nn.Linear(3, 2, bias=False), {"model": {}})
    with pytest.raises(weights.WeightsError, match="missing.*bias"):    # only the names given may be missing
        weights.load_into(Grown(), tmp_path / "no_bias", absent_ok=("setting",))


def test_invalid_config_json(tmp_path):
    save_doubler(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(weights.WeightsError, match="not valid JSON"):
        weights.read_config(tmp_path)


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_hub_keeps_serving_when_a_demo_has_bad_weights(tmp_path, damage):
    from helpers import api_fn, write_plugin
    good = save_doubler(tmp_path / "good")
    bad = save_doubler(tmp_path / "bad")
    if damage == "corrupt":
        (bad / "model.safetensors").write_bytes((bad / "model.safetensors").read_bytes()[:-2] + b"xx")
    else:
        (bad / "model.safetensors").unlink()
    write_plugin(tmp_path / "dropins", "damaged", bad)
    write_plugin(tmp_path / "dropins", "fine", good)
    hub = Hub.create(plugins_dirs=[tmp_path / "dropins"], builtin=False, entry_points=False,
                     devices=parse_inventory(""))
    app = build_app(hub)
    import gradio as gr
    with pytest.raises(gr.Error, match="could not be loaded") as caught:
        api_fn(app, "damaged_double")(1)
    assert ("corrupt" if damage == "corrupt" else "missing") in caught.value.message
    assert str(tmp_path) not in caught.value.message and "bad/model.safetensors" in caught.value.message
    assert api_fn(app, "fine_double")(1) == 2.0
    status = {row[3]: row for row in hub.system_rows()}
    assert status["damaged"][5] == "error" and status["fine"][5] == "ok"
    assert status["fine"][10] == weights.sha256_of(good / "model.safetensors")[:16]
