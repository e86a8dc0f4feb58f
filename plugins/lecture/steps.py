"""What the lecture's pages compute, step by step, with the hub's own code (the shared attention blocks,
the shipped models). Every number a page shows comes from here.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from hub.kit import MultiHeadAttention, PositionalEncoding, causal_mask, parameter_count, scaled_dot_product_attention

# The lecture's worked example: two words, d_k = 64, the query of "Thinking" against both keys.
WORDS = ("Thinking", "Machines")
RAW_SCORES = (112.0, 96.0)
LECTURE_D_K = 64
# ... and its matrix form: X is 2 x 4 (a row per word), W_Q, W_K, W_V are 4 x 3, so d_k = 3 there.
X = [[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 2.0]]
W_Q = [[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
W_K = [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
W_V = [[0.0, 2.0, 0.0], [0.0, 3.0, 0.0], [1.0, 0.0, 3.0], [1.0, 1.0, 0.0]]
VALUES = [[1.0, 2.0, 3.0], [4.0, 0.0, -1.0]]           # v1, v2 for the word-by-word steps


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def word_steps(raw_scores, d_k: float, values, scaled: bool = True) -> dict:
    """One query against each word's key: q.k, divided by sqrt(d_k) (unless `scaled` is off), the softmax,
    each value vector weighted by it, and z = their sum."""
    raw = np.asarray(raw_scores, np.float64)
    divisor = math.sqrt(d_k) if scaled else 1.0
    weights = softmax(raw / divisor)
    weighted = weights[:, None] * np.asarray(values, np.float64)
    return {"raw": raw, "divisor": divisor, "scaled": raw / divisor, "softmax": weights, "weighted": weighted,
            "z": weighted.sum(0)}


def matrix_steps(x, w_q, w_k, w_v, scaled: bool = True) -> dict:
    """Self-attention as matrices: Q = X W_Q, K = X W_K, V = X W_V, then softmax(Q K^T / sqrt(d_k)) V, by the
    hub's own `scaled_dot_product_attention` (with `scaled` off, the softmax of Q K^T itself, for contrast)."""
    x, w_q, w_k, w_v = (torch.tensor(m, dtype=torch.float64) for m in (x, w_q, w_k, w_v))
    if x.shape[1] != w_q.shape[0] or not w_q.shape == w_k.shape == w_v.shape:
        raise ValueError(f"X is {tuple(x.shape)}: W_Q, W_K and W_V must all be {x.shape[1]} x d_k")
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    d_k = q.shape[-1]
    if scaled:
        z, weights = scaled_dot_product_attention(q, k, v)
    else:
        weights = (q @ k.T).softmax(-1)
        z = weights @ v
    return {"Q": q.numpy(), "K": k.numpy(), "V": v.numpy(), "scores": (q @ k.T).numpy(), "d_k": d_k,
            "scaled": (q @ k.T / (math.sqrt(d_k) if scaled else 1.0)).numpy(), "softmax": weights.numpy(),
            "Z": z.numpy()}


def saturation(d_ks=(4, 16, 64, 256, 1024), keys: int = 10, trials: int = 2000, seed: int = 0) -> dict:
    """The mean largest softmax weight of one query over `keys` keys, q and k with unit-variance entries: the
    dot product's variance grows as d_k, so without the division by sqrt(d_k) the softmax saturates (one
    weight near 1, the gradients of the others near 0)."""
    generator = torch.Generator().manual_seed(seed)
    result = {"d_k": list(d_ks), "scaled": [], "unscaled": []}
    for d_k in d_ks:
        q, k = torch.randn(trials, 1, d_k, generator=generator), torch.randn(trials, keys, d_k, generator=generator)
        scores = (q @ k.transpose(1, 2))[:, 0]
        result["unscaled"].append(float(scores.softmax(-1).amax(-1).mean()))
        result["scaled"].append(float((scores / math.sqrt(d_k)).softmax(-1).amax(-1).mean()))
    return result


def multi_head(d_model: int, heads: int, length: int = 3, seed: int = 0) -> dict:
    """Run the hub's MultiHeadAttention on `length` random embeddings, keeping the shape of every step, and
    count its parameters against h full-width heads concatenated (each W_i^Q, W_i^K, W_i^V d_model x d_model,
    and W^O h d_model x d_model)."""
    torch.manual_seed(seed)
    attention = MultiHeadAttention(d_model, heads).eval()
    x = torch.randn(1, length, d_model)
    with torch.no_grad():
        q, k, v = (attention.split_heads(w(x)) for w in (attention.w_q, attention.w_k, attention.w_v))
        per_head, weights = scaled_dot_product_attention(q, k, v)
        concatenated = per_head.transpose(1, 2).reshape(1, length, d_model)
        out = attention.w_o(concatenated)
        reference, _ = attention(x, x, x)
    full = heads * 3 * (d_model * d_model + d_model) + heads * d_model * d_model + d_model
    return {"shapes": [("input X", tuple(x.shape[1:])), ("Q = X W^Q, split into h heads", tuple(q.shape[1:])),
                       ("attention weights per head", tuple(weights.shape[1:])),
                       ("each head's output", tuple(per_head.shape[1:])),
                       ("heads concatenated", tuple(concatenated.shape[1:])), ("after W^O", tuple(out.shape[1:]))],
            "d_k": d_model // heads, "split_parameters": parameter_count(attention), "full_parameters": full,
            "same_as_module": bool(torch.allclose(out, reference, atol=1e-5))}


