"""Batched actions: many requests, few forward passes, every caller its own answer, a bad input its own error."""
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hub import Batched, InputError
from hub.batching import MicroBatcher, gathering, pass_lanes


class CountingModel:
    """A "model" that squares numbers and counts its passes; each pass takes `seconds`, so a crowd queues."""

    def __init__(self, seconds: float = 0.05, fail_on=None):
        self.passes, self.batch_sizes, self.seconds, self.fail_on = 0, [], seconds, fail_on

    def run(self, items: list) -> list:
        self.passes += 1
        self.batch_sizes.append(len(items))
        time.sleep(self.seconds)
        if self.fail_on is not None and self.fail_on in items:
            raise RuntimeError("this pass failed")
        return [item * item for item in items]


def checked(value):
    if not isinstance(value, int) or value < 0:
        raise InputError(f"{value!r} is not a whole number of at least 0")
    return value


def crowd(fn, inputs: list, workers: int = 16) -> list:
    """Every input sent at once from its own thread; each answer, or the error it raised."""
    def one(value):
        try:
            return fn(value)
        except Exception as error:  # noqa: BLE001
            return error
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, inputs))


def test_a_crowd_shares_passes_and_each_caller_gets_its_own_answer():
    model = CountingModel()
    batcher = MicroBatcher(Batched(checked, model.run, lambda r: f"={r}"))
    answers = crowd(batcher, list(range(32)))
    assert answers == [f"={n * n}" for n in range(32)]
    assert model.passes <= 8 and max(model.batch_sizes) > 1
    assert min(model.batch_sizes) >= 1                       # a worker that woke to an emptied queue runs nothing
    assert batcher.stats.requests == 32 and batcher.stats.passes == model.passes


def test_no_pass_is_larger_than_the_batch_size():
    model = CountingModel()
    batcher = MicroBatcher(Batched(checked, model.run, max_batch_size=4))
    assert crowd(batcher, list(range(20))) == [n * n for n in range(20)]
    assert max(model.batch_sizes) <= 4


def test_a_bad_input_fails_its_own_request_only():
    model = CountingModel()
    batcher = MicroBatcher(Batched(checked, model.run))
    answers = crowd(batcher, [3, -1, 4, "five", 6])
    assert answers[0] == 9 and answers[2] == 16 and answers[4] == 36
    assert isinstance(answers[1], InputError) and "-1" in str(answers[1])
    assert isinstance(answers[3], InputError) and "five" in str(answers[3])
    assert batcher.stats.requests == 3 and sum(model.batch_sizes) == 3      # refused inputs never ran


def test_a_failed_pass_fails_its_callers_and_the_next_pass_serves_again():
    model = CountingModel(fail_on=13)
    batcher = MicroBatcher(Batched(checked, model.run))
    with pytest.raises(RuntimeError, match="this pass failed"):
        batcher(13)
    assert batcher(5) == 25


def test_items_of_different_keys_never_share_a_pass():
    seen = []

    def run(items):
        seen.append({key for key, _ in items})
        time.sleep(0.03)
        return [f"{key}:{value}" for key, value in items]

    batcher = MicroBatcher(Batched(lambda key, value: (key, value), run, key=lambda item: item[0]))
    answers = crowd(lambda n: batcher("ab"[n % 2], n), list(range(12)))
    assert answers == [f"{'ab'[n % 2]}:{n}" for n in range(12)]
    assert all(len(keys) == 1 for keys in seen)


def test_called_alone_a_batched_action_is_one_request_in_one_pass():
    model = CountingModel(seconds=0)
    action = Batched(checked, model.run, lambda r: r + 1)
    assert action(7) == 50 and model.batch_sizes == [1]
    with pytest.raises(InputError):
        action(-2)


def test_a_batcher_whose_workers_have_ended_starts_another():
    batcher = MicroBatcher(Batched(checked, CountingModel(seconds=0).run))
    assert batcher(2) == 4
    ended = threading.Thread(target=lambda: None)
    ended.start()
    ended.join()
    batcher._running = [ended]                    # as after a minute of idling
    assert batcher(3) == 9 and batcher._running and ended not in batcher._running


class OverlapCounter:
    """A pass that takes `seconds` and counts the most passes that ran at once (over every caller)."""

    def __init__(self, seconds: float):
        self.seconds, self.running, self.most = seconds, 0, 0
        self.lock = threading.Lock()

    def run(self, items):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
        return items


