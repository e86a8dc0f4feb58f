"""The lecture's pages: each topic a tab whose every number is computed by `steps` (the hub's attention blocks
and shipped models), with inputs a learner can edit."""
from __future__ import annotations

import numpy as np

from hub import InputError
from hub.kit import enlarge, figure_image, integer, likelihood, number, parameter_count, pyplot, test_digits

from . import steps

MAX_SIDE = 8                       # the largest matrix a learner may type


def table(matrix, rows=None, columns=None, digits: int = 3) -> str:
    """A small matrix as a Markdown table."""
    matrix = np.atleast_2d(np.asarray(matrix, np.float64))
    columns = columns or [str(j + 1) for j in range(matrix.shape[1])]
    rows = rows or [str(i + 1) for i in range(matrix.shape[0])]
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| **{r}** | " + " | ".join(plain(v, digits) for v in row) + " |" for r, row in zip(rows, matrix)]
    return "\n".join(lines)


def plain(value: float, digits: int) -> str:
    """A number with at most `digits` decimals and no trailing zeros: 14, 0.8808, -1.5."""
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def matrix_of(value, name: str) -> list[list[float]]:
    """An edited Dataframe (a pandas frame or rows) -> a list of rows of numbers, or a clear message."""
    rows = value.values.tolist() if hasattr(value, "values") else value
    try:
        matrix = np.asarray(rows, np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}: every cell must be a number.") from None
    if matrix.ndim != 2 or not (1 <= min(matrix.shape) and max(matrix.shape) <= MAX_SIDE):
        raise InputError(f"{name}: a matrix of at most {MAX_SIDE} x {MAX_SIDE} numbers.")
    if not np.isfinite(matrix).all() or np.abs(matrix).max() > 1e6:
        raise InputError(f"{name}: numbers between -1,000,000 and 1,000,000, please.")
    return matrix.tolist()


def self_attention(first, second, d_k, values, x, w_q, w_k, w_v, scaled) -> tuple[str, str]:
    """(the word-by-word steps, the matrix steps) as Markdown."""
    raw = [number(first, "q1 · k1", -1e6, 1e6), number(second, "q1 · k2", -1e6, 1e6)]
    d_k = number(d_k, "d_k", 1, 1e6)
    values = matrix_of(values, "Value vectors")
    if len(values) != 2:
        raise InputError("Value vectors: one row for each of the two words.")
    w = steps.word_steps(raw, d_k, values, scaled)
    divide = f"÷ √{d_k:g} = {w['divisor']:.4g}" if scaled else "not divided (√d_k dropped)"
    rows = [[r, s, p, *v] for r, s, p, v in zip(w["raw"], w["scaled"], w["softmax"], w["weighted"])]
    words = table(rows, list(steps.WORDS), ["q1 · k", divide, "softmax", *[f"softmax × v[{j + 1}]"
                                                                            for j in range(len(values[0]))]], 4)
    by_word = (f"{words}\n\n**z1** = the sum of the weighted value vectors = ({', '.join(f'{v:.4g}' for v in w['z'])}). "
               f"\"Thinking\" keeps {100 * w['softmax'][0]:.0f}% of its attention on itself.")
    try:
        m = steps.matrix_steps(matrix_of(x, "X"), matrix_of(w_q, "W_Q"), matrix_of(w_k, "W_K"), matrix_of(w_v, "W_V"),
                               scaled)
    except ValueError as error:               # shapes that do not fit together
        raise InputError(str(error)) from None
    divide = f"Q Kᵀ / √{m['d_k']} (here d_k = {m['d_k']}, the columns of W_Q)" if scaled else "Q Kᵀ, not divided"
    parts = [("Q = X W_Q", m["Q"]), ("K = X W_K", m["K"]), ("V = X W_V", m["V"]), ("Q Kᵀ", m["scores"]),
             (divide, m["scaled"]), ("softmax, row by row", m["softmax"]), ("Z = softmax(...) V", m["Z"])]
    as_matrices = "\n\n".join(f"**{name}**\n\n{table(value, list(steps.WORDS))}" for name, value in parts)
    return by_word, as_matrices


