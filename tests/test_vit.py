"""The ViT: patches and class token, attention rollout, the demo's answers to bad input, and a
pretrained Hugging Face ViT built here (the shipped weights come with their training)."""
import gradio as gr
import numpy as np
import pytest
import torch
from helpers import OneModel, evaluate_subset, plugin_actions
from PIL import Image

from hub import weights
from hub import InputError
from plugins.vit import TRAINED
from plugins.vit.classifier import DigitClassifier, PretrainedClassifier
from plugins.vit.demo import ROLLOUT, VIEW, ViTDemo
from plugins.vit.model import ViT, attention_rollout
from plugins.vit.calibration import expected_calibration_error, figures, fit_temperature
from plugins.vit.train import random_affine, usps_as_mnist


@pytest.fixture(scope="module")
def tiny_demo():
    torch.manual_seed(0)
    return ViTDemo(OneModel(DigitClassifier(ViT(d_model=16, depth=2, heads=2, d_mlp=32))), [TRAINED])


def drawing(size=280, colour=(0, 0, 0, 255), background=(0, 0, 0, 0)) -> np.ndarray:
    """A thick stroke like a '1' on a transparent canvas, as the Sketchpad sends it."""
    canvas = np.zeros((size, size, 4), np.uint8)
    canvas[:] = background
    canvas[size // 5:4 * size // 5, size // 2 - 10:size // 2 + 10] = colour
    return canvas


def test_patches_are_the_image_cut_row_by_row():
    model = ViT(patch_size=7)
    x = torch.arange(28 * 28, dtype=torch.float32).view(1, 28, 28)
    patches = model.patches(x)
    assert patches.shape == (1, 16, 49)
    assert torch.equal(patches[0, 1].view(7, 7), x[0, :7, 7:14])          # the second patch: top row, second column
    assert torch.equal(patches[0, 4].view(7, 7), x[0, 7:14, :7])          # the fifth: second row, first column
    with pytest.raises(ValueError, match="multiple of the patch size"):
        ViT(patch_size=5)


def test_shifted_patch_tokens_hold_each_patch_and_its_four_diagonal_shifts():
    model = ViT(patch_size=4, d_model=16, depth=1, heads=2, d_mlp=32, shifted_patches=True)
    x = torch.arange(1, 28 * 28 + 1, dtype=torch.float32).view(1, 28, 28)
    tokens = model.tokens(x)
    assert tokens.shape == (1, 49, 5 * 16)
    assert torch.equal(tokens[..., :16], model.patches(x))                 # the unshifted view comes first
    views = tokens[0, 8].view(5, 4, 4)                                     # second row, second column: x[4:8, 4:8]
    assert torch.equal(views[1], x[0, 2:6, 2:6])                           # content moved down and right by P/2
    assert torch.equal(views[4], x[0, 6:10, 6:10])                         # moved up and left
    assert torch.equal(tokens[0, 0].view(5, 4, 4)[1, :2], torch.zeros(2, 4))  # zeros come in at the border
    assert model(torch.rand(2, 28, 28)).shape == (2, 10)


def test_the_class_token_output_is_classified_and_every_layer_returns_its_attention():
    torch.manual_seed(0)
    model = ViT(d_model=16, depth=3, heads=2, d_mlp=32).eval()
    logits, attentions = model(torch.rand(2, 28, 28), return_attention=True)
    assert logits.shape == (2, 10) and len(attentions) == 3 and attentions[0].shape == (2, 2, 50, 50)
    rollout = attention_rollout(attentions)
    assert torch.allclose(rollout.sum(-1), torch.ones(2, 50), atol=1e-5)   # still a distribution per row


def test_rollout_of_identity_attention_is_the_identity():
    eye = torch.eye(5).expand(1, 2, 5, 5)
    assert torch.allclose(attention_rollout([eye, eye, eye])[0], torch.eye(5))


def test_augmentation_keeps_the_digit_in_the_frame():
    x = torch.zeros(8, 28, 28)
    x[:, 8:20, 12:16] = 1
    moved = random_affine(x, torch.Generator().manual_seed(0), 10, 0.1, 2)
    assert moved.shape == x.shape and not torch.equal(moved, x)
    assert torch.allclose(moved.sum((1, 2)), x.sum((1, 2)), rtol=0.25)


def test_usps_digits_are_put_in_mnist_format():
    usps = np.zeros((1, 16, 16), np.float32)
    usps[0, :, 6:10] = 1                                               # a '1' filling its box
    x = usps_as_mnist(usps)[0]
    rows = torch.nonzero(x.sum(1) > 0.1).flatten()
    assert x.shape == (28, 28) and rows.max() - rows.min() + 1 in (20, 21)   # 20 pixels tall, as MNIST
    assert abs(float((x.sum(1) * torch.arange(28)).sum() / x.sum()) - 14) < 1   # centred by mass


def test_the_demo_reads_drawings_uploads_and_colour(tiny_demo, tmp_path):
    top, patches, attention, note = tiny_demo.classify(drawing(), TRAINED, ROLLOUT, "average", 3)
    assert len(top) == 3 and abs(sum(tiny_demo.classify(drawing(), TRAINED, ROLLOUT, "average", 10)[0].values()) - 1) < 1e-5
    assert patches.shape == attention.shape == (VIEW, VIEW, 3) and "7 x 7 = 49 patches" in note
    path = tmp_path / "red.png"
    Image.fromarray(drawing(colour=(220, 30, 30, 255), background=(255, 255, 255, 255))[..., :3]).save(path)
    assert len(tiny_demo.classify(str(path), TRAINED, "2", "1", 5)[0]) == 5


def test_the_demo_answers_bad_input_clearly(tiny_demo, tmp_path):
    for empty in [drawing(colour=(0, 0, 0, 0)), np.full((280, 280, 3), 255, np.uint8), np.zeros((280, 280), np.uint8)]:
        with pytest.raises(InputError, match="empty"):
            tiny_demo.classify(empty)
    with pytest.raises(InputError, match="No image yet: upload one"):       # an upload box with no file
        tiny_demo.classify(None)
    with pytest.raises(InputError, match="all ink"):
        tiny_demo.classify(drawing(background=(0, 0, 0, 255)))
    with pytest.raises(InputError, match="at least 8 pixels"):
        tiny_demo.classify(np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match="largest accepted"):
        tiny_demo.classify(np.zeros((5000, 10), np.uint8))
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(InputError, match="not an image"):
        tiny_demo.classify(str(text))
    with pytest.raises(InputError, match="Layer must be between 1 and 2"):
        tiny_demo.classify(drawing(), TRAINED, "7")
    with pytest.raises(InputError, match="Head must be between 1 and 2"):
        tiny_demo.classify(drawing(), TRAINED, "1", "3")
    with pytest.raises(InputError, match="Top k"):
        tiny_demo.classify(drawing(), TRAINED, ROLLOUT, "average", 0)
    with pytest.raises(InputError, match="Unknown model"):
        tiny_demo.classify(drawing(), "resnet")


def tiny_pretrained_vit(directory):
    """A ViT checkpoint made of nothing downloaded: a 1-layer ViTForImageClassification with three
    labels and its image processor, saved as a real checkpoint is."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    labels = {0: "cat", 1: "seven", 2: "boat"}
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=32, num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    torch.manual_seed(0)
    ViTForImageClassification(config).save_pretrained(directory)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(directory)
    return directory


def test_a_pretrained_vit_loads_from_a_local_directory_with_its_labels(tmp_path, monkeypatch):
    import plugins.vit as plugin

    directory = tiny_pretrained_vit(tmp_path)
    monkeypatch.setenv(plugin.PRETRAINED_ENV_VAR, str(directory))
    specs = plugin.model_specs()
    assert [s.name for s in specs] == [TRAINED, f"pretrained: {directory}"]
    demo = ViTDemo(OneModel(specs[1].load()), [s.name for s in specs])
    top, patches, attention, note = demo.classify(drawing(), specs[1].name, ROLLOUT, "average", 3)
    assert set(top) == {"cat", "seven", "boat"} and "4 x 4 = 16 patches" in note
    assert demo.classify(drawing(), specs[1].name, "1", "2", 2)[2].shape == (VIEW, VIEW, 3)
    with pytest.raises(OSError, match="neither a local model directory"):
        PretrainedClassifier(str(tmp_path / "missing"))


# ---- the shipped weights -------------------------------------------------------------------------

def test_shipped_weights_and_card():
    directory = weights.weights_dir("vit")
    config = weights.read_config(directory)
    assert weights.sha256_of(directory / "model.safetensors") == config["sha256"]
    assert (directory / "model.safetensors").stat().st_size < 10 * 2**20
    card = (directory / "README.md").read_text()
    assert "python -m hub train vit" in card and f"{100 * config['metrics']['accuracy']:.2f}%" in card
    assert config["metrics"]["examples"] == 10000 and config["metrics"]["accuracy"] >= 0.99   # the bar


@pytest.mark.slow                # recomputes figures in a subprocess
def test_accuracy_recomputed_on_a_test_subset_from_the_shipped_weights():
    result = evaluate_subset("vit", 1000)
    assert result["examples"] == 1000 and result["accuracy"] >= 0.985
    full = weights.read_config(weights.weights_dir("vit"))["metrics"]
    assert abs(result["usps_accuracy"] - full["usps_accuracy"]) < 0.05


def test_temperature_scaling_recovers_the_temperature_that_made_the_labels():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(20_000, 10, generator=generator) * 3
    labels = torch.multinomial((logits / 0.5).softmax(-1), 1, generator=generator)[:, 0]    # truth: T = 0.5
    assert abs(fit_temperature(logits, labels) - 0.5) < 0.03
    assert figures(logits, labels.numpy(), 0.5)["ece"] < 0.02 < figures(logits, labels.numpy(), 1.0)["ece"]


def test_expected_calibration_error_by_hand():
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])          # the 0.9 bin is right half the time, the 0.6 bin always
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)


def test_the_shipped_vit_is_calibrated_on_held_apart_images():
    config = weights.read_config(weights.weights_dir("vit"))
    metrics, calibration = config["metrics"], config["calibration"]
    assert "held-apart" in calibration["fitted_on"] and 0 < calibration["temperature"] < 1     # label smoothing: T < 1
    assert metrics["ece_after"] < metrics["ece_before"] / 5 and metrics["ece_after"] < 0.01
    card = (weights.weights_dir("vit") / "README.md").read_text()
    assert f"{100 * metrics['ece_before']:.2f}%" in card and f"**{100 * metrics['ece_after']:.2f}%**" in card


def test_the_hub_serves_the_shipped_vit():
    action = plugin_actions("vit")
    top, patches, attention, note = action("vit", "classify_test_digit")(0, TRAINED, ROLLOUT, "average", 3)
    assert max(top, key=top.get) == "7" and note.startswith("Test digit 0, labelled 7")
    assert top["7"] > 0.95                     # calibrated: no longer about 91% for a digit it is sure of
    with pytest.raises(gr.Error, match="Test image number"):
        action("vit", "classify_test_digit")(10_000, TRAINED, ROLLOUT, "average", 3)
