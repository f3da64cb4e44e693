"""MNIST on disk, and the training augmentation.

The data folder is, in order: the ``root`` argument, the ``DIGITLIB_DATA``
environment variable, or a per-user cache folder. It holds torchvision's layout
(``MNIST/raw/*-ubyte``); missing files are downloaded unless told not to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

DATA_ENV_VAR = "DIGITLIB_DATA"


class DataUnavailableError(RuntimeError):
    """MNIST is not in the data folder and could not be downloaded."""


def default_data_dir() -> Path:
    """The per-user cache folder used when neither an argument nor the env var is set."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "digitlib" / "data"


def resolve_data_dir(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root``, else ``$DIGITLIB_DATA``, else the per-user cache."""
    if root:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return default_data_dir()


@dataclass
class MnistSplit:
    """One MNIST split held in memory: ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def load_mnist(
    train: bool,
    root: str | os.PathLike | None = None,
    download: bool = True,
) -> MnistSplit:
    """Load the train or test split through ``torchvision.datasets.MNIST``.

    Raises DataUnavailableError, naming the folder and how to fill it, when the
    files are missing and cannot be downloaded.
    """
    from torchvision.datasets import MNIST  # imported here: torchvision is slow to import

    folder = resolve_data_dir(root)
    try:
        dataset = MNIST(str(folder), train=train, download=False)
    except RuntimeError:
        if not download:
            raise DataUnavailableError(_missing_message(folder, "downloading is switched off")) from None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            dataset = MNIST(str(folder), train=train, download=True)
        except Exception as exc:  # network down, proxy, disk: all end the same way for the user
            first_line = (str(exc).strip().splitlines() or [""])[0].rstrip(":")
            reason = f"the download failed ({type(exc).__name__}: {first_line})"
            raise DataUnavailableError(_missing_message(folder, reason)) from None
    return MnistSplit(images=dataset.data.clone(), labels=dataset.targets.clone().long())


def _missing_message(folder: Path, reason: str) -> str:
    return (
        f"MNIST not found in {folder / 'MNIST' / 'raw'} and {reason}. "
        f"Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        f"t10k-labels-idx1-ubyte there (torchvision's layout), or point --data / ${DATA_ENV_VAR} "
        f"at a folder that has them, or connect to the internet to download them."
    )


# ---------------------------------------------------------------------------
# Augmentation. Digits cut out of real photos are rotated, slanted, thicker or
# thinner and blurrier than MNIST's; these batched transforms teach the model
# that variety. All work on float tensors (N, 1, 28, 28) with values in [0, 1]
# and draw their randomness from the given generator, so runs are repeatable.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Augmentation:
    max_rotation_deg: float = 12.0
    scale_range: tuple[float, float] = (0.85, 1.12)
    max_shear_deg: float = 12.0
    max_shift_px: float = 2.5
    stroke_change_prob: float = 0.35
    blur_prob: float = 0.25


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def random_affine(x: torch.Tensor, aug: Augmentation, gen: torch.Generator) -> torch.Tensor:
    """Rotate, scale, shear and shift each image by its own random amount."""
    n = x.shape[0]
    angle = torch.deg2rad(_uniform(n, -aug.max_rotation_deg, aug.max_rotation_deg, gen))
    shear = torch.tan(torch.deg2rad(_uniform(n, -aug.max_shear_deg, aug.max_shear_deg, gen)))
    scale = _uniform(n, *aug.scale_range, gen)
    shift = _uniform(2 * n, -aug.max_shift_px, aug.max_shift_px, gen).view(n, 2) * (2.0 / 28.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output coordinates to input ones, so this is the inverse
    # transform: dividing by scale enlarges the digit when scale > 1.
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos / scale
    theta[:, 0, 1] = (-sin + shear * cos) / scale
    theta[:, 1, 0] = sin / scale
    theta[:, 1, 1] = (cos + shear * sin) / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_stroke_width(x: torch.Tensor, prob: float, gen: torch.Generator) -> torch.Tensor:
    """Thicken (grey dilation) or thin (grey erosion) the strokes of a random subset, by a random amount."""
    n = x.shape[0]
    chosen = torch.rand(n, generator=gen) < prob
    thicker = torch.rand(n, generator=gen) < 0.6
    amount = torch.rand(n, generator=gen).view(n, 1, 1, 1)
    dilated = F.max_pool2d(x, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-x, 2, stride=1, padding=0)
    eroded = F.pad(eroded, (0, 1, 0, 1))
    target = torch.where(thicker.view(n, 1, 1, 1), dilated, eroded)
    mixed = x + amount * (target - x)
    return torch.where(chosen.view(n, 1, 1, 1), mixed, x)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = 2
    xs = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(xs**2) / (2 * sigma**2))
    k = k / k.sum()
    return (k[:, None] * k[None, :]).view(1, 1, 2 * radius + 1, 2 * radius + 1)


_BLUR_KERNEL = _gaussian_kernel(0.9)


def random_blur(x: torch.Tensor, prob: float, gen: torch.Generator) -> torch.Tensor:
    """Blend a mild Gaussian blur (sigma 0.9 px) into a random subset, by a random amount."""
    n = x.shape[0]
    chosen = torch.rand(n, generator=gen) < prob
    amount = torch.rand(n, generator=gen).view(n, 1, 1, 1)
    blurred = F.conv2d(x, _BLUR_KERNEL, padding=2)
    mixed = x + amount * (blurred - x)
    return torch.where(chosen.view(n, 1, 1, 1), mixed, x)


def augment(x: torch.Tensor, gen: torch.Generator, aug: Augmentation = Augmentation()) -> torch.Tensor:
    """The full training augmentation on a batch ``(N, 1, 28, 28)`` float in [0, 1]."""
    x = random_affine(x, aug, gen)
    x = random_stroke_width(x, aug.stroke_change_prob, gen)
    x = random_blur(x, aug.blur_prob, gen)
    return x.clamp_(0.0, 1.0)


def to_model_input(images_u8: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 (N, 28, 28) -> normalised float (N, 1, 28, 28)."""
    return ((images_u8.float() / 255.0).unsqueeze(1) - mean) / std


def normalise(x01: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Float (N, 1, 28, 28) in [0, 1] -> normalised model input."""
    return (x01 - mean) / std


__all__ = [
    "Augmentation",
    "DATA_ENV_VAR",
    "DataUnavailableError",
    "MnistSplit",
    "augment",
    "default_data_dir",
    "load_mnist",
    "normalise",
    "resolve_data_dir",
    "to_model_input",
]
