"""From ink strength to a clean ink mask: thresholds, hysteresis, specks, hairlines.

``ink`` is uint8 (H, W), ink bright on black; masks are bool (H, W); ``labels`` int32
(H, W) and ``stats`` int32 (n, 5) as ``cv2.connectedComponentsWithStats`` gives them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


MIN_INK_CONTRAST = 60  # on the 0-255 ink scale: weaker marks are paper texture or noise


def binarise(ink: np.ndarray) -> np.ndarray:
    """Ink strength uint8 (H, W) -> ink mask bool (H, W), by hysteresis.

    Strong pixels (above Otsu's threshold, never below MIN_INK_CONTRAST nor
    within eight noise deviations of the paper) seed the
    strokes; weaker pixels (above half of it) join them only where they touch a
    seed, which keeps faint stroke ends without letting in paper texture.
    """
    return binarise_at(ink, ink_threshold(ink))


def ink_threshold(ink: np.ndarray) -> float:
    """The ink strength (0-255) that seeds strokes in ``binarise``, from uint8 (H, W) ``ink``:
    Otsu's threshold, never below MIN_INK_CONTRAST nor within eight noise deviations of the paper."""
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Paper noise level (robust: the ink is a minority of pixels); ink must stand well above it.
    # Statistics of the paper: a sparse sample is plenty, and a histogram of uint8
    # is all a median needs.
    counts = np.bincount(ink[::3, ::3].ravel(), minlength=256)
    values = np.arange(256, dtype=np.float64)
    median = quantile_of_counts(values, counts, 0.5)
    deviation = np.abs(values - median)
    order = np.argsort(deviation, kind="stable")
    noise = 1.4826 * quantile_of_counts(deviation[order], counts[order], 0.5)
    return max(float(otsu), MIN_INK_CONTRAST, median + 8 * noise)


def per_label(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``values[labels]``: a per-component table (n,) spread over a label image int32 (H, W).

    ``np.take`` does what fancy indexing does here in half the time.
    """
    return np.take(values, labels)


def quantile_of_counts(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """``np.quantile(sample, q)`` of a sample given as sorted float (k,) ``values``, each
    repeated ``counts`` (int (k,), sum >= 1) times: a histogram is all it needs.

    numpy's default (linear) rule: the value at rank q * (n - 1), interpolated
    between the two nearest ranks (the median of an even count is their mean).
    """
    ends = np.cumsum(counts)
    at = q * (int(ends[-1]) - 1)
    below = math.floor(at)
    frac = at - below
    lo, hi = np.searchsorted(ends, [below, below + 1 if frac else below], side="right")
    return float(values[lo]) + (float(values[hi]) - float(values[lo])) * frac


def binarise_at(ink: np.ndarray, high: float) -> np.ndarray:
    """``binarise`` with its seed threshold ``high`` given: uint8 (H, W) -> bool (H, W)."""
    strong = ink >= high
    n, labels = cv2.connectedComponents((ink >= high * 0.5).view(np.uint8), connectivity=8)
    if n <= 1:
        return strong
    return per_label(seeded_components(labels, n, strong), labels)


def seeded_components(labels: np.ndarray, n: int, strong: np.ndarray) -> np.ndarray:
    """Which of the ``n`` components of the label image int32 (H, W) hold a
    ``strong`` (bool (H, W)) pixel: bool (n,), the background (0) never. Hysteresis."""
    seeded = np.zeros(n, dtype=bool)
    seeded[labels[strong]] = True
    seeded[0] = False
    return seeded


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a bool mask: labels int32 (H, W) and OpenCV's stats
    int32 (N, 5) (x, y, width, height, area; row 0 is the background)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels, stats


def trim_hairlines(mask: np.ndarray, stroke: float, min_length: float) -> np.ndarray:
    """Cut off the straight hairlines that stick out of thick ink: bool (H, W) -> bool (H, W).

    Binarising with hysteresis grows a ruled or grid line too faint to binarise
    from every digit it passes through, and the pieces glue neighbours together
    or widen a digit's box. Such a line is far thinner than the pen: horizontal
    or vertical runs at least ``min_length`` px long, straight, and thinner than
    a third of the pen's ``stroke`` width (px) are removed. A fine pen (stroke under 3 px)
    is itself that thin, and its ink is returned as it is. So is a mask with no
    hairlines: the same array, not a copy.
    """
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if stroke < 3.0 or len(rows) == 0:
        return mask
    thick = int(stroke / 3) + 1  # a kernel longer than the hairline is thick
    box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # the ink's box: most of a photo is paper
    m = mask[box].view(np.uint8)
    out = mask
    for kernel, along, across in (((thick, 1), cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT),
                                  ((1, thick), cv2.CC_STAT_HEIGHT, cv2.CC_STAT_WIDTH)):
        thin = cv2.subtract(m, cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones(kernel, np.uint8)))
        _, labels, stats, _ = cv2.connectedComponentsWithStats(thin, connectivity=8)
        # Long and straight: the thin stretch of a digit's own stroke is short or curved.
        long = (stats[:, along] >= min_length) & (stats[:, across] <= thick + 1)
        long[0] = False
        if long.any():
            out = out.copy() if out is mask else out
            out[box] &= ~per_label(long, labels)
    return out


def drop_specks_and_edges(labels: np.ndarray, stats: np.ndarray, min_area: int) -> np.ndarray:
    """The mask of the components worth reading, from ``components``: bool (H, W).

    Dropped: specks smaller than ``min_area`` pixels, and components that touch the
    border and look like the paper's edge or the desk: spanning most of a side (an
    edge, a frame, a table line) or filling a large solid area. A digit cut by the
    frame is kept.
    """
    h, w = labels.shape
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    touches = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    edge_like = touches & ((bw > 0.8 * w) | (bh > 0.9 * h) | (area > 0.2 * h * w))
    keep = (area >= min_area) & ~edge_like
    keep[0] = False
    return per_label(keep, labels)


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


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