def test_an_actions_passes_run_one_at_a_time_unless_more_are_allowed():
    def most_at_once(**options) -> int:
        passes = OverlapCounter(0.05)
        batcher = MicroBatcher(Batched(checked, passes.run, max_batch_size=2), **options)
        assert crowd(batcher, list(range(20))) == list(range(20))
        return passes.most

    assert most_at_once() == 1
    assert most_at_once(workers=2) == 2


def test_pass_lanes_limit_the_passes_at_once_over_every_action():
    def both_actions_at_once(lanes) -> int:
        passes = OverlapCounter(0.03)
        first, second = (MicroBatcher(Batched(checked, passes.run, max_batch_size=2), lanes=lanes) for _ in range(2))
        answers = crowd(lambda value: (first if value % 2 else second)(value), list(range(24)))
        assert answers == list(range(24))
        return passes.most

    assert pass_lanes(0) is None
    assert both_actions_at_once(None) == 2          # each action's own pass, side by side
    assert both_actions_at_once(pass_lanes(1)) == 1


def test_a_batcher_waits_for_a_crowd_in_proportion_to_its_last_pass():
    assert gathering(0.0) == (0.005, 0.05)                   # a quick model: a lone request waits 5 ms
    look, most = gathering(0.4)                              # a beam search: a fuller batch is worth 40 ms looks
    assert look == pytest.approx(0.04) and most == pytest.approx(0.2)
    assert gathering(30.0) == (0.05, 0.25)                   # never more than a quarter of a second


# The shipped demos' batched actions: a batch gives each request what it gets alone.

@pytest.fixture(scope="module")
def shipped_hub():
    from hub.core import Hub

    return Hub.create(allow={"vae", "gan", "vit", "translation"}, entry_points=False)


def test_vae_samples_in_one_pass_equal_each_seed_alone(shipped_hub):
    from plugins.vae.demo import VAEDemo

    demo = VAEDemo(shipped_hub.handle("vae"))
    requests = [demo.sample.prepare(seed, 1.0, grid) for seed, grid in [(0, 2), (1, 3), (2, 1), (0, 2)]]
    together = [demo.sample.finish(r) for r in demo.sample.run_grouped(requests)]
    alone = [demo.sample(seed, 1.0, grid) for seed, grid in [(0, 2), (1, 3), (2, 1), (0, 2)]]
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert together[0].shape != together[1].shape                   # each its own grid size
    np.testing.assert_array_equal(together[0], together[3])          # the same seed twice in a pass


def test_gan_grids_in_one_pass_equal_each_seed_alone(shipped_hub):
    from plugins.gan.demo import GANDemo

    demo = GANDemo(shipped_hub.handle("cgan"))
    asks = [(0, 4, "3"), (1, 9, "any"), (0, 4, "7")]
    together = [demo.generate.finish(r) for r in demo.generate.run_grouped([demo.generate.prepare(*a) for a in asks])]
    for asked, grid in zip(asks, together):
        np.testing.assert_allclose(grid, demo.generate(*asked), atol=1e-5)
    assert not np.allclose(together[0], together[2])          # same seed, another digit


def test_vit_readings_in_one_pass_equal_each_image_alone(shipped_hub):
    from plugins.vit.demo import ViTDemo

    demo = ViTDemo(shipped_hub.handle("vit"), [m.name for m in shipped_hub.demos["vit"].models])
    indices = [0, 1, 2, 3]
    together = [demo.classify_test_digit.finish(r) for r in
                demo.classify_test_digit.run_grouped([demo.classify_test_digit.prepare(i) for i in indices])]
    for index, (top, patches, attention, note) in zip(indices, together):
        alone = demo.classify_test_digit(index)
        assert top.keys() == alone[0].keys() and note == alone[3]
        assert max(abs(top[k] - alone[0][k]) for k in top) < 1e-5
        assert np.abs(attention.astype(int) - alone[2]).max() <= 1


def test_vit_checks_each_drawing_before_it_joins_a_batch(shipped_hub):
    from plugins.vit.demo import ViTDemo

    demo = ViTDemo(shipped_hub.handle("vit"), [m.name for m in shipped_hub.demos["vit"].models])
    with pytest.raises(InputError, match="empty"):
        demo.classify.prepare({"composite": np.zeros((280, 280, 4), np.uint8)})
    with pytest.raises(InputError, match="Layer"):               # said by the render, for that request alone
        demo.classify_test_digit(0, None, "99")


