"""The landing page (`hub.gallery`): a card per demo with its headline figure, thumbnail and status, a page
per demo, and the thumbnails made from each demo's own output."""
import numpy as np
import pytest
import torch
from helpers import save_doubler
from PIL import Image

from hub import DemoSpec, ModelSpec, gallery, hookimpl, weights
from hub.core import Hub
from hub.placement import parse_inventory
from hub.ui import DemoContext, build_app, demo_links


def doubler_demo(directory, **fields) -> DemoSpec:
    def load():
        from helpers import Doubler
        model = Doubler()
        weights.load_into(model, directory)
        return model

    return DemoSpec(id=fields.pop("id", "doubler"), title=fields.pop("title", "Doubler <b>"),
                    description="Doubles. Then more.", build_ui=lambda ctx: None,
                    models=[ModelSpec("doubler", load, directory)], **fields)


def hub_with(*demos) -> Hub:
    class Plugin:
        @hookimpl
        def register_demos(self, register):
            for demo in demos:
                register(demo)

    hub = Hub(devices=parse_inventory(""))
    hub.add_plugin(Plugin(), "tiny")
    return hub


@pytest.fixture
def doubler_weights(tmp_path):
    directory = save_doubler(tmp_path / "doubler")
    config = weights.read_config(directory)
    weights.write_config(directory, {**config, "metrics": {"accuracy": 0.98765, "bleu": {"beam": 37.29}}})
    return directory


def test_the_headline_is_filled_from_the_shipped_metrics_and_a_bad_template_gives_none(doubler_weights):
    assert gallery.headline(doubler_demo(doubler_weights, headline="accuracy {accuracy:.1%}")) == "accuracy 98.8%"
    assert gallery.headline(doubler_demo(doubler_weights, headline="BLEU {bleu[beam]:.1f}")) == "BLEU 37.3"
    assert gallery.headline(doubler_demo(doubler_weights, headline="{no_such_figure}")) == ""
    assert gallery.headline(doubler_demo(doubler_weights)) == ""


def test_a_card_links_to_the_demo_page_and_shows_its_thumbnail_or_says_it_has_none(doubler_weights, tmp_path):
    demo = doubler_demo(doubler_weights, headline="accuracy {accuracy:.1%}")
    html = gallery.card(demo, "idle", tmp_path)
    assert 'href="doubler"' in html and "Doubler &lt;b&gt;" in html and "no thumbnail yet" in html
    assert "Doubles." in html and "Then more" not in html and "accuracy 98.8%" in html and "not loaded yet" in html
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "doubler.png")
    assert 'src="data:image/png;base64,' in gallery.card(demo, "loaded", tmp_path)


def test_a_status_says_loaded_once_the_model_is_in_memory(doubler_weights):
    hub = hub_with(doubler_demo(doubler_weights))
    assert gallery.status(hub, "doubler") == "idle"
    with hub.handle("doubler").use() as model:
        assert model(torch.ones(1)).item() == 2.0
    assert gallery.status(hub, "doubler") == "loaded"
    hub.demo_errors["doubler"] = ("build_ui", "boom")
    assert gallery.status(hub, "doubler") == "error" and "broken" in gallery.page(hub, list(hub.demos.values()))


def test_thumbnails_come_from_the_demo_own_output_and_one_failure_costs_no_other(doubler_weights, tmp_path):
    def sample(model, n, generator):
        return np.tile(np.linspace(0, 1, 28, dtype=np.float32), (n, 28, 1)) * model.scale.item() / 2

    def broken(ctx):
        raise RuntimeError("no picture")

    hub = hub_with(doubler_demo(doubler_weights, sample=sample),
                   doubler_demo(doubler_weights, id="broken", thumbnail=broken),
                   doubler_demo(doubler_weights, id="silent"))
    made = gallery.write_thumbnails(hub, DemoContext, folder=tmp_path)
    assert made["broken"].startswith("failed: RuntimeError") and made["silent"].startswith("no thumbnail")
    picture = np.asarray(Image.open(tmp_path / "doubler.png"))
    assert picture.shape[0] == picture.shape[1] >= 100          # 4 x 4 digits, grown with crisp pixels
    assert picture.max() == 255 and picture.min() < 70          # the samples' bright right edges, the dark grid


def test_every_shipped_demo_has_its_thumbnail_and_headline():
    hub = Hub.create(entry_points=False, devices=parse_inventory(""))
    shown = [d for d in hub.demos.values() if d.trained]
    assert [d.id for d in shown if not gallery.thumbnail_path(d.id).is_file()] == []
    assert [d.id for d in shown if d.models and not gallery.headline(d)] == []


def test_a_demo_page_links_back_to_the_gallery_and_across_its_group():
    hub = Hub.create(allow="vae,nade", entry_points=False, devices=parse_inventory(""))
    shown = [hub.demos["nade"], hub.demos["vae"]]
    links = demo_links(hub.demos["vae"], shown)
    assert '<a href="./">← All demos</a> | Explicit models: <a href="nade">NADE</a> · <b>VAE</b>' in links
    assert [path for path, _, _ in build_app(hub).pages] == ["", "nade", "vae", "system"]


@pytest.mark.parametrize("reserved", sorted({"system", "gallery"}))
def test_a_demo_cannot_take_the_hub_own_pages(reserved):
    with pytest.raises(ValueError, match="taken by the hub"):
        DemoSpec(id=reserved, title="x", description="", build_ui=lambda ctx: None).validate()
