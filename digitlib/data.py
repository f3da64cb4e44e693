"""MNIST on disk, and the training augmentation.

The data folder is, in order: the ``root`` argument, the ``DIGITLIB_DATA``
environment variable, or a per-user cache folder. It holds torchvision's layout
(``MNIST/raw/*-ubyte``); missing files are downloaded unless told not to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .reading.mnist import to_mnist

DATA_ENV_VAR = "DIGITLIB_DATA"


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DataUnavailableError(RuntimeError):
    """MNIST is not in the data folder and could not be downloaded."""


def default_data_dir() -> Path:
    """The per-user cache folder used when neither an argument nor the env var is set."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "digitlib" / "data"


def user_data_folder(env_var: str, name: str) -> Path:
    """A per-user folder of the app's own files: ``$env_var``, else
    ``$XDG_DATA_HOME/digitlib/<name>`` (``~/.local/share/digitlib/<name>``). Not created here."""
    env = os.environ.get(env_var)
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(data_home).expanduser() / "digitlib" / name


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


def oversample(base: MnistSplit, extra: MnistSplit, share: float = 0.2, max_repeats: int = 200) -> MnistSplit:
    """``base`` followed by ``extra`` repeated so it makes up about ``share`` of the result.

    A personal set of a few hundred digits is lost among 60,000 MNIST digits; repeating it
    (augmentation makes each repeat a little different) lets the model learn it while
    MNIST keeps the rest of what it knows. At least once, at most ``max_repeats`` times.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"the share of extra digits must be between 0 and 1, not {share}")
    if len(extra) == 0:
        return base
    wanted = share / (1.0 - share) * len(base) / len(extra)
    repeats = int(min(max_repeats, max(1, round(wanted))))
    return MnistSplit(
        images=torch.cat([base.images, extra.images.repeat(repeats, 1, 1)]),
        labels=torch.cat([base.labels, extra.labels.repeat(repeats)]),
    )


def mnist_present(root: str | os.PathLike | None = None) -> bool:
    """Whether the data folder holds all four MNIST files (raw or gzipped), without loading them."""
    raw = resolve_data_dir(root) / "MNIST" / "raw"
    return all((raw / name).is_file() or (raw / f"{name}.gz").is_file() for name in MNIST_FILES)


def _missing_message(folder: Path, reason: str) -> str:
    return (
        f"MNIST not found in {folder / 'MNIST' / 'raw'} and {reason}. "
        f"Put {', '.join(MNIST_FILES[:-1])} and {MNIST_FILES[-1]} "
        f"there (torchvision's layout), or point --data / ${DATA_ENV_VAR} "
        f"at a folder that has them, or connect to the internet to download them."
    )


# ---------------------------------------------------------------------------
# Pieces that are not one digit. Splitting touching digits weighs candidate
# pieces by the classifier's confidence; a classifier that has only seen single
# digits is sure of a merged "33" or half an "8" too. These examples, labelled
# NOT_A_DIGIT, teach it to say so.
# ---------------------------------------------------------------------------


def _ink_box(digit: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(digit > 30)
    return digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _touching_pair(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two uint8 digit crops side by side, touching or overlapping by up to half the narrower one,
    sometimes cut down to all of one and part of the other, as a wrong cut leaves them."""
    s = a.shape[0] / b.shape[0] * rng.uniform(0.85, 1.15)  # handwriting varies a little in height
    b = cv2.resize(b, (max(1, round(b.shape[1] * s)), max(1, round(b.shape[0] * s))), interpolation=cv2.INTER_LINEAR)
    overlap = int(round(rng.uniform(0.0, 0.5) * min(a.shape[1], b.shape[1])))
    dy = int(round(rng.uniform(-0.12, 0.12) * a.shape[0]))  # an uneven baseline
    ya, yb = abs(dy), abs(dy) + dy
    xb = a.shape[1] - overlap
    canvas = np.zeros((max(ya + a.shape[0], yb + b.shape[0]), xb + b.shape[1]), np.uint8)
    canvas[ya : ya + a.shape[0], : a.shape[1]] = a
    region = canvas[yb : yb + b.shape[0], xb:]
    np.maximum(region, b, out=region)
    if rng.random() < 0.4:
        # Keep a part of one digit with at least a third of its ink: less may look like nothing.
        if rng.random() < 0.5:
            keep = int(b.shape[1] * rng.uniform(0.4, 0.85))
            if b[:, :keep].sum() >= b.sum() / 3:
                canvas = canvas[:, : xb + keep]
        else:
            drop = int(a.shape[1] * rng.uniform(0.15, 0.6))
            if a[:, drop:].sum() >= a.sum() / 3:
                canvas = canvas[:, drop:]
    return canvas