def saturation_plot():
    plt = pyplot()

    s = steps.saturation()
    figure, axes = plt.subplots(figsize=(6, 3))
    axes.plot(s["d_k"], s["unscaled"], "o-", label="softmax(q·k): saturates", color="#b2182b")
    axes.plot(s["d_k"], s["scaled"], "o-", label="softmax(q·k / √d_k)", color="#08519c")
    axes.set_xscale("log", base=2)
    axes.set_ylim(0, 1)
    axes.set_xlabel("d_k")
    axes.set_ylabel("largest weight of 10 keys")
    axes.legend(fontsize=8)
    figure.tight_layout()
    plt.close(figure)
    return figure


def multi_head(d_model, heads, length) -> str:
    d_model, heads = integer(d_model, "d_model", 2, 2048), integer(heads, "Heads h", 1, 64)
    length = integer(length, "Words", 1, 16)
    if d_model % heads:
        raise InputError(f"d_model = {d_model} does not split into {heads} heads: pick h dividing d_model.")
    m = steps.multi_head(d_model, heads, length)
    shapes = "\n".join(f"| {name} | {' x '.join(map(str, shape))} |" for name, shape in m["shapes"])
    return (f"| step (the hub's MultiHeadAttention on {length} random embeddings) | shape |\n|---|---|\n{shapes}\n\n"
            f"Each of the h = {heads} heads works in d_k = d_model / h = {m['d_k']} dimensions. Parameters: "
            f"**{m['split_parameters']:,}** with d_model split into h parts (W_Q, W_K, W_V, W_O each "
            f"d_model x d_model), against **{m['full_parameters']:,}** for h full-width heads and a W_O from "
            f"h·d_model back to d_model: {m['full_parameters'] / m['split_parameters']:.1f} times as many. "
            "Splitting costs what one full-width head costs and still lets each head attend its own way (the "
            "lecture's point). Running the steps by hand gives the module's own output: "
            f"{'yes' if m['same_as_module'] else 'no'}.")


def heat(values: np.ndarray, title: str, xlabel: str, ylabel: str, yticks=None):
    plt = pyplot()

    figure, axes = plt.subplots(figsize=(6, 2.8))
    image = axes.imshow(values, cmap="RdBu_r", aspect="auto", vmin=-np.abs(values).max(), vmax=np.abs(values).max())
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if yticks is not None:
        axes.set_yticks(range(len(yticks)), yticks)
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    plt.close(figure)
    return figure


def positional(positions, d_model, sentence):
    positions, d_model = integer(positions, "Positions", 2, 512), integer(d_model, "d_model", 4, 512)
    if d_model % 2:
        raise InputError("d_model must be even: sines fill the even dimensions, cosines the odd ones.")
    words = (sentence or "").split()
    if not 2 <= len(words) <= 20:
        raise InputError("Type a sentence of 2 to 20 words.")
    pe = steps.positional_encoding(positions, d_model)
    result = steps.order_test(words)
    note = (f"Self-attention over \"{' '.join(words)}\" and over the words reversed (the hub's MultiHeadAttention, "
            f"d_model 16). **Without** positional encoding, the reversed sentence's outputs are the original "
            f"outputs reversed: the largest difference is {result['without']:.1e}, rounding error. Attention alone "
            f"sees a bag of words. **With** it, the largest difference is {result['with']:.3f}: the order now "
            "changes what each word attends to.")
    return (heat(pe.T, "PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...)", "position", "dimension"),
            heat(result["embeddings"], "embeddings (x √d_model)", "dimension", "", words),
            heat(result["embeddings_with_pe"], "embeddings + PE", "dimension", "", words), note)


