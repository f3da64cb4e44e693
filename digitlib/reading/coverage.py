"""Ink the reading left out: digit-sized marks in the number's rows that no digit accounts for.

A digit dropped on the way (taken for a speck, a line, the paper's edge or a shadow) leaves no
box, so without this check the reading would look complete and sure. Masks are bool (H, W) in
the working image; boxes are (x, y, w, h) there.
"""

from __future__ import annotations

import cv2
import numpy as np

from .blobs import Blob

#: A mark is digit-sized when its height is within these shares of the typical digit's ...
DIGIT_SIZED = (0.5, 1.6)
#: ... and it is no wider than this many digit heights (wider: a line, a shadow's edge).
MAX_WIDTH = 1.5
#: Share of a mark's ink inside the kept digits' boxes above which a digit accounts for it.
COVERED = 0.5
#: How far beyond a row's first and last digit a left-out mark still belongs to it, in digit heights.
ROW_REACH = 1.5
#: Confidence kept for each digit-sized mark in the number's rows that the reading left out: the
#: number it gives may be short by one, however sure each digit it kept is.
LEFT_OUT_PENALTY = 0.3


def left_out_marks(binary: np.ndarray, kept: list[Blob], digit_height: float) -> list[tuple[int, int, int, int]]:
    """Boxes of digit-sized marks of ``binary`` (bool (H, W), the mask before any clean-up) that lie
    in a row of ``kept`` (the digits read, with their ``row``) and that no kept digit's box covers.

    Separators, specks and underlines are too short, ruled lines and shadow edges too long, to count.
    """
    if not kept or digit_height <= 0:
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.view(np.uint8), connectivity=8)
    covered = np.zeros(binary.shape, bool)
    for b in kept:
        covered[b.y:b.y + b.h, b.x:b.x + b.w] = True
    rows: dict[int, list[Blob]] = {}
    for b in kept:
        rows.setdefault(b.row, []).append(b)
    bands = [(min(b.y for b in r), max(b.y + b.h for b in r), min(b.x for b in r), max(b.x + b.w for b in r))
             for r in rows.values()]
    reach = ROW_REACH * digit_height
    marks = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if not DIGIT_SIZED[0] * digit_height <= h <= DIGIT_SIZED[1] * digit_height or w > MAX_WIDTH * digit_height:
            continue
        in_row = any(min(y + h, y1) - max(y, y0) >= 0.5 * h and x0 - reach <= x + w and x <= x1 + reach
                     for y0, y1, x0, x1 in bands)
        if not in_row:
            continue
        own = labels[y:y + h, x:x + w] == i
        if covered[y:y + h, x:x + w][own].mean() < COVERED:
            marks.append((x, y, w, h))
    return marks