def positional_encoding(positions: int, d_model: int) -> np.ndarray:
    """The hub's sinusoid table PE [positions, d_model] (what PositionalEncoding adds to the embeddings)."""
    return PositionalEncoding(d_model, max_len=positions).pe.numpy()


def word_vectors(words: list[str], d_model: int, seed: int = 0) -> torch.Tensor:
    """A fixed random embedding per distinct word (the same word, the same vector): [1, len(words), d_model]."""
    generator = torch.Generator().manual_seed(seed)
    table = {w: torch.randn(d_model, generator=generator) for w in dict.fromkeys(words)}
    return torch.stack([table[w] for w in words])[None]


def order_test(words: list[str], d_model: int = 16, seed: int = 0) -> dict:
    """Self-attention over the words and over them reversed, with and without positional encoding: without
    it, the reversed sentence's outputs are the original outputs reversed (attention is blind to order);
    with it, they differ. Returns the largest |difference| each way, and the embeddings with and without PE."""
    torch.manual_seed(seed)
    attention, encoding = MultiHeadAttention(d_model, 2).eval(), PositionalEncoding(d_model).eval()
    x = word_vectors(words, d_model, seed)
    flipped = x.flip(1)
    result = {}
    with torch.no_grad():
        for name, embed in (("without", lambda e: e * math.sqrt(d_model)), ("with", encoding)):
            out, _ = attention(embed(x), embed(x), embed(x))
            out_flipped, _ = attention(embed(flipped), embed(flipped), embed(flipped))
            result[name] = float((out_flipped.flip(1) - out).abs().max())
        result["embeddings"] = (x[0] * math.sqrt(d_model)).numpy()
        result["embeddings_with_pe"] = encoding(x)[0].numpy()
    return result


def mask_matrix(length: int) -> np.ndarray:
    """The hub's causal mask: 1 where position i may look at position j (j <= i)."""
    return causal_mask(length)[0, 0].int().numpy()


def independence_counts(n: int) -> list[tuple[str, int]]:
    """Numbers needed for a distribution over n binary pixels: the full joint (2^n - 1), full independence
    (n), a Markov chain p(x1) prod p(x_i | x_{i-1}) (1 + 2 (n - 1) = 2n - 1)."""
    return [("full joint, chain rule with every conditional a table", 2 ** n - 1),
            ("full independence, p(x) = prod p(x_i)", n), ("Markov chain, p(x_i given x_(i-1))", 2 * n - 1)]


def readable_count(count: int) -> str:
    """An exact count up to 15 digits, else its power of ten."""
    digits = len(str(count))
    return f"{count:,}" if digits <= 15 else f"about 10^{digits - 1} ({digits} digits)"


def gaussian(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def gan_toy(data_mean: float, data_std: float, model_mean: float, model_std: float) -> dict:
    """Goodfellow et al. 2014 on a 1-D toy: p_data and p_g Gaussians; the optimal discriminator (Prop. 1)
    D*(x) = p_data(x) / (p_data(x) + p_g(x)); at D*, the value of the game V(D*, G) = -log 4 + 2 JSD(p_data || p_g)
    (Theorem 1), JSD integrated numerically (in nats, between 0 and log 2)."""
    if min(data_std, model_std) <= 0:
        raise ValueError("the standard deviations must be positive")
    low = min(data_mean - 8 * data_std, model_mean - 8 * model_std)
    high = max(data_mean + 8 * data_std, model_mean + 8 * model_std)
    x = np.linspace(low, high, 4001)
    p, q = gaussian(x, data_mean, data_std), gaussian(x, model_mean, model_std)
    mixture = (p + q) / 2
    tiny = 1e-300

    def kl(a):
        return np.trapezoid(np.where(a > tiny, a * np.log(np.maximum(a, tiny) / np.maximum(mixture, tiny)), 0.0), x)

    jsd = 0.5 * kl(p) + 0.5 * kl(q)
    optimal = np.where(p + q > tiny, p / np.maximum(p + q, tiny), 0.5)
    return {"x": x, "p_data": p, "p_g": q, "d_star": optimal, "jsd": float(jsd), "value": float(2 * jsd - math.log(4))}
