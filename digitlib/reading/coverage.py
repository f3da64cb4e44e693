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


#: A digit read at least this surely by one reading, with no digit of another reading of the same
#: photo over it, is a digit that other reading dropped.
SURE_DIGIT = 0.9
#: A box grown by this share of its width and height on each side still covers a digit centred
#: there: two readings' boxes for one digit differ by a few pixels (a CTC span, a cut, a turn).
COVER_GROW = 0.25


def dropped_sure_digits(boxes: list[tuple[int, int, int, int]], other_boxes: list[tuple[int, int, int, int]],
                        other_confidences: list[float]) -> int:
    """How many digits of another reading (``other_boxes``, (x, y, w, h), read with
    ``other_confidences``) that are at least ``SURE_DIGIT`` sure are centred in none of this
    reading's ``boxes`` (grown by ``COVER_GROW``). All boxes in one image's px."""
    grown = np.array([(x - COVER_GROW * w, y - COVER_GROW * h, x + (1 + COVER_GROW) * w, y + (1 + COVER_GROW) * h)
                      for x, y, w, h in boxes], np.float64).reshape(-1, 4)
    dropped = 0
    for (x, y, w, h), confidence in zip(other_boxes, other_confidences):
        cx, cy = x + w / 2, y + h / 2
        inside = (grown[:, 0] <= cx) & (cx <= grown[:, 2]) & (grown[:, 1] <= cy) & (cy <= grown[:, 3])
        dropped += confidence >= SURE_DIGIT and not inside.any()
    return dropped


def covering_reading(first: tuple[list[tuple[int, int, int, int]], list[float]],
                     second: tuple[list[tuple[int, int, int, int]], list[float]]) -> int | None:
    """Of two readings of the same photo, each (digit boxes, their confidences), the one (0: first,
    1: second) that dropped fewer of the other's sure digits (``dropped_sure_digits``); None where
    they dropped as many (most often none).

    The two ink stages and the two readers each check the other: a reading sure of one digit where
    the other is sure of three has most likely lost two (a row the sequence reader read around one
    large digit, digits the threshold stage lost to a grid or a shadow). On 681 photos of the
    training generators (``fusion_fit``, BENCHMARKS.md), choosing by this first, and by the
    confidences only where it says nothing, read 534 exactly at the ink choice against 528, and
    at the readers' fusion 530 against 525 with the learned ink, 472 against 471 with the
    threshold ink (alike with a sure digit from 0.8 to 0.99 and boxes grown by 0 to 0.5).
    """
    first_dropped = dropped_sure_digits(first[0], *second)
    second_dropped = dropped_sure_digits(second[0], *first)
    if first_dropped == second_dropped:
        return None
    return 1 if first_dropped > second_dropped else 0
