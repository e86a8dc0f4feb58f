"""Progressive GAN on tiny nets: growth, fade-in, the paper's layers, the training schedule and its resume,
the demo, and the shipped weights."""
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


TINY_RUN = dict(z_dim=8, channels=(8, 8, 8, 8), batch_size=4, phase_images=(8, 8, 8, 8), final_images=8,
                minutes_per_fld=1e9, minutes_per_save=0, fld_samples=20)


def test_growing_fades_in_every_stage_after_the_first_and_the_ablation_trains_only_at_32():
    from plugins.progan.train import DEFAULTS, phases

    cfg = {**DEFAULTS, "phase_images": (10, 20, 30, 40), "final_images": None}
    assert phases(cfg, grow=True) == [(0, False, 10), (1, True, 20), (1, False, 20), (2, True, 30), (2, False, 30),
                                      (3, True, 40), (3, False, None)]          # None: until the minutes are spent
    assert phases(cfg, grow=False) == [(3, False, None)]


def test_a_run_stopped_midway_goes_on_from_its_save_to_the_same_weights(tmp_path, monkeypatch):
    from hub.kit import training
    from plugins.progan import train

    cfg = training.settings(train.DEFAULTS, **TINY_RUN)
    whole = train.run(cfg, True, tmp_path / "whole", limit=64)
    assert len(whole["stages"]) == len(RESOLUTIONS) and whole["history"][-1][1] == len(RESOLUTIONS) - 1
    one_step, steps = train.train_step, []

    def stopped_in_the_16x16_fade_in(*args):
        if len(steps) == 7:
            raise KeyboardInterrupt
        steps.append(one_step(*args))

    monkeypatch.setattr(train, "train_step", stopped_in_the_16x16_fade_in)
    with pytest.raises(KeyboardInterrupt):
        train.run(cfg, True, tmp_path / "stopped", limit=64)
    monkeypatch.setattr(train, "train_step", one_step)
    resumed = train.run(cfg, True, tmp_path / "stopped", limit=64)
    for a, b in zip([whole["final"], *whole["stages"]], [resumed["final"], *resumed["stages"]]):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "going on from phase 3, step 1" in (tmp_path / "stopped" / "train.log").read_text()
    assert train.run(cfg, True, tmp_path / "stopped", limit=64)["history"] == resumed["history"]   # done stays done


def test_a_run_whose_minutes_are_spent_stops_where_it_is_and_keeps_no_unfinished_stage(tmp_path):
    from hub.kit import training
    from plugins.progan import train

    spent = train.run(training.settings(train.DEFAULTS, **TINY_RUN, minutes=0), True, tmp_path, limit=64)
    assert spent["stages"] == [] and [entry[1:3] for entry in spent["history"]] == [(0, 1.0)]


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
    t = config["training"]
    assert t["history_without_growing"][-1][0] == pytest.approx(t["minutes_without_growing"], abs=0.5)
    assert t["minutes_without_growing"] == pytest.approx(t["minutes"], abs=0.5)          # the same clock
    model = load()
    z = torch.randn(2, model.z_dim)
    for stage, size in enumerate(RESOLUTIONS):
        assert model.sample(z, stage).shape == (2, size, size)
    assert m["fld"] <= 25 and m["fld"] < m["fld_without_growing"]      # the bar, and what growing bought
    assert "Short of the aim" not in card


@pytest.mark.slow                # 2,000 samples through the evaluator in a subprocess
def test_the_progan_quick_check_reproduces_the_shipped_subset_figures():
    from helpers import assert_quick_check_reproduced

    # a digit's share of 1,000 samples moves by a point for ten samples
    assert_quick_check_reproduced("progan", lambda key: 0.01 if "class_shares" in key else 0.03)
