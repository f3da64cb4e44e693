"""From a clean ink mask to digits: boxes, merging, splitting, rows, and MNIST geometry.

Conventions: masks are bool (H, W); ``ink`` is uint8 (H, W), ink bright on black;
a ``Blob`` is one candidate digit: its box (x, y, w, h) in the working image and
its own bool mask of shape (h, w), so a neighbour reaching into the box is not
part of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

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
    if not heights:
        return 0.0
    tallest = max(heights)
    return float(np.median([h for h in heights if h >= 0.5 * tallest]))


def _x_overlap(a: Blob, b: Blob) -> float:
    """Horizontal overlap as a fraction of the narrower blob's width."""
    overlap = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    return max(0.0, overlap) / max(1, min(a.w, b.w))


def _y_gap(a: Blob, b: Blob) -> int:
    return max(a.y, b.y) - min(a.y + a.h, b.y + b.h)


def merge_broken_strokes(blobs: list[Blob], digit_height: float) -> list[Blob]:
    """Merge the separate strokes of one digit (a 5's detached bar, a 4 in two strokes).

    Two blobs belong together when they are stacked (they share most of the
    narrower one's columns), close vertically, at least one is clearly shorter
    than a digit, and together they are not much taller than one digit (the
    typical height may itself come from broken pieces, hence the slack).
    """
    blobs = list(blobs)
    merged = True
    while merged:
        merged = False
        for i in range(len(blobs)):
            for j in range(i + 1, len(blobs)):
                a, b = blobs[i], blobs[j]
                combined_h = max(a.y + a.h, b.y + b.h) - min(a.y, b.y)
                gap, overlap = _y_gap(a, b), _x_overlap(a, b)
                if (
                    (overlap >= 0.5 or (overlap >= 0.25 and gap <= 0.12 * digit_height))
                    and gap <= 0.25 * digit_height
                    and min(a.h, b.h) < 0.75 * digit_height
                    and combined_h <= 1.5 * digit_height
                ):
                    blobs[i] = merge_blobs(a, b)
                    del blobs[j]
                    merged = True
                    break
            if merged:
                break
    return blobs


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


# ---------------------------------------------------------------------------
# MNIST normalisation
# ---------------------------------------------------------------------------

