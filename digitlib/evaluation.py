"""How good a model is: MNIST test accuracy, not-digit pieces, the misclassified digits,
and a model before and after fine-tuning on the user's own digits.

Every caller measures through here: the training loop after each epoch, the Train page's
model report, ``python -m digitlib evaluate`` and the fine-tuning summary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import load_model
from .data import MnistSplit, load_mnist, to_model_input
from .digit_sets import load_extra, personal_dir
from .model import MNIST_MEAN, MNIST_STD, NOT_A_DIGIT, digit_probabilities, pick_device


@torch.no_grad()
def evaluate(model, test: MnistSplit, device, mean=MNIST_MEAN, std=MNIST_STD, batch_size=1000):
    """Test loss, accuracy and per-class accuracy; also the confusion matrix (rows: true)."""
    model.eval()
    total_loss, confusion = 0.0, torch.zeros(10, 10, dtype=torch.long)
    for i in range(0, len(test), batch_size):
        x = to_model_input(test.images[i : i + batch_size], mean, std)
        x = x.to(device, memory_format=torch.channels_last)
        y = test.labels[i : i + batch_size].to(device)
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        pred = logits[:, :NOT_A_DIGIT].argmax(1)  # which digit, if it must be one
        confusion += torch.bincount((y * 10 + pred).cpu(), minlength=100).view(10, 10)
    per_class = (confusion.diag().float() / confusion.sum(1).clamp(min=1).float()).tolist()
    accuracy = confusion.diag().sum().item() / max(1, len(test))
    return total_loss / max(1, len(test)), accuracy, per_class, confusion


@torch.no_grad()
def not_digit_accuracy(model, images: torch.Tensor, device, mean=MNIST_MEAN, std=MNIST_STD) -> float:
    """Share of ``images`` (uint8 (N, 28, 28), none of them one digit) the model labels NOT_A_DIGIT."""
    model.eval()
    hits = 0
    for i in range(0, len(images), 1000):
        x = to_model_input(images[i : i + 1000], mean, std).to(device, memory_format=torch.channels_last)
        hits += int((model(x).argmax(1) == NOT_A_DIGIT).sum())
    return hits / max(1, len(images))


@dataclass
class Misclassified:
    index: int  # position in the MNIST test set
    image: np.ndarray  # uint8 (28, 28), white digit on black
    true: int
    predicted: int
    confidence: float  # probability the model gave ``predicted``


@dataclass
class EvaluationReport:
    path: Path
    arch: str
    n_test: int
    test_loss: float
    accuracy: float  # fraction in [0, 1]
    per_class: list[float]  # accuracy of each true digit 0..9
    confusion: list[list[int]]  # [true][predicted] counts
    misclassified: list[Misclassified]  # the most confident mistakes first
    n_misclassified: int


def evaluate_checkpoint(
    path: str | os.PathLike | None,
    data_dir: str | os.PathLike | None = None,
    test_limit: int | None = None,
    max_examples: int = 40,
    download: bool = True,
) -> EvaluationReport:
    """Test a checkpoint (``None``: the shipped model) on the MNIST test set.

    Raises CheckpointError for an unusable file and DataUnavailableError when
    MNIST is missing. ``test_limit`` tests on the first N images only.
    """
    loaded = load_model(path)
    test = load_mnist(train=False, root=data_dir, download=download)
    if test_limit:
        test = MnistSplit(test.images[:test_limit], test.labels[:test_limit])
    device = pick_device("auto")
    model = loaded.model.to(device, memory_format=torch.channels_last)
    loss, accuracy, per_class, confusion = evaluate(model, test, device, loaded.mean, loaded.std)

    # A second pass for the predictions themselves (evaluate only keeps the counts).
    preds, confs = [], []
    with torch.inference_mode():
        for i in range(0, len(test), 1000):
            x = to_model_input(test.images[i : i + 1000], loaded.mean, loaded.std)
            probs = digit_probabilities(model(x.to(device, memory_format=torch.channels_last))).cpu()
            c, p = probs.max(1)
            preds.append(p)
            confs.append(c)
    pred = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long)
    conf = torch.cat(confs) if confs else torch.zeros(0)
    wrong = (pred != test.labels).nonzero().flatten()
    wrong = wrong[conf[wrong].argsort(descending=True)]
    examples = [
        Misclassified(
            index=int(i), image=test.images[i].numpy().copy(), true=int(test.labels[i]),
            predicted=int(pred[i]), confidence=float(conf[i]),
        )
        for i in wrong[:max_examples].tolist()
    ]
    return EvaluationReport(
        path=loaded.path, arch=loaded.arch, n_test=len(test), test_loss=float(loss),
        accuracy=float(accuracy), per_class=[float(v) for v in per_class],
        confusion=confusion.tolist(), misclassified=examples, n_misclassified=int(len(wrong)),
    )


@dataclass
class Comparison:
    """Accuracy of two models on MNIST test and on the held-out part of a personal set.

    A value is None when it could not be measured (no "before" model, no held-out digits).
    """

    mnist_before: float | None
    mnist_after: float | None
    personal_before: float | None
    personal_after: float | None
    n_mnist: int
    n_personal: int  # held-out digits


def compare_models(
    before: str | os.PathLike | None,
    after: str | os.PathLike,
    folder: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    test_limit: int | None = None,
    download: bool = True,
) -> Comparison:
    """Test ``before`` (None: not measured) and ``after`` on MNIST test (the first
    ``test_limit`` images when given) and on the held-out digits of ``folder``."""
    _, held_out = load_extra(folder if folder is not None else personal_dir(), for_training=False)
    test = load_mnist(train=False, root=data_dir, download=download)
    if test_limit:
        test = MnistSplit(test.images[:test_limit], test.labels[:test_limit])

    def measure(path) -> tuple[float | None, float | None]:
        if path is None:
            return None, None
        loaded = load_model(path)
        mnist = evaluate(loaded.model, test, "cpu", loaded.mean, loaded.std)[1]
        mine = evaluate(loaded.model, held_out, "cpu", loaded.mean, loaded.std)[1] if len(held_out) else None
        return mnist, mine

    mb, pb = measure(before)
    ma, pa = measure(after)
    return Comparison(mb, ma, pb, pa, len(test), len(held_out))
