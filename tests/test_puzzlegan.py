"""Puzzle-GAN on tiny nets: cutting and laying patches, the masks, the losses, the demo's answers to bad input."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from hub.kit import training
from plugins.puzzlegan.puzzle import (PATCH, PATCHES, PLACES, SIDE, PuzzleGAN, crop, joint_places, key_places, masks_of,
                                      most_likely_places, one_hot_places, overlap_disagreement, paste, wrong_places)


def digits(n: int = 6) -> torch.Tensor:
    """Synthetic digits: a ring of ink at a different place in each."""
    rows, cols = torch.meshgrid(torch.arange(SIDE), torch.arange(SIDE), indexing="ij")
    out = []
    for k in range(n):
        distance = ((rows - 10 - k) ** 2 + (cols - 12 - k % 3) ** 2).float().sqrt()
        out.append(((distance > 4) & (distance < 7)).float())
    return torch.stack(out)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return PuzzleGAN(code=16, z_dim=4, g_width=8, d_width=4)


def test_patches_pasted_at_their_true_places_give_the_digit_back_inside_their_masks():
    images = digits()
    places = key_places(images, torch.Generator().manual_seed(0))
    patches = crop(images, places)
    assert patches.shape == (len(images), PATCHES, PATCH, PATCH)
    r, c = places[2, 1].tolist()
    assert torch.equal(patches[2, 1], images[2, r:r + PATCH, c:c + PATCH])
    covered = masks_of(one_hot_places(places)).amax(1)
    laid = paste(patches, one_hot_places(places))
    assert torch.equal(laid * covered, images * covered) and laid[covered == 0].abs().sum() == 0


def test_every_mask_is_a_chance_per_pixel_that_sums_to_the_patch_area():
    placement = torch.randn(4, PATCHES, PLACES, PLACES).flatten(2).softmax(-1).view(4, PATCHES, PLACES, PLACES)
    masks = masks_of(placement)
    assert masks.shape == (4, PATCHES, SIDE, SIDE)
    assert torch.allclose(masks.sum((-1, -2)), torch.full((4, PATCHES), float(PATCH * PATCH)), atol=1e-3)
    assert masks.min() >= -1e-6 and masks.max() <= 1 + 1e-5
    corner = masks_of(one_hot_places(torch.zeros(1, 1, 2, dtype=torch.long)))[0, 0]
    assert corner[:PATCH, :PATCH].sum() == PATCH * PATCH and corner.sum() == PATCH * PATCH


def test_key_places_hold_ink_lie_apart_and_wrong_places_are_really_elsewhere():
    images = digits()
    places = key_places(images, torch.Generator().manual_seed(1))
    ink = crop(images, places).sum((-1, -2))
    assert (ink >= 8).all()
    for a in range(PATCHES):
        for b in range(a):
            assert ((places[:, a] - places[:, b]).abs().amax(-1) >= 4).all()
    moved = wrong_places(places, torch.Generator().manual_seed(2))
    assert ((moved >= 0) & (moved < PLACES)).all()
    assert ((moved - places).abs() >= PATCH // 2).all()


def test_the_order_of_the_patches_does_not_change_the_digit_and_permutes_the_masks(tiny):
    images = digits(3)
    patches = crop(images, key_places(images, torch.Generator().manual_seed(0)))
    z = torch.randn(3, tiny.z_dim)
    first = tiny.solve(patches, z)
    order = torch.tensor([2, 0, 1])
    second = tiny.solve(patches[:, order], z)
    assert first["digit"].shape == (3, SIDE, SIDE) and first["masks"].shape == (3, PATCHES, SIDE, SIDE)
    assert torch.allclose(first["digit"], second["digit"], atol=1e-5)
    assert torch.allclose(first["masks"][:, order], second["masks"], atol=1e-5)
    assert torch.equal(first["places"][:, order], second["places"])


def test_the_losses_reach_every_network_and_the_spatial_loss_rewards_the_true_places(tiny):
    tiny.train()
    images = digits()
    places = key_places(images, torch.Generator().manual_seed(0))
    out = tiny.assemble(crop(images, places), torch.randn(len(images), tiny.z_dim))
    total, parts = tiny.generator_loss(out, images * 2 - 1, places, {"spatial": 1.0, "appearance": 10.0})
    tiny.zero_grad()
    total.backward()
    assert all(np.isfinite(v) for v in parts.values())
    for net in (tiny.E, tiny.M, tiny.G):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    certain = dict(out, logits=one_hot_places(places) * 50)
    assert tiny.generator_loss(certain, images * 2 - 1, places, {"spatial": 1.0, "appearance": 0.0})[1]["spatial"] < 1e-3
    shuffled = (torch.maximum(images, paste(crop(images, places), one_hot_places(wrong_places(places)))) * 2 - 1)
    shuffled.requires_grad_(True)
    tiny.discriminator_loss(images * 2 - 1, out["digit"], shuffled).backward()
    assert shuffled.grad.abs().sum() > 0                     # D is taught that moved patches are fake


def test_crops_of_one_digit_agree_at_the_offset_they_were_cut_at():
    image = digits(1)[0]
    a, b = image[8:16, 10:18], image[11:19, 15:23]              # b's corner 3 rows down, 5 columns right of a's
    table = overlap_disagreement(a[None], b[None])[0]
    assert table.shape == (2 * PATCH - 1, 2 * PATCH - 1)
    assert table[3 + PATCH - 1, 5 + PATCH - 1] == 0 and table.sum() > 0
    assert overlap_disagreement(a[None], a[None])[0, PATCH - 1, PATCH - 1] == 0


def test_places_chosen_together_keep_patches_apart_and_follow_where_overlapping_crops_agree():
    images = digits(1)
    truth = torch.tensor([[[4, 6], [8, 9], [14, 4]]])           # 4 and 3 pixels apart: the first two overlap
    patches = crop(images, truth)

    def logits(*favoured):                                      # each patch's places, likeliest first
        out = torch.full((1, PATCHES, PLACES, PLACES), -20.0)
        for k, places in enumerate(favoured):
            for rank, (r, c) in enumerate(places):
                out[0, k, r, c] = 5.0 - rank
        return out

    both_on_one = logits([(4, 6)], [(4, 6), (8, 9)], [(14, 4)])  # alone, patch 2 would lie on patch 1
    assert most_likely_places(both_on_one)[0, 1].tolist() == [4, 6]
    assert torch.equal(joint_places(both_on_one, patches), truth)
    disagreeing = logits([(4, 6)], [(9, 8), (8, 9)], [(14, 4)])  # (9, 8) overlaps patch 1 where they differ
    assert overlap_disagreement(patches[:, 0], patches[:, 1])[0, 5 + PATCH - 1, 2 + PATCH - 1] > 1
    assert torch.equal(joint_places(disagreeing, patches), truth)
    assert most_likely_places(disagreeing)[0, 1].tolist() == [9, 8]


def test_the_placement_warm_up_trains_E_and_M_alone_and_its_epoch_count_survives_a_restart(tiny):
    images = digits()
    places = key_places(images, torch.Generator().manual_seed(0))
    tiny.zero_grad()
    tiny.place_loss(crop(images, places), places).backward()
    assert all(p.grad is None for p in [*tiny.G.parameters(), *tiny.D.parameters()])
    assert any(p.grad.abs().sum() > 0 for p in tiny.M.parameters())
    count = training.EpochCount()
    count.step(), count.step()
    again = training.EpochCount()
    again.load_state_dict(count.state_dict())
    assert again.done == 2


def png(array: np.ndarray, path) -> str:
    Image.fromarray(array.astype(np.uint8)).save(path)
    return str(path)


def test_the_demo_assembles_test_digits_and_uploads_and_explains_bad_input(tiny, tmp_path):
    from helpers import OneModel

    from hub import InputError
    from plugins.puzzlegan.demo import PuzzleDemo, cells_image

    demo = PuzzleDemo(OneModel(tiny))
    assert cells_image(np.zeros((SIDE, SIDE), np.float32)).shape == (SIDE * 8, SIDE * 8, 3)
    row, digit, masks, original, note = demo.kept_cells(0, ["1", "5", "9"], 0)
    assert digit.shape[:2] == masks.shape[:2] == original.shape[:2] == (SIDE * 8, SIDE * 8)
    assert "labelled 7" in note and note.count("px off") == PATCHES
    assert demo.random_patches(3, 5)[-1].count("px off") == PATCHES
    with pytest.raises(InputError, match="No patch chosen"):
        demo.kept_cells(0, [], 0)
    with pytest.raises(InputError, match="exactly 3"):
        demo.kept_cells(0, ["1", "2"], 0)
    with pytest.raises(InputError, match="Test image number"):
        demo.kept_cells(10_000, ["1", "2", "3"], 0)
    ink = np.zeros((16, 16)); ink[4:12, 6:9] = 255
    good = [png(ink, tmp_path / f"p{k}.png") for k in range(3)]
    row, digit, masks, original, note = demo.uploads(*good, 0)
    assert original is None and "reads the generated digit" in note
    with pytest.raises(InputError, match="Patch 2 is missing"):
        demo.uploads(good[0], None, good[2], 0)
    with pytest.raises(InputError, match="square"):
        demo.uploads(good[0], png(np.pad(ink, ((0, 0), (0, 8))), tmp_path / "wide.png"), good[2], 0)
    with pytest.raises(InputError, match="square"):
        demo.uploads(png(np.pad(ink, 40), tmp_path / "big.png"), good[1], good[2], 0)
    with pytest.raises(InputError, match="blank"):
        demo.uploads(good[0], good[1], png(np.zeros((8, 8)), tmp_path / "blank.png"), 0)
    (tmp_path / "notes.png").write_bytes(io.BytesIO(b"not an image").getvalue())
    with pytest.raises(InputError, match="not an image"):
        demo.uploads(good[0], good[1], str(tmp_path / "notes.png"), 0)


def test_the_shipped_puzzlegan_card_shows_the_figures_measured_on_the_whole_test_split():
    from helpers import shipped_weights

    config, card = shipped_weights("puzzlegan")
    m = config["metrics"]
    assert m["digits"] == 10_000 and m["patches_per_digit"] == PATCHES and m["patch_size"] == PATCH
    assert f"**{100 * m['digit_accuracy']:.1f}%**" in card and f"**{m['mask_error_px']:.2f} pixels**" in card
    # both bars met: masks within 3 pixels on average, the digits read 18.3 points above the pasted patches (bar 15)
    assert m["mask_error_px"] <= 3 and m["digit_accuracy"] - m["pasted_patches_accuracy"] >= 0.15
    # placing the patches together, not each alone, and a perfect M would each give more
    assert m["mask_error_px"] < m["mask_error_px_places_alone"] and m["digit_accuracy"] > m["digit_accuracy_places_alone"]
    assert m["digit_accuracy_true_places"] > m["digit_accuracy"]
    assert "## What changed" in card and "69.8%" in card and "## Short of the aim" not in card


@pytest.mark.slow                # 1,000 test digits through the model and the evaluator in a subprocess
def test_the_puzzlegan_quick_check_reproduces_the_shipped_subset_figures():
    from helpers import assert_quick_check_reproduced

    assert_quick_check_reproduced("puzzlegan")
