"""Candidate digits (``Blob``) from a clean mask, and the rules that drop marks that are no digit.

Masks are bool (H, W); a ``Blob`` is one candidate digit: its box (x, y, w, h) in the
working image and its own bool mask of shape (h, w), so a neighbour reaching into the
box is not part of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from .binarise import stroke_width


Classify = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class Blob:
    x: int
    y: int
    w: int
    h: int
    mask: np.ndarray  # bool (h, w)
    row: int = 0
    mnist: np.ndarray | None = field(default=None, repr=False)  # uint8 (28, 28) once normalised

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def find_blobs(mask: np.ndarray) -> list[Blob]:
    """Connected components (8-connected) of a bool mask, as Blobs."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    blobs = []
    for i in range(1, n):
        x, y, w, h, _area = (int(v) for v in stats[i])
        blobs.append(Blob(x, y, w, h, labels[y : y + h, x : x + w] == i))
    return blobs


def merge_blobs(a: Blob, b: Blob) -> Blob:
    """One blob covering both (union of boxes and masks)."""
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for blob in (a, b):
        mask[blob.y - y0 : blob.y - y0 + blob.h, blob.x - x0 : blob.x - x0 + blob.w] |= blob.mask
    return Blob(x0, y0, x1 - x0, y1 - y0, mask)


def typical_height(blobs: list[Blob]) -> float:
    """The height of a typical digit: median of the blobs at least half as tall as the tallest."""
    return typical_height_of([b.h for b in blobs])


def typical_height_of(heights: list[int]) -> float:
    """``typical_height`` from the heights alone (0.0 for none)."""
    return float(np.median(_digit_sized(heights))) if heights else 0.0


def _digit_sized(heights: list) -> list:
    """The heights at least half the tallest: digits, not specks, dots or commas."""
    tallest = max(heights, default=0)
    return [h for h in heights if h >= 0.5 * tallest]


def cut_by_frame(b: Blob, height: int, width: int) -> bool:
    return b.x == 0 or b.y == 0 or b.x + b.w >= width or b.y + b.h >= height

TALL_FRAME_MARK = 2.5  # times the height of the digits inside the frame


def drop_tall_frame_marks(blobs: list[Blob], height: int, width: int) -> list[Blob]:
    """Drop marks cut by the image's frame that are far taller than the digits inside it.

    The paper's edge, a shadow's border or the desk at the side of a photo is cut
    by the frame and often far taller than the handwriting. Left in, it would
    set the digit height, and the real digits would then look like specks. It
    takes two or more blobs of alike height inside the frame to judge by: a
    digit cut by a tight crop is kept.
    """
    framed = [cut_by_frame(b, height, width) for b in blobs]
    inside = [b.h for b, cut in zip(blobs, framed) if not cut]
    if len(_digit_sized(inside)) < 2:
        return blobs
    limit = TALL_FRAME_MARK * typical_height_of(inside)
    return [b for b, cut in zip(blobs, framed) if not cut or b.h <= limit]


def drop_separators(blobs: list[Blob], digit_height: float, min_height: float = 0) -> list[Blob]:
    """Drop marks too short to be digits: dots, commas, dashes, specks.

    ``min_height`` (px) is a hard floor; the relative floor is 40 % of a typical
    digit's height.
    """
    floor = max(min_height, 0.4 * digit_height)
    return [b for b in blobs if b.h >= floor]


def drop_hairlines(blobs: list[Blob], digit_height: float) -> list[Blob]:
    """Drop short marks drawn far thinner than the digits around them.

    Leftovers of grid lines, paper fibres and shadow edges are hairlines next to
    pen strokes: shorter than a digit, with a stroke under 35 % of the median.
    A full-height thin stroke is kept: it is a "1" drawn with a finer pen.
    """
    if len(blobs) < 2:
        return blobs
    widths = [stroke_width(b.mask) for b in blobs]
    typical = float(np.median(widths))
    return [b for b, w in zip(blobs, widths) if w >= 0.35 * typical or b.h >= 0.75 * digit_height]
