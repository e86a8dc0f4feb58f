"""The Compare tab: every model that draws digits, scored by the shared evaluator beside real digits."""
import gradio as gr
import pytest
from helpers import api_fn

from hub.core import Hub
from hub.placement import parse_inventory
from hub.ui import build_app


@pytest.fixture(scope="module")
def app():
    return build_app(Hub.create(entry_points=False, devices=parse_inventory("")))


@pytest.fixture(scope="module")
def compare(app):
    return api_fn(app, "compare_generators")


def test_the_run_is_heavy_work_and_the_stop_button_cancels_it(app):
    run = next(fn for fn in app.fns.values() if fn.api_name == "compare_generators")
    assert (run.concurrency_id, run.concurrency_limit) == ("device-cpu-compare-heavy", 1)
    dependencies = app.get_config_file()["dependencies"]
    assert [d["cancels"] for d in dependencies if d.get("cancels")] == [[run._id]]


def test_a_row_per_model_after_the_real_digit_floors(compare):
    frames = list(compare(["VAE", "PixelRNN · Row LSTM", "NADE"], 200, 0))
    assert len(frames) == 5                                   # start, one frame per model, done
    gallery, rows, progress = frames[-1]
    assert progress == "Done: 3 of 3 models measured." and "(2 of 3)" in frames[2][2]
    assert [row[0] for row in rows] == ["real digits (floor)", "real digits, binarized", "NADE",
                                        "PixelRNN · Row LSTM", "VAE"]   # in the hub's order
    assert [title for _, title in gallery] == ["NADE", "PixelRNN · Row LSTM", "VAE"]
    floor = rows[0][3]
    assert all(row[3] > floor for row in rows[1:])            # nothing beats real digits
    likelihood = {row[0]: row[1] for row in rows}
    assert likelihood == {**likelihood, "VAE": "a lower bound on log p(x)", "NADE": "exact log p(x)"}
    nll = {row[0]: row[2] for row in rows}
    assert nll["VAE"].startswith("<= ") and float(nll["NADE"]) < 92 and float(nll["PixelRNN · Row LSTM"]) < 88
    assert all(row[6] > 0 for row in rows[2:])                # a measured speed per model


def test_no_model_chosen_gets_a_message(compare):
    with pytest.raises(gr.Error, match="Choose at least one model"):
        list(compare([], 200, 0))
    with pytest.raises(gr.Error, match="Digits per model must be between 100 and 2000"):
        list(compare(["VAE"], 10**6, 0))


def test_a_demo_with_several_models_is_measured_on_its_first(compare):
    gallery, rows, _ = list(compare(["AAE"], 100, 0))[-1]
    assert [title for _, title in gallery] == ["AAE"]
    assert rows[-1][0] == "AAE" and rows[-1][2] == "-" and rows[-1][3] > rows[0][3]


def test_a_failing_model_is_marked_and_the_others_are_still_shown():
    hub = Hub.create(allow="vae,nade,compare", entry_points=False, devices=parse_inventory(""))

    def broken(model, n, generator):
        raise RuntimeError("the sampler broke")

    hub.demos["vae"].sample = broken
    gallery, rows, progress = list(api_fn(build_app(hub), "compare_generators")(["VAE", "NADE"], 100, 0))[-1]
    by_model = {row[0]: row for row in rows}
    assert by_model["VAE"][2].startswith("failed (RuntimeError)") and by_model["VAE"][3] == "-"
    assert by_model["NADE"][3] > rows[0][3]                   # measured all the same
    assert [title for _, title in gallery] == ["NADE"]
    assert progress == "Done: 1 of 2 models measured; 1 failed (marked in the table)."


def test_with_nothing_to_compare_the_tab_says_what_it_needs():
    app = build_app(Hub.create(allow="compare", entry_points=False, devices=parse_inventory("")))
    texts = [block.value for block in app.blocks.values() if isinstance(block, gr.Markdown)]
    assert any(str(text).startswith("Nothing to compare yet") for text in texts)
    assert not [fn for fn in app.fns.values() if fn.api_name == "compare_generators"]
