"""The shared Transformer blocks of hub/attention.py: the paper's equations, the masks, the cache."""
import math

import pytest
import torch
import torch.nn.functional as F

from hub.kit.attention import (DecoderLayer, EncoderLayer, MultiHeadAttention, PositionalEncoding, causal_mask,
                           padding_mask, reorder_cache, keep_cache_rows, scaled_dot_product_attention)


def test_scaled_dot_product_attention_is_softmax_of_scaled_scores_times_values():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    out, weights = scaled_dot_product_attention(q, k, v)
    expected_weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), -1)
    assert torch.allclose(weights, expected_weights, atol=1e-6)
    assert torch.allclose(out, expected_weights @ v, atol=1e-6)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5)


def test_masks_give_padding_and_future_positions_zero_weight():
    tokens = torch.tensor([[5, 6, 7, 0, 0]])
    mask = causal_mask(5) & padding_mask(tokens, pad_id=0)
    assert mask.shape == (1, 1, 5, 5)
    torch.manual_seed(0)
    x = torch.randn(1, 1, 5, 4)
    _, weights = scaled_dot_product_attention(x, x, x, mask)
    assert torch.all(weights[0, 0].triu(1) == 0)                 # nothing from the future
    assert torch.all(weights[0, 0, :, 3:] == 0)                  # nothing from padding
    assert torch.allclose(weights.sum(-1), torch.ones(1, 1, 5))


def test_a_fully_masked_row_attends_to_nothing_and_stays_finite():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 3, 4)
    mask = torch.tensor([[True, False, False], [False, False, False], [True, True, True]])[None, None]
    output, weights = scaled_dot_product_attention(x, x, x, mask)
    assert torch.isfinite(output).all() and torch.isfinite(weights).all()
    assert torch.all(weights[0, 0, 1] == 0) and torch.all(output[0, 0, 1] == 0)
    assert torch.allclose(weights[0, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(weights[0, 0, 2].sum(), torch.tensor(1.0))


def test_heads_are_a_split_of_d_model_and_bad_splits_are_refused():
    attention = MultiHeadAttention(d_model=12, heads=3)
    x = torch.randn(2, 4, 12)
    out, weights = attention(x, x, x)
    assert out.shape == (2, 4, 12) and weights.shape == (2, 3, 4, 4) and attention.d_k == 4
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(d_model=10, heads=3)


def test_positional_encoding_follows_the_sine_and_cosine_formula():
    pe = PositionalEncoding(d_model=8, max_len=20).pe
    pos, i = 7, 2
    assert pe[pos, 2 * i].item() == pytest.approx(math.sin(pos / 10000 ** (2 * i / 8)), abs=1e-6)
    assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(pos / 10000 ** (2 * i / 8)), abs=1e-6)
    with pytest.raises(ValueError, match="longer"):
        PositionalEncoding(8, max_len=4)(torch.zeros(1, 5, 8))


def test_a_causal_encoder_layer_output_does_not_depend_on_later_tokens():
    torch.manual_seed(0)
    layer = EncoderLayer(d_model=16, heads=2, d_ff=32).eval()
    x = torch.randn(1, 6, 16)
    changed = x.clone()
    changed[0, 4:] = torch.randn(2, 16)
    a, _ = layer(x, causal_mask(6))
    b, _ = layer(changed, causal_mask(6))
    assert torch.allclose(a[0, :4], b[0, :4], atol=1e-6)
    assert not torch.allclose(a[0, 4:], b[0, 4:])


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoding_step_by_step_with_the_cache_equals_the_full_pass(norm_first):
    torch.manual_seed(0)
    layer = DecoderLayer(d_model=16, heads=4, d_ff=32, norm_first=norm_first).eval()
    memory, y = torch.randn(2, 5, 16), torch.randn(2, 6, 16)
    full, _, full_cross = layer(y, memory, causal_mask(6))
    cache, steps = {}, []
    for t in range(6):
        out, _, cross = layer(y[:, t:t + 1], memory, cache=cache)
        steps.append(out)
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)
    assert torch.allclose(cross[:, :, 0], full_cross[:, :, -1], atol=1e-6)
    assert cache["self"]["k"].shape == (2, 4, 6, 4)              # one cached key per position so far


def test_a_causal_encoder_layer_decodes_step_by_step_with_the_cache():
    """The decoder-only (GPT / DALL-E) use of the encoder layer: a prefix at once, then one position a step."""
    torch.manual_seed(0)
    layer = EncoderLayer(d_model=16, heads=4, d_ff=32).eval()
    x = torch.randn(2, 7, 16)
    full, _ = layer(x, causal_mask(7))
    cache = {}
    prefix, _ = layer(x[:, :3], causal_mask(3), cache=cache)
    steps = [prefix] + [layer(x[:, t:t + 1], cache=cache)[0] for t in range(3, 7)]
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)
    assert cache["k"].shape == (2, 4, 7, 4)


def test_reorder_cache_keeps_the_chosen_hypotheses():
    memory = torch.tensor([[7.0], [7.0], [9.0]])             # the encoder output of each row's sentence
    caches = [{"self": {"k": torch.arange(3.0)[:, None], "v": torch.arange(3.0)[:, None]},
               "cross": {"static": True, "k": memory, "v": memory}}]
    reorder_cache(caches, torch.tensor([1, 1, 2]))
    assert caches[0]["self"]["k"].flatten().tolist() == [1, 1, 2]
    assert caches[0]["cross"]["k"] is memory                   # the same for every hypothesis of a sentence


def test_keep_cache_rows_drops_finished_sentences_static_parts_too():
    memory = torch.tensor([[7.0], [7.0], [9.0], [9.0]])
    caches = [{"self": {"k": torch.arange(4.0)[:, None], "v": torch.arange(4.0)[:, None]},
               "cross": {"static": True, "k": memory, "v": memory}}]
    keep_cache_rows(caches, torch.tensor([False, False, True, True]))
    assert caches[0]["self"]["k"].flatten().tolist() == [2, 3]
    assert caches[0]["cross"]["k"].flatten().tolist() == [9, 9]


def test_attention_without_weights_is_the_same_output_by_the_fused_kernel():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 4, 3, 8), torch.randn(2, 4, 5, 8), torch.randn(2, 4, 5, 8)
    mask = torch.tensor([True, True, True, False, False])[None, None, None].expand(2, 1, 1, 5)
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    fused, none = scaled_dot_product_attention(q, k, v, mask, need_weights=False)
    assert none is None and torch.allclose(out, fused, atol=1e-6)
    assert not torch.allclose(fused, scaled_dot_product_attention(q, k, v, need_weights=False)[0])   # the mask counts