def masking(length) -> str:
    length = integer(length, "Length", 2, 12)
    m = steps.mask_matrix(length)
    return (table(m, [f"step {i + 1}" for i in range(length)], [f"word {j + 1}" for j in range(length)], 0) +
            "\n\nRow i: the positions step i may attend to (1) in the decoder's self-attention. Everything right of "
            "the diagonal is masked (weight 0): no step sees the words that come after it, so training on whole "
            "sentences teaches exactly what decoding one word at a time needs.")


def decoding(hub, text) -> str:
    text = " ".join(str(text or "").split())
    if not text:
        raise InputError("Type an English sentence to translate.")
    if len(text) > 300:
        raise InputError("At most 300 characters, please.")
    demo = next((d for d in hub.demos.values() if d.decoding_steps and d.trained), None)
    if demo is None:
        raise InputError("No translation model is trained yet (`python -m hub train translation`).")
    with hub.handle(demo.id).use(demo.models[0].name) as model:
        found = demo.decoding_steps(model, text, 5)
    lines = ["| step | written so far | top 5 next subwords, p(y_t given y_<t, x) | chosen |", "|---|---|---|---|"]
    written = []
    for i, (chosen, top) in enumerate(found, 1):
        lines.append(f"| {i} | {''.join(written).replace('▁', ' ').strip() or '(start)'} | " +
                     ", ".join(f"`{w}` {p:.2f}" for w, p in top) + f" | `{chosen}` |")
        written.append(chosen)
    return (f"{demo.title}, greedy decoding: each step reads the source and its own earlier output only (the "
            "causal mask), and writes the most probable subword.\n\n" + "\n".join(lines))


def counting(hub, n, with_models: bool = True) -> str:
    """The numbers each way of writing p(x) needs; with the shipped explicit models' real parameter counts
    (loading them) when `with_models`."""
    n = integer(n, "Pixels n", 1, 10_000)
    rows = [f"| {name} | {steps.readable_count(count)} |" for name, count in steps.independence_counts(n)]
    lines = [f"| a distribution over n = {n} binary pixels | numbers |", "|---|---|", *rows]
    explicit = [d for d in hub.demos.values() if d.likelihood == "exact" and d.trained] if with_models else []
    for demo in explicit:
        with hub.handle(demo.id).use(demo.models[0].name) as model:
            lines.append(f"| {demo.title} (shipped, n = 784): every conditional p(x_i given x_<i) from shared "
                         f"weights | {parameter_count(model):,} |")
    return ("\n".join(lines) + "\n\nThe chain rule p(x) = p(x1) p(x2 | x1) ... p(x_n | x_<n) is exact but its tables "
            "explode; independence and a Markov chain are cheap but wrong for images. NADE and PixelRNN keep the "
            "exact chain rule and make every conditional a neural network that shares its weights across pixels.")


def elbo(hub, index) -> tuple[np.ndarray, str]:
    demo = next((d for d in hub.demos.values() if d.elbo_parts and d.trained), None)
    if demo is None:
        raise InputError("No VAE is trained yet (`python -m hub train vae`).")
    x, y = test_digits()
    index = integer(index, "Test digit", 0, len(x) - 1)
    with hub.handle(demo.id).use(demo.models[0].name) as model:
        parts = demo.elbo_parts(model, likelihood.flat(x[index:index + 1]))
    reconstruction, kl = float(parts["reconstruction"][0]), float(parts["kl"][0])
    return enlarge(x[index].astype(np.float32), 5), (
        f"Test digit {index} (a {y[index]}) through the shipped {demo.title}:\n\n"
        f"| term | nats |\n|---|---:|\n| reconstruction, E_q[log p(x given z)] | {reconstruction:.2f} |\n"
        f"| KL(q(z given x) ‖ p(z)) | {kl:.2f} |\n| **ELBO** = reconstruction - KL | **{reconstruction - kl:.2f}** |\n\n"
        "The ELBO is a lower bound on log p(x): the reconstruction term asks the decoder to give this digit back "
        "from its code, the KL term charges for how far the encoder's q(z given x) strays from the prior.")