def make_not_digits(images: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` MNIST-like images of what is not one digit, built from ``images``.

    images: uint8 (N, 28, 28) MNIST digits. Returns uint8 (n, 28, 28): three in
    four are two digits touching or overlapping (some cut down to a digit and a
    part of the next), one in four a wide digit's left or right part. Each is
    normalised like a digit cut from a photo (``reading.mnist.to_mnist``).
    """
    digits = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    k = 0
    while k < n:
        a = _ink_box(digits[rng.integers(len(digits))])
        if rng.random() < 0.75:
            piece = _touching_pair(a, _ink_box(digits[rng.integers(len(digits))]), rng)
        else:
            h, w = a.shape
            if w < 0.6 * h:
                continue  # narrow digits (1s, some 7s) have no telling parts
            cut = int(round(rng.uniform(0.3, 0.6) * w))
            piece = a[:, :cut] if rng.random() < 0.5 else a[:, w - cut :]
            if (piece > 64).any(0).sum() < 0.35 * h:
                continue  # a thin sliver is a "1"
        mask = piece > 64
        if mask.sum() < 10:
            continue
        ys, xs = np.nonzero(mask)
        box = np.s_[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        out[k] = to_mnist(piece[box], mask[box])
        k += 1
    return torch.from_numpy(out)


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
    regional_stroke_prob: float = 0.2  # flagged 1s and crossed 7s


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


def _paint_segments(x: torch.Tensor, p0: torch.Tensor, p1: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """Draw one anti-aliased pen stroke per image, from p0 to p1 ((n, 2) as x, y), ``width`` px wide."""
    n = x.shape[0]
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    grid = torch.stack([xs, ys], -1).view(1, 28, 28, 2)
    a, b = p0.view(n, 1, 1, 2), p1.view(n, 1, 1, 2)
    ab = b - a
    t = (((grid - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp(min=1e-6)).clamp(0, 1)
    dist = (grid - (a + t.unsqueeze(-1) * ab)).norm(dim=-1)
    stroke = (width.view(n, 1, 1) / 2 + 0.5 - dist).clamp(0, 1)
    return torch.maximum(x, stroke.unsqueeze(1))


def _ink_extent(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top row, bottom row and the ink's mean column near the top, per image (N, 1, 28, 28)."""
    rows = (x[:, 0] > 0.5).any(2)
    idx = torch.arange(28.0)
    top = torch.where(rows, idx, torch.full_like(idx, 99)).amin(1)
    bottom = torch.where(rows, idx, torch.full_like(idx, -1)).amax(1)
    band = (idx.view(1, 28) >= top.view(-1, 1)) & (idx.view(1, 28) <= top.view(-1, 1) + 2)
    weights = (x[:, 0] * band.unsqueeze(2)).sum(1)
    col = (weights * idx).sum(1) / weights.sum(1).clamp(min=1e-6)
    return top, bottom, col


def add_regional_strokes(x: torch.Tensor, labels: torch.Tensor, prob: float, gen: torch.Generator) -> torch.Tensor:
    """Write some 1s with a flag and some 7s with a crossbar, as much of the world does.

    MNIST's American-style 1s are plain bars, so a model trained on it alone reads
    a flagged European "1" as a 7. A random share ``prob`` of the 1s gets a flag
    going down-left from the top; of the 7s, a bar across the stem.
    """
    n = x.shape[0]
    width = 1.6 + 1.2 * torch.rand(n, generator=gen)
    top, bottom, col = _ink_extent(x)
    height = (bottom - top).clamp(min=8)
    chosen = (torch.rand(n, generator=gen) < prob) & (bottom >= top)
    ones, sevens = chosen & (labels == 1), chosen & (labels == 7)
    out = x
    if ones.any():
        angle = torch.deg2rad(25 + 35 * torch.rand(n, generator=gen))
        length = height * (0.2 + 0.15 * torch.rand(n, generator=gen))
        p0 = torch.stack([col, top + 0.5], 1)
        p1 = torch.stack([col - length * torch.cos(angle), top + 0.5 + length * torch.sin(angle)], 1)
        out = torch.where(ones.view(n, 1, 1, 1), _paint_segments(out, p0, p1, width), out)
    if sevens.any():
        y = top + height * (0.45 + 0.15 * torch.rand(n, generator=gen))
        row = (y.round().long().clamp(0, 27))
        line = out[torch.arange(n), 0, row]  # (n, 28): the stem's columns at that height
        idx = torch.arange(28.0)
        centre = (line * idx).sum(1) / line.sum(1).clamp(min=1e-6)
        half = height * (0.15 + 0.12 * torch.rand(n, generator=gen))
        p0, p1 = torch.stack([centre - half, y], 1), torch.stack([centre + half, y], 1)
        out = torch.where((sevens & (line.sum(1) > 0)).view(n, 1, 1, 1), _paint_segments(out, p0, p1, width), out)
    return out


def random_shift(x: torch.Tensor, max_px: int, gen: torch.Generator) -> torch.Tensor:
    """Move each image by its own whole number of pixels, up to ``max_px`` each way.

    A gather from a zero-padded copy: no resampling, so strokes stay as sharp as MNIST's,
    and cheap enough for the fastest presets (a batch of 256 costs about a twentieth of ``augment``).
    """
    n, _, h, w = x.shape
    padded = F.pad(x, (max_px, max_px, max_px, max_px))
    dy = torch.randint(0, 2 * max_px + 1, (n, 1, 1), generator=gen)
    dx = torch.randint(0, 2 * max_px + 1, (n, 1, 1), generator=gen)
    rows = torch.arange(h).view(1, h, 1) + dy
    cols = torch.arange(w).view(1, 1, w) + dx
    return padded[torch.arange(n).view(n, 1, 1), 0, rows, cols].unsqueeze(1)


def augment(
    x: torch.Tensor,
    gen: torch.Generator,
    aug: Augmentation = Augmentation(),
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """The full training augmentation on a batch ``(N, 1, 28, 28)`` float in [0, 1]."""
    if labels is not None and aug.regional_stroke_prob > 0:
        x = add_regional_strokes(x, labels, aug.regional_stroke_prob, gen)
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
    "mnist_present",
    "normalise",
    "oversample",
    "random_shift",
    "resolve_data_dir",
    "to_model_input",
]
