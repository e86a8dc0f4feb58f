"""PixelRNN: no pixel ever sees itself or a later pixel; the row-at-a-time sampler matches the
whole-image pass; the shipped weights, their exact test figure, and the demos."""
import pytest
import torch

from plugins.pixelrnn.model import PixelRNN, skew, unskew


def test_skew_and_unskew_invert_each_other():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    skewed = skew(x)
    assert skewed.shape == (2, 3, 4, 8)
    assert torch.equal(skewed[0, 0, 2, 2:7], x[0, 0, 2])
    assert torch.equal(unskew(skewed, 5), x)


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_changing_pixel_j_never_changes_the_prediction_of_any_pixel_up_to_j(kind):
    torch.manual_seed(0)
    model = PixelRNN(kind=kind, layers=2, hidden=4)
    for p in model.parameters():                         # large weights: any leak would show
        torch.nn.init.normal_(p, std=0.5)
    side = 7
    x = (torch.rand(1, 1, side, side) > 0.5).float()
    base = model.logits(x).flatten()
    for j in range(side * side):
        flipped = x.clone().flatten()
        flipped[j] = 1 - flipped[j]
        changed = (model.logits(flipped.view_as(x)).flatten() - base).abs()
        assert changed[:j + 1].max() == 0, f"{kind}: pixel {j} reaches pixel {int(changed[:j + 1].argmax())}"
        if j < side * side - 1:
            assert changed[j + 1:].max() > 0, f"{kind}: pixel {j} informs nothing after it"


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_row_at_a_time_sampler_draws_what_the_whole_image_pass_draws(kind):
    torch.manual_seed(1)
    model = PixelRNN(kind=kind, layers=2, hidden=4, side=6).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.5)
    fast = model.sample(5, torch.Generator().manual_seed(3))
    naive = model.sample_naive(5, torch.Generator().manual_seed(3))
    assert fast.shape == (5, 36) and 0 < fast.mean() < 1
    assert torch.equal(fast, naive)


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_completion_keeps_the_given_rows_and_matches_the_whole_image_pass(kind):
    torch.manual_seed(2)
    model = PixelRNN(kind=kind, layers=2, hidden=4, side=6).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.5)
    prefix = (torch.rand(3, 15) > 0.5).float()           # two rows and a half
    completed = model.sample(3, torch.Generator().manual_seed(0), prefix=prefix)
    assert torch.equal(completed[:, :15], prefix)
    logits = model.logits(completed.view(3, 1, 6, 6)).flatten(1)
    # replaying the draws: each sampled pixel must be the Bernoulli draw of the whole-image logit
    generator = torch.Generator().manual_seed(0)
    for i in range(15, 36):
        assert torch.equal(torch.bernoulli(torch.sigmoid(logits[:, i]), generator=generator), completed[:, i])

