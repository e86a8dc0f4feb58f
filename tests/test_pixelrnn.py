"""PixelRNN layers: no pixel ever sees itself or a later pixel (raster order)."""
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