def gan(data_mean, data_std, model_mean, model_std):
    plt = pyplot()

    values = [number(v, name, low, high) for v, name, low, high in (
        (data_mean, "data mean", -5, 5), (data_std, "data std", 0.1, 3), (model_mean, "G's mean", -5, 5),
        (model_std, "G's std", 0.1, 3))]
    toy = steps.gan_toy(*values)
    figure, axes = plt.subplots(figsize=(6.5, 3))
    axes.plot(toy["x"], toy["p_data"], color="#222", label="p_data")
    axes.plot(toy["x"], toy["p_g"], color="#2ca25f", label="p_g")
    twin = axes.twinx()
    twin.plot(toy["x"], toy["d_star"], "--", color="#08519c", label="D*(x)")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("D*(x)")
    axes.set_xlim(-8, 8)
    axes.legend(loc="upper left", fontsize=8)
    twin.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    plt.close(figure)
    return figure, (f"JSD(p_data ‖ p_g) = **{toy['jsd']:.4f}** nats (0 when they match, at most log 2 = 0.6931). "
                    f"At the optimal discriminator the game's value is V(D*, G) = -log 4 + 2 JSD = "
                    f"**{toy['value']:.4f}**; the generator's best is -log 4 = -1.3863, reached only when p_g = "
                    "p_data, where D*(x) = 1/2 everywhere.")


def thumbnail(ctx) -> np.ndarray:
    """The gallery's picture: the saturation plot of the self-attention page."""
    return figure_image(saturation_plot())


