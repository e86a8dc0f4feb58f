"""Progressive GAN on tiny nets: growth, fade-in, the paper's layers (not trained or shown yet)."""
import math

import pytest
import torch
import torch.nn.functional as functional

from plugins.progan.progan import (RESOLUTIONS, EqualizedConv2d, ProgressiveGAN, fade_real, minibatch_stddev,
                                   pixel_norm)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return ProgressiveGAN(z_dim=8, channels=(8, 8, 4, 4))


@pytest.mark.parametrize("stage", range(len(RESOLUTIONS)))
def test_g_and_d_grow_together_through_every_resolution(tiny, stage):
    z = torch.randn(3, 8)
    side = RESOLUTIONS[stage]
    for alpha in (0.0, 0.5, 1.0):
        images = tiny.G(z, stage, alpha)
        assert images.shape == (3, 1, side, side)
        assert tiny.D(images, stage, alpha).shape == (3,)


def test_alpha_zero_is_the_old_output_upsampled_and_one_the_new_block(tiny):
    z = torch.randn(2, 8)
    for stage in range(1, len(RESOLUTIONS)):
        old = functional.interpolate(tiny.G(z, stage - 1), scale_factor=2, mode="nearest")
        assert torch.allclose(tiny.G(z, stage, 0.0), old, atol=1e-6)
        half = tiny.G(z, stage, 0.5)
        assert torch.allclose(half, 0.5 * tiny.G(z, stage, 1.0) + 0.5 * old, atol=1e-6)


def test_d_at_alpha_zero_sees_only_the_downsampled_image_through_the_old_path(tiny):
    x = torch.randn(2, 1, 16, 16)
    checker = x + torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(8, 8)      # the same image once pooled
    assert torch.allclose(functional.avg_pool2d(checker, 2), functional.avg_pool2d(x, 2), atol=1e-6)
    assert torch.allclose(tiny.D(checker, 2, 0.0), tiny.D(x, 2, 0.0), atol=1e-5)
    assert not torch.allclose(tiny.D(checker, 2, 1.0), tiny.D(x, 2, 1.0), atol=1e-5)


def test_real_images_fade_in_the_same_way():
    x = torch.rand(2, 1, 32, 32)
    assert fade_real(x, 3, 1.0).shape == (2, 1, 32, 32) and torch.equal(fade_real(x, 3, 1.0), x)
    old = functional.interpolate(functional.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    assert torch.allclose(fade_real(x, 3, 0.0), old)
    assert fade_real(x, 0, 0.3).shape == (2, 1, 4, 4)


def test_pixel_norm_gives_unit_mean_square_features_at_every_pixel():
    x = torch.randn(2, 5, 3, 3) * 7
    assert torch.allclose(pixel_norm(x).pow(2).mean(dim=1), torch.ones(2, 3, 3), atol=1e-4)


def test_minibatch_stddev_adds_one_map_that_is_zero_for_identical_images():
    same = torch.randn(1, 4, 4, 4).expand(3, -1, -1, -1)
    out = minibatch_stddev(same)
    assert out.shape == (3, 5, 4, 4) and out[:, 4].abs().max() == 0
    assert minibatch_stddev(torch.randn(3, 4, 4, 4))[:, 4].min() > 0


def test_equalized_layers_draw_unit_weights_and_scale_them_at_run_time():
    torch.manual_seed(0)
    conv = EqualizedConv2d(16, 32, 3, 1)
    assert abs(conv.weight.std().item() - 1) < 0.05 and conv.scale == pytest.approx(math.sqrt(2 / (16 * 9)))
    x = torch.randn(4, 16, 8, 8)
    assert torch.allclose(conv(x), functional.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1))


def test_the_wgan_gp_losses_with_drift_are_finite_and_reach_both_nets(tiny):
    real, z = torch.rand(4, 1, 8, 8) * 2 - 1, torch.randn(4, 8)
    d_loss = tiny.discriminator_loss(real, z, stage=1, alpha=0.5)
    d_loss.backward()
    assert torch.isfinite(d_loss) and tiny.D.from_rgb[1].weight.grad is not None
    tiny.zero_grad()
    tiny.generator_loss(z, stage=1, alpha=0.5).backward()
    assert tiny.G.blocks[0].conv1.weight.grad is not None and tiny.G.blocks[2].conv1.weight.grad is None
    assert tiny.sample(2, stage=3).shape == (2, 32, 32)


def test_the_demo_shows_every_resolution_the_fade_and_a_path_and_explains_bad_input():
    from helpers import OneModel

    from hub import InputError
    from plugins.progan.demo import TRANSITIONS, ProGANDemo, history_plot, slerp
    from plugins.progan.progan import TrainedGenerators

    torch.manual_seed(0)
    demo = ProGANDemo(OneModel(TrainedGenerators(z_dim=8, channels=(8, 8, 4, 4))))
    grid = demo.resolutions(3)
    assert grid.ndim == 3 and grid.shape[1] > grid.shape[0]             # 4 rows of SAMPLES
    faded, note = demo.fade(3, TRANSITIONS[0], 0.25)
    assert faded.ndim == 3 and "0.25 x the new 8 x 8" in note
    assert demo.interpolate(1, 2, 5).ndim == 3
    a, b = torch.randn(8), torch.randn(8)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    with pytest.raises(InputError, match="alpha"):
        demo.fade(3, TRANSITIONS[0], 1.5)
    with pytest.raises(InputError, match="Transition"):
        demo.fade(3, "2 x 2 -> 4 x 4", 0.5)
    with pytest.raises(InputError, match="Steps"):
        demo.interpolate(1, 2, 100)
    history = [(0.1, 0, 1.0, 900.0), (0.5, 1, 0.5, 300.0), (0.9, 3, 1.0, 60.0)]
    assert history_plot({"history": history, "history_without_growing": [(0.2, 3, 1.0, 500.0), (0.9, 3, 1.0, 90.0)]})


def test_the_shipped_progan_keeps_every_stage_and_its_card_shows_its_figures():
    from helpers import shipped_weights

    from plugins.progan import load

    config, card = shipped_weights("progan")
    m = config["metrics"]
    assert m["samples"] == m["test_examples"] == 10_000
    assert sum(m["class_shares"].values()) == pytest.approx(1.0, abs=1e-3)
    assert f"FLD **{m['fld']:.2f}**" in card and f"**{m['fld_without_growing']:.2f}**" in card
    history = config["training"]["history"]
    assert {stage for _, stage, _, _ in history} == set(range(len(RESOLUTIONS)))
    assert config["training"]["history_without_growing"][-1][0] == pytest.approx(config["training"]["minutes"], abs=1)
    model = load()
    z = torch.randn(2, model.z_dim)
    for stage, size in enumerate(RESOLUTIONS):
        assert model.sample(z, stage).shape == (2, size, size)
    assert m["fld"] < m["fld_without_growing"]          # what growing bought, same minutes


@pytest.mark.slow                # 2,000 samples through the evaluator in a subprocess
def test_the_progan_quick_check_reproduces_the_shipped_subset_figures():
    from helpers import assert_quick_check_reproduced

    # a digit's share of 1,000 samples moves by a point for ten samples
    assert_quick_check_reproduced("progan", lambda key: 0.01 if "class_shares" in key else 0.03)
