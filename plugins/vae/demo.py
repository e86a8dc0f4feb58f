"""The VAE demo's actions (plain functions of a model handle) and its Gradio interface."""
from __future__ import annotations

import math

import numpy as np
import torch

from hub import Batched, InputError
from hub.kit import binary_digit, enlarge, integer, likelihood_plot, number, pyplot, test_digits, tile, verdict

from .model import importance_weighted
from .train import REFERENCE_K

LIKELIHOOD_K = REFERENCE_K     # the same k as the validation reference, so the two compare


class VAEDemo:
    def __init__(self, models):
        self.models = models                  # lazy handle: models.use() -> the VAE
        self.sample = Batched(self.sample_request, self.sample_batch, self.sample_grid)     # (seed, T, grid) -> image

    def sample_request(self, seed, temperature, grid) -> tuple[int, float, int]:
        return (integer(seed, "Seed", 0, 2**31 - 1), number(temperature, "Temperature", 0.1, 3.0),
                integer(grid, "Grid size", 1, 12))

    def sample_batch(self, requests: list[tuple[int, float, int]]) -> list[np.ndarray]:
        """Every request's grid decoded in one pass; each z drawn from its own seed, as if alone."""
        with self.models.use() as vae, torch.no_grad():
            components = vae.prior_components() if vae.pseudo_inputs is not None else None    # once per batch
            z = torch.cat([vae.sample_prior(grid * grid, torch.Generator().manual_seed(seed), temperature, components)
                           for seed, temperature, grid in requests])
            probs = torch.sigmoid(vae.decode(z.to(next(vae.parameters()).device))).view(-1, 28, 28).cpu().numpy()
        return np.split(probs, np.cumsum([grid * grid for _, _, grid in requests])[:-1])

    @staticmethod
    def sample_grid(probs: np.ndarray) -> np.ndarray:
        return enlarge(tile(probs, math.isqrt(len(probs))), 3)

    def prior_pictures(self, count) -> tuple[np.ndarray, np.ndarray]:
        """The first `count` pseudo-inputs u_k of the VampPrior, and each decoded from its component's mean."""
        count = integer(count, "Pseudo-inputs", 1, 100)
        with self.models.use() as vae, torch.no_grad():
            if vae.pseudo_inputs is None:
                raise InputError("This VAE's prior is N(0, I): it has no pseudo-inputs to show.")
            pseudo = vae.pseudo_images()[:count]
            decoded = torch.sigmoid(vae.decode(vae.encode(pseudo)[0]))
        side = math.ceil(math.sqrt(len(pseudo)))
        return tuple(enlarge(tile(images.view(-1, 28, 28).cpu().numpy(), side), 2) for images in (pseudo, decoded))

    def analyze(self, image):
        """(model input, reconstruction, report, plot) for a drawn or uploaded digit."""
        x = binary_digit(image)
        with self.models.use() as vae, torch.no_grad():
            device = next(vae.parameters()).device
            xt = torch.from_numpy(x).view(1, -1).to(device)
            mu, _ = vae.encode(xt)
            recon = torch.sigmoid(vae.decode(mu)).view(28, 28).cpu().numpy()
            torch.manual_seed(0)
            log_w = vae.log_weights(xt, LIKELIHOOD_K)[:, 0]
            log_px = importance_weighted(log_w).item()
            elbo = log_w.mean().item()               # the ELBO, averaged over the same samples
            reference = vae.reference         # validation log p(x) percentiles, from config.json
        _, text = verdict(log_px, reference)
        report = (f"**log p(x) ≥ {log_px:.1f} nats** (importance-weighted bound, k = {LIKELIHOOD_K}; "
                  f"ELBO {elbo:.1f})\n\n**Verdict: {text}.**\n\nA VAE is an *explicit* model: it scores any image, which is what "
                  f"density estimation and anomaly detection need. A GAN can only sample.")
        return enlarge(x), enlarge(recon), report, likelihood_plot(log_px, reference)

    def test_digit(self, index) -> np.ndarray:
        x, _ = test_digits()
        index = integer(index, "Test image number", 0, len(x) - 1)
        return enlarge(x[index].astype(np.float32), 5)

    def interpolate(self, first, second, steps) -> np.ndarray:
        x, _ = test_digits()
        first = integer(first, "First test image", 0, len(x) - 1)
        second = integer(second, "Second test image", 0, len(x) - 1)
        steps = integer(steps, "Steps", 2, 16)
        pair = torch.from_numpy(x[[first, second]].reshape(2, -1).astype(np.float32))
        with self.models.use() as vae, torch.no_grad():
            device = next(vae.parameters()).device
            mu, _ = vae.encode(pair.to(device))
            weights = torch.linspace(0, 1, steps, device=device).unsqueeze(1)
            z = (1 - weights) * mu[0] + weights * mu[1]           # a straight line between the two codes
            frames = torch.sigmoid(vae.decode(z)).view(-1, 28, 28).cpu().numpy()
        strip = np.concatenate([x[[first]].astype(np.float32), frames, x[[second]].astype(np.float32)])
        return enlarge(tile(strip, len(strip)), 3)

    def latent_map(self, points):
        """A PCA projection of test codes coloured by label, and the digits decoded along that plane."""
        plt = pyplot()
        points = integer(points, "Points", 100, 10000)
        x, y = test_digits()
        xt = torch.from_numpy(x[:points].reshape(points, -1).astype(np.float32))
        with self.models.use() as vae, torch.no_grad():
            device = next(vae.parameters()).device
            mu = torch.cat([vae.encode(xt[i:i + 1000].to(device))[0] for i in range(0, points, 1000)])
            centre = mu.mean(0)
            _, s, v = torch.linalg.svd(mu - centre, full_matrices=False)
            axes = v[:2]                                             # first two principal directions
            coords = ((mu - centre) @ axes.T).cpu().numpy()
            spread = (s[:2] / math.sqrt(points)).cpu()
            grid = torch.linspace(-2, 2, 9)
            z = torch.stack([centre + (a * spread[0] * axes[0] + b * spread[1] * axes[1])
                             for b in grid.flip(0) for a in grid])
            manifold = torch.sigmoid(vae.decode(z)).view(-1, 28, 28).cpu().numpy()
        fig, ax = plt.subplots(figsize=(6, 5.4))
        labels = y[:points]
        for digit in range(10):
            ax.scatter(*coords[labels == digit].T, s=4, alpha=0.7, color=plt.cm.tab10(digit), label=str(digit))
        ax.legend(title="digit", loc="upper right", fontsize=7, markerscale=2, ncol=2)
        ax.set_xlabel("principal direction 1 of q(z|x) means")
        ax.set_ylabel("principal direction 2")
        ax.set_title(f"{points} test digits in the {mu.shape[1]}-d latent space (PCA)")
        fig.tight_layout()
        plt.close(fig)
        return fig, enlarge(tile(manifold, 9), 2)


