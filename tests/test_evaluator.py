"""The shared evaluator: its shipped weights reach 99% and report the real-vs-real floor."""

import pytest
from helpers import evaluate_subset

from hub import weights


def shipped(demo):
    return weights.read_config(weights.weights_dir(demo))


def test_evaluator_reaches_99_percent_and_reports_its_floor():
    config = shipped("evaluator")
    assert config["metrics"]["examples"] == 10000 and config["metrics"]["accuracy"] >= 0.99
    assert 0 < config["metrics"]["fld_floor_real_vs_real"] < 5
    card = (weights.weights_dir("evaluator") / "README.md").read_text()
    assert config["sha256"] in card and "python -m hub train evaluator" in card


@pytest.mark.slow                # recomputes figures in a subprocess
def test_evaluator_figures_recomputed_on_a_subset():
    subset = evaluate_subset("evaluator", 1000)
    assert subset["examples"] == 1000 and subset["accuracy"] >= 0.98