def build_ui(ctx) -> None:
    import gradio as gr

    hub = ctx.hub
    attention_default = self_attention(*defaults())
    with gr.Tab("Self-attention"):
        gr.Markdown("The lecture's example: the query of \"Thinking\" against the keys of \"Thinking\" and "
                    "\"Machines\". Edit any number and every step below changes.")
        with gr.Row():
            first = gr.Number(steps.RAW_SCORES[0], label="q1 · k1")
            second = gr.Number(steps.RAW_SCORES[1], label="q1 · k2")
            d_k = gr.Number(steps.LECTURE_D_K, label="d_k")
            scaled = gr.Checkbox(True, label="divide by √d_k")
        values = gr.Dataframe(steps.VALUES, label="Value vectors v1, v2 (a row each)", interactive=True)
        by_word = gr.Markdown(attention_default[0], elem_id="lecture-by-word")
        gr.Markdown("### The same, as matrices\nX holds a row per word (2 x 4); W_Q, W_K and W_V are 4 x 3, so "
                    "d_k = 3 here and the scores are divided by √3.")
        with gr.Row():
            x = gr.Dataframe(steps.X, label="X", interactive=True)
            w_q = gr.Dataframe(steps.W_Q, label="W_Q", interactive=True)
            w_k = gr.Dataframe(steps.W_K, label="W_K", interactive=True)
            w_v = gr.Dataframe(steps.W_V, label="W_V", interactive=True)
        as_matrices = gr.Markdown(attention_default[1], elem_id="lecture-matrices")
        gr.Markdown("### Why √d_k\nq·k adds d_k products, so its spread grows with d_k; undivided, the softmax "
                    "puts almost all weight on one key and its gradients vanish.")
        gr.Plot(saturation_plot(), label="The largest softmax weight as d_k grows (random q, k)")
        inputs = [first, second, d_k, values, x, w_q, w_k, w_v, scaled]
        for trigger in (first.input, second.input, d_k.input, scaled.input, values.input, x.input, w_q.input,
                        w_k.input, w_v.input):
            ctx.on(trigger, "self_attention", self_attention, inputs, [by_word, as_matrices], show_progress="hidden")
    with gr.Tab("Multi-head attention"):
        with gr.Row():
            d_model, heads, length = gr.Number(512, label="d_model"), gr.Number(8, label="heads h"), \
                gr.Number(3, label="words")
        heads_out = gr.Markdown(multi_head(512, 8, 3), elem_id="lecture-heads")
        for trigger in (d_model.input, heads.input, length.input):
            ctx.on(trigger, "multi_head", multi_head, [d_model, heads, length], heads_out, show_progress="hidden")
    with gr.Tab("Positional encoding"):
        with gr.Row():
            positions, pe_width = gr.Number(50, label="positions"), gr.Number(64, label="d_model")
            sentence = gr.Textbox("the cat sat on the mat", label="A sentence")
        pe_button = gr.Button("Show", variant="primary", elem_id="lecture-positional")
        shown = positional(50, 64, "the cat sat on the mat")
        pe_plot = gr.Plot(shown[0], label="The sinusoid table")
        with gr.Row():
            plain, encoded = gr.Plot(shown[1], label="Without"), gr.Plot(shown[2], label="With positional encoding")
        order_note = gr.Markdown(shown[3], elem_id="lecture-order")
        ctx.on(pe_button.click, "positional", positional, [positions, pe_width, sentence],
               [pe_plot, plain, encoded, order_note])
    with gr.Tab("Masking"):
        mask_length = gr.Slider(2, 12, value=6, step=1, label="Sentence length")
        mask_table = gr.Markdown(masking(6), elem_id="lecture-mask")
        ctx.on(mask_length.input, "mask", masking, mask_length, mask_table, show_progress="hidden")
        source = gr.Textbox("A man is riding a bike.", label="English sentence")
        decode_button = gr.Button("Decode step by step", variant="primary", elem_id="lecture-decode")
        decoded = gr.Markdown(elem_id="lecture-decoded")
        ctx.on(decode_button.click, "decode", lambda text: decoding(hub, text), source, decoded)
    with gr.Tab("Counting parameters"):
        with gr.Row():
            pixels = gr.Number(784, label="binary pixels n")
            count_button = gr.Button("Count, with the shipped models", variant="primary", elem_id="lecture-count")
        counts = gr.Markdown(counting(hub, 784, with_models=False), elem_id="lecture-counts")
        ctx.on(count_button.click, "counts", lambda n: counting(hub, n), pixels, counts)
    with gr.Tab("ELBO and the GAN objective"):
        with gr.Row():
            index = gr.Number(0, label="Test digit (0-9999)")
            elbo_button = gr.Button("Split its ELBO", variant="primary", elem_id="lecture-elbo-go")
        with gr.Row():
            digit = gr.Image(label="The digit", format="png", height=160)
            elbo_out = gr.Markdown(elem_id="lecture-elbo")
        ctx.on(elbo_button.click, "elbo", lambda i: elbo(hub, i), index, [digit, elbo_out])
        gr.Markdown("### The GAN objective on a 1-D toy\nDrag p_g towards p_data and watch the optimal "
                    "discriminator flatten to 1/2 and the Jensen-Shannon divergence fall to 0.")
        with gr.Row():
            sliders = [gr.Slider(-5, 5, value=0, step=0.1, label="p_data mean"),
                       gr.Slider(0.1, 3, value=1, step=0.1, label="p_data std"),
                       gr.Slider(-5, 5, value=2.5, step=0.1, label="p_g mean"),
                       gr.Slider(0.1, 3, value=0.6, step=0.1, label="p_g std")]
        plot, note = gan(0, 1, 2.5, 0.6)
        gan_plot, gan_note = gr.Plot(plot, label="p_data, p_g and D*"), gr.Markdown(note, elem_id="lecture-gan")
        for slider in sliders:
            ctx.on(slider.input, "gan", gan, sliders, [gan_plot, gan_note], show_progress="hidden")


def defaults() -> tuple:
    """The self-attention page's inputs as the lecture gives them."""
    return (*steps.RAW_SCORES, steps.LECTURE_D_K, steps.VALUES, steps.X, steps.W_Q, steps.W_K, steps.W_V, True)