def build_ui(ctx) -> None:
    import gradio as gr

    from hub.kit import drawing_tab, image_upload

    demo = VAEDemo(ctx.models)
    with gr.Tab("Sample"):
        with gr.Row():
            with gr.Column(scale=1):
                seed = gr.Number(value=0, precision=0, label="Seed")
                temperature = gr.Slider(0.1, 3.0, value=1.0, step=0.05, label="Temperature (scales the spread of z ~ p(z))")
                grid = gr.Slider(1, 12, value=8, step=1, label="Grid size")
                sample_button = gr.Button("Sample", variant="primary")
                gr.Examples([[0, 1.0, 8], [7, 0.6, 8], [42, 1.5, 6]], inputs=[seed, temperature, grid])
            samples = gr.Image(label="Samples: Bernoulli means of p(x|z), z ~ p(z) at temperature T", format="png")
        ctx.on(sample_button.click, "sample", demo.sample, [seed, temperature, grid], samples)
        with gr.Accordion("What the prior is made of", open=False):
            gr.Markdown("p(z) is the VampPrior: the average of q(z|u) over K learned pseudo-inputs u. A sample picks "
                        "one u at random, then draws z from q(z|u). Here are the pseudo-inputs, and what each "
                        "decodes to from its component's mean.")
            count = gr.Slider(1, 100, value=64, step=1, label="Pseudo-inputs to show")
            prior_button = gr.Button("Show the prior's pseudo-inputs")
            with gr.Row():
                pseudo = gr.Image(label="Pseudo-inputs u_k (learned, in [0, 1])", format="png")
                decoded = gr.Image(label="Decoded from the mean of q(z|u_k)", format="png")
        ctx.on(prior_button.click, "prior", demo.prior_pictures, count, [pseudo, decoded])

    with gr.Tab("Reconstruct & likelihood"):
        gr.Markdown("Draw a digit and press *Reconstruct drawing*; "
                    "or upload an image. The VAE encodes it, decodes it, and scores it with log p(x).")
        with gr.Row():
            with gr.Column():
                sketch, draw_button = drawing_tab("vae", "Reconstruct drawing", "vae-reconstruct")
                with gr.Tab("Upload or test digit"):
                    upload = image_upload(elem_id="vae-upload")
                    with gr.Row():
                        index = gr.Number(value=0, precision=0, label="Test image number (0-9999)")
                        pick = gr.Button("Load test digit")
                    gr.Examples([[3], [7], [18], [4000]], inputs=index, label="Test digits to try")
                    upload_button = gr.Button("Reconstruct image", variant="primary")
            with gr.Column():
                with gr.Row():
                    seen = gr.Image(label="What the model sees (28x28, binarised)", format="png")
                    recon = gr.Image(label="Reconstruction", format="png", elem_id="vae-reconstruction")
                report = gr.Markdown(elem_id="vae-likelihood")
                plot = gr.Plot(label="Where it falls among validation digits")
        outputs = [seen, recon, report, plot]
        ctx.on(draw_button.click, "reconstruct", demo.analyze, sketch, outputs)
        ctx.on(upload_button.click, "reconstruct_upload", demo.analyze, upload, outputs)
        ctx.on(pick.click, "test_digit", demo.test_digit, index, upload)

    with gr.Tab("Interpolate"):
        with gr.Row():
            first = gr.Number(value=0, precision=0, label="First test image")
            second = gr.Number(value=1, precision=0, label="Second test image")
            steps = gr.Slider(2, 16, value=10, step=1, label="Steps")
        interpolate_button = gr.Button("Interpolate in latent space", variant="primary")
        gr.Examples([[0, 1, 10], [3, 2, 12], [18, 4, 8]], inputs=[first, second, steps])
        strip = gr.Image(label="Decoded points on the line between the two codes (ends: the originals)",
                         format="png")
        ctx.on(interpolate_button.click, "interpolate", demo.interpolate, [first, second, steps], strip)

    with gr.Tab("Latent map"):
        points = gr.Slider(100, 10000, value=3000, step=100, label="Test digits to encode")
        map_button = gr.Button("Draw the latent map", variant="primary")
        with gr.Row():
            scatter = gr.Plot(label="Codes of test digits, coloured by label")
            manifold = gr.Image(label="Decoded along the same two directions (±2 std)", format="png")
        ctx.on(map_button.click, "latent_map", demo.latent_map, points, [scatter, manifold])
