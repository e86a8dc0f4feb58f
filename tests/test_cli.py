"""`python -m hub list|train|evaluate` and `python app.py` argument handling."""
import json
import subprocess
import sys

from helpers import write_plugin

from hub import weights

ROOT = weights.ROOT


def run(*args, check=True):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=check)


def test_list_json_shows_builtin_dropped_in_and_broken_plugins(tmp_path, doubler_weights):
    write_plugin(tmp_path / "dropins", "extra", doubler_weights)
    write_plugin(tmp_path / "dropins", "broken", doubler_weights, fail="register")
    rows = json.loads(run("-m", "hub", "list", "--json", "--plugins-dir", str(tmp_path / "dropins")).stdout)
    by_plugin = {row["plugin"]: row for row in rows}
    assert by_plugin["vae"]["status"] == "ok" and by_plugin["vae"]["estimated bytes"] > 1_000_000
    assert by_plugin["extra"]["demo"] == "extra" and by_plugin["extra"]["estimated bytes"] == 4
    assert by_plugin["broken"]["status"] == "error" and "boom at register" in by_plugin["broken"]["reason"]
    assert {row["model"] for row in rows if row["demo"] == "aae"} == {"mixture", "swiss_roll"}   # told apart
    text = run("-m", "hub", "list", "--plugins-dir", str(tmp_path / "dropins"), "--disable", "extra").stdout
    assert "disabled" in text and "vae" in text and "aae/mixture" in text and "aae/swiss_roll" in text


def test_list_check_reports_a_demo_whose_interface_fails_to_build(tmp_path, doubler_weights):
    write_plugin(tmp_path / "dropins", "faulty", doubler_weights, fail="build_ui")
    args = ("-m", "hub", "list", "--json", "--plugins-dir", str(tmp_path / "dropins"), "--plugins", "faulty")
    def faulty(rows):
        return next(row for row in json.loads(rows) if row["plugin"] == "faulty")

    assert faulty(run(*args).stdout)["status"] == "ok"                    # registration alone looks fine
    row = faulty(run(*args, "--check").stdout)
    assert row["status"] == "error" and "build_ui" in row["reason"] and "boom at build_ui" in row["reason"]


def test_train_writes_weights_config_and_card_that_load_back(tmp_path):
    out = tmp_path / "vae"
    result = run("-m", "hub", "train", "vae", "--epochs", "1", "--limit", "20", "--out", str(out))
    metrics = json.loads(result.stdout[result.stdout.index("{"):])
    assert metrics["examples"] == 20 and metrics["elbo"] < metrics["log_likelihood_k5000"] < 0
    assert {p.name for p in out.iterdir()} >= {"model.safetensors", "config.json", "README.md", "train.log"}
    config = weights.read_config(out)
    assert config["sha256"] in (out / "README.md").read_text()
    sys.path.insert(0, str(ROOT))
    from plugins.vae import load_vae
    model = load_vae(out)
    assert model.z_dim == config["model"]["z_dim"] and "50" in model.reference


def test_init_is_refused_in_one_line_by_a_demo_whose_training_starts_from_scratch(tmp_path):
    result = run("-m", "hub", "train", "vae", "--init", str(tmp_path), "--out", str(tmp_path / "out"), check=False)
    assert result.returncode != 0 and "vae's training always starts from scratch" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_unknown_demo_is_a_clear_error():
    result = run("-m", "hub", "evaluate", "nope", check=False)
    assert result.returncode != 0 and "no demo 'nope'; known demos:" in result.stderr


def test_app_rejects_bad_flags_before_starting():
    result = run("app.py", "--device", "vae=tpu:0", check=False)
    assert result.returncode != 0 and "cpu or cuda:N" in result.stderr
    result = run("app.py", "--auth", "nocolon", check=False)
    assert result.returncode != 0 and "USER:PASS" in result.stderr
    result = run("app.py", "--plugins-dir", "/no/such/folder", check=False)
    assert result.returncode != 0 and "plugins folder /no/such/folder does not exist" in result.stderr
    result = run("app.py", "--ray", "--ray-config", "/no/such/ray.toml", "--plugins", "vae", check=False)
    assert result.returncode != 0 and "--ray-config" in result.stderr and "ray.toml" in result.stderr


def test_evaluate_without_its_data_says_what_is_missing_in_one_line(tmp_path):
    script = ("import sys, pathlib; from hub.kit import data; data.ROOT = pathlib.Path(sys.argv[1]); "
              "from hub.cli import main; main(['evaluate', 'nade', '--limit', '5'])")
    env = {**__import__("os").environ, "DEMO_HUB_DATA": str(tmp_path / "nothing-here")}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "project")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Data set 'binarized_mnist' not found")
    assert "Fetch it with: python -m hub data download binarized_mnist" in lines[0]
