"""Image in, class probabilities and attention out: the ViT trained here (MNIST digits) and a
pretrained Hugging Face ViT behind one interface, so the demo draws both the same way."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hub import HoldsModule, InputError
from hub.kit import grayscale_ink, load_local, to_mnist

from .model import ViT, attention_rollout


@dataclass
class Reading:
    """One classified image: what the model saw, probabilities by label, attention maps."""
    seen: np.ndarray                    # [H, W] or [H, W, 3] in [0, 1], the model's input as a picture
    probabilities: dict[str, float]
    attentions: list[torch.Tensor]      # per layer [heads, tokens, tokens], token 0 the class token
    grid: int                           # patches per side

    def rollout(self) -> np.ndarray:
        """Attention rollout of the class token over the patches, [grid, grid], max 1."""
        weights = attention_rollout([a[None] for a in self.attentions])[0, 0, 1:]
        return (weights / weights.max()).reshape(self.grid, self.grid).numpy()

    def class_token_attention(self, layer: int, head: int | None) -> np.ndarray:
        """What the class token attends to in one layer (one head or their mean), [grid, grid], max 1."""
        weights = self.attentions[layer][:, 0, 1:]
        weights = weights.mean(0) if head is None else weights[head]
        return (weights / weights.max()).reshape(self.grid, self.grid).numpy()


class DigitClassifier(HoldsModule):
    """The ViT trained here: any drawing or upload is preprocessed as MNIST was (crop to the ink,
    fit in 20 x 20, centre of mass at the centre of 28 x 28)."""
    name = "ViT trained here (MNIST)"

    def __init__(self, model: ViT, temperature: float = 1.0):
        """`temperature`: the calibration's T (config.json), shown probabilities are softmax(logits / T)."""
        self.model, self.temperature = model.eval(), temperature
        self.labels = [str(d) for d in range(10)]

    def digit(self, image) -> np.ndarray:
        return to_mnist(grayscale_ink(image))

    def model_input(self, image) -> np.ndarray:
        """[28, 28] in [0, 1]: a 28 x 28 array as it is (an MNIST digit), anything else through `digit`."""
        x = self.digit(image) if not (isinstance(image, np.ndarray) and image.shape == (28, 28)) else image
        return np.clip(np.asarray(x, np.float32), 0, 1)

    def read(self, image) -> Reading:
        return self.read_many([image])[0]

    @torch.no_grad()
    def read_many(self, images: list) -> list[Reading]:
        """`read` for several images in one forward pass."""
        x = np.stack([self.model_input(image) for image in images])
        device = next(self.model.parameters()).device
        logits, attentions = self.model(torch.from_numpy(x).to(device), return_attention=True)
        probabilities = (logits / self.temperature).softmax(-1).cpu()
        return [Reading(x[i], dict(zip(self.labels, probabilities[i].tolist())), [a[i].cpu() for a in attentions],
                        self.model.grid) for i in range(len(images))]


class PretrainedClassifier(HoldsModule):
    """A Hugging Face image classifier (ViT and the like), loaded from a local directory or the
    local cache (nothing is downloaded), with its own labels and image processor."""

    def __init__(self, source: str):
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        self.processor = load_local(AutoImageProcessor, source)
        # the eager implementation returns attention weights
        self.model = load_local(AutoModelForImageClassification, source, attn_implementation="eager").eval()
        self.name = f"Pretrained: {source}"
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]

    @torch.no_grad()
    def read(self, image) -> Reading:
        from PIL import Image

        gray = grayscale_ink(image)                      # checks the input; a natural photo passes as is
        picture = Image.fromarray((255 * (1 - gray)).astype(np.uint8)).convert("RGB") \
            if not isinstance(image, Image.Image) else image.convert("RGB")
        inputs = self.processor(images=picture, return_tensors="pt").to(self.model.device)
        output = self.model(**inputs, output_attentions=True)
        if not output.attentions:
            raise InputError("This model does not return its attention weights.")
        probabilities = output.logits.softmax(-1)[0].cpu().tolist()
        grid = int(round((output.attentions[0].size(-1) - 1) ** 0.5))
        seen = inputs["pixel_values"][0].permute(1, 2, 0).cpu().numpy()
        seen = (seen - seen.min()) / max(seen.max() - seen.min(), 1e-6)
        return Reading(seen, dict(zip(self.labels, probabilities)), [a[0].float().cpu() for a in output.attentions], grid)

    def read_many(self, images: list) -> list[Reading]:
        return [self.read(image) for image in images]
