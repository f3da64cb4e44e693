"""The digit classifiers, selectable by name.

Both take a float tensor ``(N, 1, 28, 28)`` already normalised with the model's
``(mean, std)`` and return raw logits ``(N, classes)``: the ten digits, and for
DigitNet by default an eleventh output, ``NOT_A_DIGIT``, for pieces that are not
one digit (two touching digits, a digit and a half, a fragment). Reading photos
needs that answer: without it a classifier trained on single digits is just as
sure of a merged "33" as of a "3".
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

# MNIST's pixel mean and standard deviation (on [0, 1] pixels); inputs are
# normalised with these before the first layer.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
NOT_A_DIGIT = 10  # the label of the extra output


def digit_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over all outputs, ten digit columns kept: ``(N, 10)``.

    With a ``NOT_A_DIGIT`` output the rows sum to less than 1; the rest is the
    chance that the input is not one digit.
    """
    return torch.softmax(logits, dim=1)[:, :NOT_A_DIGIT]


class SeedNet(nn.Module):
    """The network of the article the project grew from, layer for layer.

    conv 1->10 (5x5) -> max-pool 2 -> ReLU; conv 10->20 (5x5) -> Dropout2d ->
    max-pool 2 -> ReLU; flatten 320 -> linear 50 -> ReLU -> dropout -> linear 10.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        return self.fc2(x)


def _conv_bn_relu(c_in: int, c_out: int, kernel_size: int = 3) -> nn.Sequential:
    # No conv bias: the batch norm right after it has its own.
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def _classifier_head(features: int, classes: int, dropout: float | None = None) -> nn.Sequential:
    """Flatten -> linear ``features`` -> 128 -> batch norm -> ReLU [-> dropout] -> linear ``classes``.

    The dropout layer is there whenever ``dropout`` is given (0.0 too), so checkpoints keep their keys."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(features, 128, bias=False),
        nn.BatchNorm1d(128),
        nn.ReLU(inplace=True),
        *([nn.Dropout(dropout)] if dropout is not None else []),
        nn.Linear(128, classes),
    )


class DigitNet(nn.Module):
    """The project's default classifier: a small VGG-style CNN with batch norm.

    28x28 -> conv 5x5 24 -> pool -> 14x14 -> conv 48, conv 48 -> pool -> 7x7 ->
    conv 96 -> pool -> 3x3 -> linear 864 -> 128 -> dropout -> linear 11 (10 digits
    and ``NOT_A_DIGIT``; ``classes=10`` for a plain digit classifier).
    About 0.19 M parameters and 4.5 M multiply-adds per digit: it trains on a
    2-core laptop CPU in minutes (use channels-last tensors for speed there).
    """

    def __init__(self, dropout: float = 0.3, classes: int = 11) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_bn_relu(1, 24, kernel_size=5),
            nn.MaxPool2d(2),
            _conv_bn_relu(24, 48),
            _conv_bn_relu(48, 48),
            nn.MaxPool2d(2),
            _conv_bn_relu(48, 96),
            nn.MaxPool2d(2),
        )
        self.classifier = _classifier_head(96 * 3 * 3, classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class QuickNet(nn.Module):
    """A small, fast CNN for training in seconds: the ``quick`` preset's network.

    28x28 -> conv 5x5 16, stride 2 -> 12x12 -> conv 3x3 32 -> 10x10 -> pool -> 5x5 ->
    linear 800 -> 128 -> linear 10 (or 11 with ``NOT_A_DIGIT``); batch norm after each
    conv and the first linear layer. About 0.11 M parameters but only 0.6 M multiply-adds
    per digit (DigitNet: 4.5 M): the strided first layer does most of the saving.
    """

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, stride=2, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, kernel_size=3, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = _classifier_head(32 * 5 * 5, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


ARCHITECTURES: dict[str, type[nn.Module]] = {
    "digitnet": DigitNet,
    "quicknet": QuickNet,
    "seednet": SeedNet,
}
ARCH_LABELS = {"digitnet": "DigitNet", "quicknet": "QuickNet", "seednet": "SeedNet"}  # as people write them


def arch_label(arch: str | None) -> str:
    """An architecture's name as people write it ("digitnet" -> "DigitNet"); "?" when unknown."""
    return ARCH_LABELS.get((arch or "").lower(), arch or "?")


def build_model(arch: str, classes: int | None = None) -> nn.Module:
    """A freshly initialised model by architecture name (case-insensitive).

    ``classes``: 10, or 11 to add ``NOT_A_DIGIT`` (not SeedNet); None: the
    architecture's default (DigitNet 11, QuickNet 10, SeedNet 10, as the article's).
    """
    try:
        cls = ARCHITECTURES[arch.lower()]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {arch!r}; choose one of: {known}") from None
    if classes is None or (cls is SeedNet and classes == 10):
        return cls()
    if cls is SeedNet or classes not in (10, 11):
        raise ValueError(f"{arch} cannot have {classes} outputs")
    return cls(classes=classes)


def last_layer(model: nn.Module) -> tuple[str, nn.Linear]:
    """The model's output layer, the last ``nn.Linear``, and its name in the state dict."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)][-1]


def output_count(model: nn.Module) -> int:
    """How many outputs the model has: 10 digits, or 11 with ``NOT_A_DIGIT``."""
    return last_layer(model)[1].out_features


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """Fold each batch norm into the convolution or linear layer before it (eval only).

    Same outputs, fewer operations: worth it for the many tiny batches of reading.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    model.eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        layers = list(seq.children())
        for i in range(len(layers) - 1):
            a, b = layers[i], layers[i + 1]
            if isinstance(b, (nn.BatchNorm2d, nn.BatchNorm1d)):
                if isinstance(a, nn.Conv2d):
                    seq[i] = fuse_conv_bn_eval(a, b)
                elif isinstance(a, nn.Linear):
                    seq[i] = fuse_linear_bn_eval(a, b)
                else:
                    continue
                seq[i + 1] = nn.Identity()
    return model


def pick_device(name: str = "auto") -> torch.device:
    """``name`` as a torch device; "auto" picks CUDA, then Apple's MPS, then the CPU."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