MNIST_STROKE_PX = 2.4  # typical pen-stroke width of an MNIST digit in its 20x20 box
MNIST_CENTRE = (14.0, 14.0)  # mean centre of mass (x, y) of MNIST's test digits, in pixel indices


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a bool mask: twice the area over the outline length.

    The outline is counted as the pixels that an erosion removes: much cheaper
    than tracing contours, and on handwriting about 1/1.15 of the traced
    contour's length, hence the factor.
    """
    m = mask.astype(np.uint8)
    area = int(m.sum())
    edge = area - int(cv2.erode(m, _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0).sum())
    return 2.0 * area / (1.15 * max(edge, 1))


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def to_mnist(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One digit -> MNIST geometry: uint8 (28, 28), white on black.

    ``ink``: uint8 (h, w) ink strength over the digit's box; ``mask``: bool (h, w),
    the digit's own pixels. The stroke is brought near MNIST's width, the digit is
    fitted into a 20x20 box keeping its aspect ratio, and its centre of mass is
    placed at the centre of the 28x28 image, as MNIST was made.
    """
    h, w = mask.shape
    scale = 20.0 / max(h, w)
    # Soft edges: keep the anti-aliased ink around the mask, nothing further.
    near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    digit = np.where(near, ink, 0).astype(np.float32)
    core = digit[mask]
    peak = float(np.percentile(core, 90)) if core.size else 255.0
    digit = np.clip(digit * (255.0 / max(peak, 1.0)), 0, 255)

    # Stroke width: thin pens and marker pens both end up MNIST-like.
    width_out = stroke_width(mask) * scale
    if width_out < MNIST_STROKE_PX * 0.75:
        r = int(math.ceil((MNIST_STROKE_PX / scale - stroke_width(mask)) / 2))
        if r > 0:
            digit = cv2.copyMakeBorder(digit, r, r, r, r, cv2.BORDER_CONSTANT, value=0)
            digit = cv2.dilate(digit, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    elif width_out > MNIST_STROKE_PX * 1.6:
        r = int((stroke_width(mask) - MNIST_STROKE_PX / scale) / 2 * 0.7)
        if r > 0:
            eroded = cv2.erode(digit, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
            if (eroded > 128).sum() > 0.25 * (digit > 128).sum():
                digit = eroded

    ys, xs = np.nonzero(digit > 16)
    if len(xs) == 0:
        return np.zeros((28, 28), np.uint8)
    digit = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = digit.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(digit, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    total = float(small.sum())
    if total <= 0:
        return np.zeros((28, 28), np.uint8)
    yy, xx = np.mgrid[0 : small.shape[0], 0 : small.shape[1]]
    com_x, com_y = float((xx * small).sum() / total), float((yy * small).sum() / total)
    shift = np.float32([[1, 0, MNIST_CENTRE[0] - com_x], [0, 1, MNIST_CENTRE[1] - com_y]])
    out = cv2.warpAffine(small, shift, (28, 28), flags=cv2.INTER_LINEAR, borderValue=0)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def blob_to_mnist(blob: Blob, ink: np.ndarray) -> np.ndarray:
    """The Blob's digit from the full ink image, in MNIST geometry (uint8 (28, 28))."""
    crop = ink[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w]
    return to_mnist(crop, blob.mask)


# ---------------------------------------------------------------------------
# Touching digits
# ---------------------------------------------------------------------------


def _crop_columns(blob: Blob, c0: int, c1: int) -> Blob | None:
    """The part of a blob between columns c0 and c1 (relative), shrunk to its ink."""
    part = blob.mask[:, c0:c1]
    ys, xs = np.nonzero(part)
    if len(xs) == 0:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Blob(blob.x + c0 + x0, blob.y + y0, x1 - x0, y1 - y0, part[y0:y1, x0:x1].copy())


def candidate_cuts(blob: Blob, pieces: int, per_cut: int = 3) -> list[list[int]]:
    """Sets of cut columns (relative) that split a blob into ``pieces`` parts.

    Each cut is looked for near its even position (within a quarter of a piece's
    width), at the columns with the least ink; the best few of each are combined.
    """
    profile = blob.mask.sum(axis=0).astype(np.float32)
    profile = np.convolve(profile, np.ones(3, np.float32) / 3, mode="same")
    step = blob.w / pieces
    options: list[list[int]] = []
    for i in range(1, pieces):
        lo = max(1, int(i * step - 0.3 * step))
        hi = min(blob.w - 1, int(i * step + 0.3 * step) + 1)
        if hi <= lo:
            return []
        window = profile[lo:hi]
        order = np.argsort(window, kind="stable")
        picked: list[int] = []
        for o in order:
            c = lo + int(o)
            if all(abs(c - p) > max(2, step * 0.08) for p in picked):
                picked.append(c)
            if len(picked) == per_cut:
                break
        options.append(picked)
    combos: list[list[int]] = [[]]
    for picked in options:
        combos = [c + [p] for c in combos for p in picked]
    return combos


def typical_width(blobs: list[Blob], digit_height: float) -> float:
    """The width of a typical digit: median of the blobs that are not thin like a "1".

    A digit's usual proportions (0.8 of its height) stand in when there are
    fewer than two such blobs, or when their median is far wider than that.
    """
    usual = 0.8 * digit_height
    wide = [b.w for b in blobs if b.w >= 0.35 * b.h]
    if len(wide) < 2:
        return usual
    median = float(np.median(wide))
    # A median far wider than usual means most blobs are touching pairs.
    return median if median <= 1.3 * usual else usual


SPLIT_COST = 0.8  # log-probability an extra piece must win back: a split needs clear evidence


def split_touching(blob: Blob, ink: np.ndarray, digit_height: float, digit_width: float,
                   classify: Classify) -> list[Blob]:
    """Split a blob that is too wide for one digit into the pieces the classifier likes best.

    Candidate segmentations (1 to 6 pieces, cuts at ink minima) are all
    normalised and classified in one batch. Each is scored by the sum of its
    pieces' log confidences, minus SPLIT_COST per extra piece and a penalty for
    pieces much wider than the typical digit of this image.
    """
    ratio = blob.w / max(1.0, digit_width)
    if ratio < 1.2 and blob.w < 0.9 * blob.h:
        return [blob]
    expected = max(1.0, ratio)
    counts = sorted({k for k in (1, 2, math.floor(expected), math.ceil(expected), round(expected)) if 1 <= k <= 6})
    segmentations: list[list[Blob]] = []
    for k in counts:
        if k == 1:
            segmentations.append([blob])
            continue
        for cuts in candidate_cuts(blob, k):
            bounds = [0, *cuts, blob.w]
            parts = [_crop_columns(blob, bounds[i], bounds[i + 1]) for i in range(k)]
            if all(p is not None and p.h >= 0.5 * digit_height for p in parts):
                segmentations.append(parts)  # type: ignore[arg-type]
    if len(segmentations) <= 1:
        return segmentations[0] if segmentations else [blob]
    flat = [p for seg in segmentations for p in seg]
    digits = np.stack([blob_to_mnist(p, ink) for p in flat])
    _, probs = classify(digits)
    conf = probs.max(axis=1)
    best, best_score, i = [blob], -math.inf, 0
    for seg in segmentations:
        c = conf[i : i + len(seg)]
        i += len(seg)
        too_wide = sum(max(0.0, p.w / digit_width - 1.3) for p in seg)
        score = float(np.log(np.clip(c, 1e-6, 1)).sum()) - SPLIT_COST * (len(seg) - 1) - 1.5 * too_wide
        if score > best_score:
            best, best_score = seg, score
    return best


# ---------------------------------------------------------------------------
# Rows and reading order
# ---------------------------------------------------------------------------


def group_rows(blobs: list[Blob]) -> list[list[Blob]]:
    """Group blobs into text rows, top to bottom, each ordered left to right.

    Blobs are visited left to right; each joins the row whose last blob it
    overlaps most vertically, so a slanted or wavy baseline stays one row.
    """
    rows: list[list[Blob]] = []
    for b in sorted(blobs, key=lambda b: (b.x, b.y)):
        best, best_overlap = None, 0.0
        for row in rows:
            last = row[-1]
            overlap = (min(b.y + b.h, last.y + last.h) - max(b.y, last.y)) / max(1, min(b.h, last.h))
            if overlap > best_overlap:
                best, best_overlap = row, overlap
        if best is not None and best_overlap >= 0.35:
            best.append(b)
        else:
            rows.append([b])
    rows.sort(key=lambda r: float(np.median([b.cy for b in r])))
    for i, row in enumerate(rows):
        for b in row:
            b.row = i
    return rows
