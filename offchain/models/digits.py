"""Reference models on scikit-learn's 8x8 digits: ``digits-mlp`` and ``digits-cnn``.

Input encoding (both models): the 64 pixel values 0..16 of one image,
row-major, as int8 with 4 frac bits, i.e. real value = pixel / 16 in [0, 1].
The integer model's input is therefore the raw pixels, shape [1, 64]; its
output is 10 int16 logits (argmax = predicted digit).

Training is seeded and single-threaded, takes a few seconds on a laptop CPU,
and uses a fixed stratified split (75% train / 25% test, random_state 0).
Who calls: tests, benchmarks, the demo and the CLI (to build registered models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from offchain.engine.compiler import CompileConfig, compile_module
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.model import Model

#: Input dtype and frac bits: pixel p (0..16) is the int8 value p, real p / 16.
INPUT_SPEC = (DType.INT8, 4)
PIXEL_MAX = 16


@dataclass
class DigitsData:
    """The fixed split. ``*_pixels``: int8 [N, 64] raw pixels; labels int64 [N]."""

    train_pixels: np.ndarray
    train_labels: np.ndarray
    test_pixels: np.ndarray
    test_labels: np.ndarray


def load_split() -> DigitsData:
    """scikit-learn's digits (bundled, offline), split 75/25 stratified with random_state 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    pixels = digits.data.astype(np.int8)
    xtr, xte, ytr, yte = train_test_split(pixels, digits.target, test_size=0.25, random_state=0,
                                          stratify=digits.target)
    return DigitsData(xtr, ytr.astype(np.int64), xte, yte.astype(np.int64))


def to_real(pixels: np.ndarray) -> torch.Tensor:
    """Float input of the torch models: pixel / 16, float32 [N, 64]."""
    return torch.from_numpy(np.asarray(pixels, dtype=np.float32) / PIXEL_MAX)


class DigitsMLP(nn.Module):
    """64 -> 64 -> 32 -> 10 ReLU MLP. x: [B, 64] reals in [0, 1] -> [B, 10] logits."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(x))  # [B, 64]
        x = torch.relu(self.fc2(x))  # [B, 32]
        return self.fc3(x)  # [B, 10]


class DigitsCNN(nn.Module):
    """Two 3x3 convs (the second strided) and a linear head. x: [B, 64] -> [B, 10] logits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)  # [B, 8, 8, 8]
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)  # [B, 16, 4, 4]
        self.head = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], 1, 8, 8)
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.head(x.flatten(1))


ARCHITECTURES = {"digits-mlp": DigitsMLP, "digits-cnn": DigitsCNN}


def train(name: str, data: DigitsData, seed: int = 0, epochs: int = 60) -> nn.Module:
    """Train ``name`` (a key of ARCHITECTURES) with Adam on minibatches of 64; deterministic for a seed."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown digits model {name!r}; known: {sorted(ARCHITECTURES)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: reduction order, hence the trained weights, never vary
    try:
        torch.manual_seed(seed)
        model = ARCHITECTURES[name]()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        x, y = to_real(data.train_pixels), torch.from_numpy(data.train_labels)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for start in range(0, len(x), 64):
                batch = order[start:start + 64]
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def compile_digits(module: nn.Module, data: DigitsData, name: str, samples: int = 256, batch: int = 1) -> Model:
    """Compile a trained digits module for `batch` images [batch, 64], calibrated on training images.

    `batch` > 1 is the batch variant (issue 18): captured with [batch, 64] example inputs and calibrated on the
    same images as the batch-1 model, `batch` at a time, so every scale and so every item's output is the
    batch-1 model's (tests/oracle/test_batch.py checks it)."""
    n = min(samples, len(data.train_pixels)) // batch * batch
    calib = [(to_real(data.train_pixels[i:i + batch]),) for i in range(0, n, batch)]
    config = CompileConfig(input_specs=[INPUT_SPEC])
    model = compile_module(module, (to_real(data.train_pixels[:batch]),), calib, config,
                           name=name if batch == 1 else f"{name}-b{batch}")
    model.meta["input_encoding"] = "64 pixels 0..16 of an 8x8 digit, row-major, int8, real = pixel/16"
    return model


def build(name: str, seed: int = 0) -> tuple[Model, nn.Module, DigitsData]:
    """Train and compile ``name``; returns the integer model, the float module and the split."""
    data = load_split()
    module = train(name, data, seed)
    return compile_digits(module, data, name), module, data


def float_accuracy(module: nn.Module, pixels: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the float module on raw pixels."""
    with torch.no_grad():
        return float((module(to_real(pixels)).argmax(dim=1).numpy() == labels).mean())


def integer_predictions(model: Model, pixels: np.ndarray) -> np.ndarray:
    """Predicted digit of the integer model for each image (int8 pixels [N, 64])."""
    return np.array([int(run(model, [pixels[i:i + 1].astype(np.int8)]).output.argmax()) for i in range(len(pixels))])


def integer_accuracy(model: Model, pixels: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the integer model on raw pixels."""
    return float((integer_predictions(model, pixels) == labels).mean())
