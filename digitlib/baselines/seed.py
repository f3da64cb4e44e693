"""The article's reader, reimplemented from its description as a baseline.

The article the project grew from reads a number from a webcam frame like this:

1. grey, then a fixed threshold at 70: a pixel darker than 70 is ink (it assumes
   dark ink on white paper);
2. crop the white margin around all the ink;
3. walk the columns left to right; a column with fewer than 2 ink pixels is a gap,
   and each run of other columns is one digit;
4. crop each digit's columns to its ink rows, invert it (white digit on black,
   like MNIST), pad it by 50 px on every side and then to a square, resize to 28x28;
5. classify each digit with SeedNet (normalised with MNIST's mean and std).

It is kept faithful on purpose, weaknesses included, so the benchmark measures
the article's method and not an improved one: white-on-black images come out as
garbage (the background is all "ink"), dim webcam frames lose their strokes or
gain shadows as ink, touching digits stay glued, and the counting loops are plain
Python over pixels, as in the article.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from ..checkpoint import SHIPPED_SEEDNET
from ..recognizer import Recognizer

INK_THRESHOLD = 70  # grey level below which a pixel is ink
MIN_INK_PER_COLUMN = 2  # a column with fewer ink pixels separates two digits
PAD_PX = 50  # black border added around each digit before squaring and resizing


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 grey (H, W), BGR (H, W, 3) or BGRA (H, W, 4) -> uint8 grey (H, W).

    Alpha is dropped, as ``cv2.imread`` does by default in the article.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a uint8 numpy array")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY)
    raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), not {image.shape}")


def ink_mask(grey: np.ndarray) -> np.ndarray:
    """uint8 grey (H, W) -> bool (H, W): True where the pixel is darker than the fixed threshold."""
    return grey < INK_THRESHOLD


def _ink_per_column(ink: np.ndarray) -> list[int]:
    # Pixel by pixel in Python, as the article counts; deliberately not vectorised.
    height, width = ink.shape
    counts = []
    for x in range(width):
        count = 0
        for y in range(height):
            if ink[y, x]:
                count += 1
        counts.append(count)
    return counts


def _ink_per_row(ink: np.ndarray) -> list[int]:
    return _ink_per_column(ink.T)


def _first_last_nonzero(counts: list[int]) -> tuple[int, int] | None:
    """(first, last + 1) index of a non-zero count, or None when all are zero."""
    nonzero = [i for i, c in enumerate(counts) if c > 0]
    return (nonzero[0], nonzero[-1] + 1) if nonzero else None


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """bool (H, W) -> bool (h, w): the smallest rectangle holding all the ink; (0, 0) when there is none."""
    rows = _first_last_nonzero(_ink_per_row(ink))
    cols = _first_last_nonzero(_ink_per_column(ink))
    if rows is None or cols is None:
        return ink[:0, :0]
    return ink[rows[0] : rows[1], cols[0] : cols[1]]


def split_columns(ink: np.ndarray) -> list[np.ndarray]:
    """bool (H, W) -> the digits left to right, each bool (h, w) cropped to its own ink.

    A column with fewer than ``MIN_INK_PER_COLUMN`` ink pixels is a gap; each run
    of other columns is one piece. A piece's rows are cropped to its ink too.
    """
    pieces, start = [], None
    counts = _ink_per_column(ink)
    for x, count in enumerate(counts + [0]):  # the sentinel closes a piece touching the right edge
        if count >= MIN_INK_PER_COLUMN and start is None:
            start = x
        elif count < MIN_INK_PER_COLUMN and start is not None:
            pieces.append(crop_to_ink(ink[:, start:x]))
            start = None
    return [p for p in pieces if p.size]


def piece_to_mnist(piece: np.ndarray) -> np.ndarray:
    """bool (h, w) ink -> uint8 (28, 28): white digit on black, padded 50 px, squared, resized."""
    digit = np.where(piece, 255, 0).astype(np.uint8)  # invert: ink becomes white, as in MNIST
    digit = cv2.copyMakeBorder(digit, PAD_PX, PAD_PX, PAD_PX, PAD_PX, cv2.BORDER_CONSTANT, value=0)
    h, w = digit.shape
    extra_rows, extra_cols = max(0, w - h), max(0, h - w)
    digit = cv2.copyMakeBorder(
        digit, extra_rows // 2, extra_rows - extra_rows // 2, extra_cols // 2, extra_cols - extra_cols // 2,
        cv2.BORDER_CONSTANT, value=0,
    )
    return cv2.resize(digit, (28, 28))


class SeedBaseline:
    """The article's reader with SeedNet; ``model_path=None`` loads the shipped SeedNet weights."""

    def __init__(self, model_path: str | os.PathLike | None = None) -> None:
        # Recognizer.classify normalises with the checkpoint's mean/std (MNIST's 0.1307/0.3081).
        self.classifier = Recognizer(model_path if model_path is not None else SHIPPED_SEEDNET)

    def read_text(self, image: np.ndarray) -> str:
        """uint8 grey (H, W) or BGR (H, W, 3) photo -> the digits read left to right ("" if no ink)."""
        ink = crop_to_ink(ink_mask(to_grey(image)))
        text = ""
        for piece in split_columns(ink):
            # One forward pass per digit, as the article does.
            labels, _ = self.classifier.classify(piece_to_mnist(piece)[None])
            text += str(int(labels[0]))
        return text
