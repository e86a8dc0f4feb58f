"""The two digit styles, as ADDA and CyCADA set them up: MNIST as it is (a 20 x 20 digit in a 28 x 28
frame) and USPS upscaled from 16 x 16 to 28 x 28 so that its digits fill the frame; and the plain
LeNet of those papers' protocol (two convolutions, two dense layers, dropout, no augmentation)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as functional
from torch import nn

from hub.kit import data, training

USPS_VALID = 1000             # the last USPS training digits: checkpoint selection, never trained on


def upscale_usps(x: np.ndarray) -> np.ndarray:
    """[N, 16, 16] in [0, 1] -> [N, 28, 28] (bilinear), filling the frame."""
    out = functional.interpolate(torch.from_numpy(np.asarray(x, np.float32))[:, None], size=(28, 28),
                                 mode="bilinear", align_corners=False)
    return out[:, 0].clamp(0, 1).numpy()


def mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """MNIST [N, 28, 28] float32 in [0, 1] and labels; split train or test."""
    x, y = data.mnist(split)
    return x.astype(np.float32) / 255, y.astype(np.int64)


def usps(split: str) -> tuple[np.ndarray, np.ndarray]:
    """USPS upscaled to [N, 28, 28] in [0, 1] and labels; split train or test."""
    with np.load(data.dataset_dir("usps") / "usps.npz") as npz:
        return upscale_usps(npz[f"x_{split}"]), npz[f"y_{split}"].astype(np.int64)


class LeNet(nn.Module):
    """The classifier of the ADDA / CyCADA digit experiments: conv 5x5 (20), pool, conv 5x5 (50),
    dropout, pool, dense 500, dropout, dense 10."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.ReLU(),
                                      nn.Conv2d(20, 50, 5), nn.Dropout2d(0.5), nn.MaxPool2d(2), nn.ReLU())
        self.classify = nn.Sequential(nn.Flatten(), nn.Linear(50 * 4 * 4, 500), nn.ReLU(), nn.Dropout(0.5),
                                      nn.Linear(500, 10))

    def forward(self, x):
        return self.classify(self.features(x))


RECIPE = dict(epochs=5, batch_size=128, lr=1e-3, seed=0)


def train_lenet(images: np.ndarray, labels: np.ndarray, recipe: dict = RECIPE) -> LeNet:
    """One recipe for every classifier of the protocol: Adam, fixed epochs, no augmentation, seed 0."""
    generator = training.seed_everything(recipe["seed"])
    model = LeNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    x, y = torch.from_numpy(np.asarray(images, np.float32))[:, None], torch.from_numpy(np.asarray(labels))
    model.train()
    for _ in range(recipe["epochs"]):
        for idx in training.batches(len(x), recipe["batch_size"], generator):
            loss = functional.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def predict(model: LeNet, images: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.asarray(images, np.float32))[:, None]
    return torch.cat([model(x[i:i + 2000]).argmax(1) for i in range(0, len(x), 2000)]).numpy()