def test_translations_in_one_beam_search_equal_each_sentence_alone(shipped_hub):
    from plugins.translation.demo import EXAMPLES, TranslationDemo

    demo = TranslationDemo(shipped_hub.handle("translation"), [m.name for m in shipped_hub.demos["translation"].models])
    requests = [demo.translate.prepare(text, "Beam search", 4) for text in EXAMPLES[:5]]
    together = [demo.translate.finish(r) for r in demo.translate.run_grouped(requests)]
    assert together == [demo.translate(text, "Beam search", 4) for text in EXAMPLES[:5]]
    assert len({t[0] for t in together}) == 5


def test_translation_batches_group_by_beam_width(shipped_hub):
    from plugins.translation.demo import TranslationDemo

    demo = TranslationDemo(shipped_hub.handle("translation"), [m.name for m in shipped_hub.demos["translation"].models])
    requests = [demo.translate.prepare("A dog runs.", method, 3) for method in ("Greedy", "Beam search", "Greedy")]
    assert demo.translate.groups(requests) == [[0, 2], [1]]
    with pytest.raises(InputError, match="English sentence"):
        demo.translate.prepare("   ", "Greedy", 3)


def test_without_batching_a_batched_action_serves_each_request_alone():
    from hub.core import Hub
    from hub.ui import build_app
    from helpers import api_fn

    hub = Hub.create(allow={"vae"}, entry_points=False)
    hub.batching = False                                               # python app.py --no-batching
    sample = api_fn(build_app(hub), "vae_sample")
    assert hub.batchers == {} and sample(3, 1.0, 2).shape == sample(3, 1.0, 2).shape


# Through Gradio: the hub wires a Batched action to a batcher; a crowd of clients shares passes.

def test_a_crowd_of_clients_shares_passes_through_the_hub(tmp_path):
    from gradio_client import Client

    from conftest import free_port
    from hub.core import Hub
    from hub.ui import build_app

    hub = Hub.create(allow={"vae"}, entry_points=False)
    app = build_app(hub)
    app.queue()
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        Client(url, verbose=False, ssl_verify=False).predict(0, 1.0, 2, api_name="/vae_sample")   # loads the model
        batcher = hub.batchers["vae_sample"]
        before = batcher.stats.passes

        def sample(seed):
            from PIL import Image
            downloads = tempfile.mkdtemp(dir=tmp_path)     # clients sharing a folder race on one file name
            path = Client(url, verbose=False, ssl_verify=False, download_files=downloads).predict(
                seed, 1.0, 6, api_name="/vae_sample")
            return np.asarray(Image.open(path))

        barrier = threading.Barrier(12)
        answers = crowd(lambda seed: (barrier.wait(), sample(seed))[1], [s % 4 for s in range(12)], workers=12)
        for seed, image in zip([s % 4 for s in range(12)], answers):
            np.testing.assert_array_equal(image, answers[seed])           # the same seed, the same digits
        assert len({a.tobytes() for a in answers}) == 4                   # and another seed, others
        assert batcher.stats.passes - before < 12
    finally:
        app.close()


def test_the_app_puts_off_gradios_summary_of_its_queue_events(monkeypatch):
    """Left alone, Gradio's queue rebuilds a summary of its recorded events after each one; the app's setting
    keeps the (empty) summary it has, and a value set by the user is kept."""
    import gradio as gr

    from app import QUEUE_SUMMARY_EVERY, put_off_queue_summary

    record = {"time": 0.0, "status": "success", "function": "double", "process_time": 0.1, "session_hash": "s"}

    def summary_after_an_event() -> dict:
        with gr.Blocks() as app:
            gr.Number()
        app.queue()
        app._queue.events_recorded = 1
        return app._queue.compute_analytics_summary([record])

    monkeypatch.setenv(QUEUE_SUMMARY_EVERY, "1")
    assert "double" in summary_after_an_event()["functions"]          # Gradio's default: every event
    put_off_queue_summary()
    assert "double" in summary_after_an_event()["functions"]          # a value the user set is kept
    monkeypatch.delenv(QUEUE_SUMMARY_EVERY)
    put_off_queue_summary()
    assert summary_after_an_event()["functions"] == {}
