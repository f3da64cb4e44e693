"""Broken strokes: pieces of one digit (a 5's flag, a 4 drawn in two strokes) merged back,
by geometry and, when in doubt, by the classifier.

``ink`` is uint8 (H, W), ink bright on black.
"""

from __future__ import annotations

import numpy as np

from .blobs import Blob, Classify, merge_blobs
from .mnist import normalised
from .split import SPLIT_COST


def _x_overlap(a: Blob, b: Blob) -> float:
    """Horizontal overlap as a fraction of the narrower blob's width."""
    overlap = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    return max(0.0, overlap) / max(1, min(a.w, b.w))


def _y_gap(a: Blob, b: Blob) -> int:
    return max(a.y, b.y) - min(a.y + a.h, b.y + b.h)


def merge_broken_strokes(blobs: list[Blob], digit_height: float,
                         ink: np.ndarray | None = None, classify: Classify | None = None) -> list[Blob]:
    """Merge the separate strokes of one digit (a 5's detached bar, a 4 in two strokes).

    Two blobs belong together when they are stacked (they share most of the
    narrower one's columns), close vertically, at least one is clearly shorter
    than a digit, and together they are not much taller than one digit (the
    typical height may itself come from broken pieces, hence the slack).
    Given the ``ink`` image and ``classify``, stacked blobs of any height are
    also merged when the classifier is far surer of them as one digit than as
    two: a lone digit in two pieces leaves no typical height to go by.
    """
    blobs = list(blobs)
    # Pairs the classifier kept apart, not asked again (the objects are held so their ids stay theirs).
    kept_apart: dict[tuple[int, int], tuple[Blob, Blob]] = {}

    def one_digit(a: Blob, b: Blob, combined_h: int) -> bool:
        # Up to two and a half typical heights: the halves of a lone digit, not a column of specks.
        key = (min(id(a), id(b)), max(id(a), id(b)))
        if classify is None or combined_h > 2.5 * digit_height or key in kept_apart:
            return False
        if _one_digit_rather_than_two(a, b, ink, classify):
            return True
        kept_apart[key] = (a, b)
        return False

    def belong_together(a: Blob, b: Blob) -> bool:
        if a.x >= b.x + b.w or b.x >= a.x + a.w:  # side by side: not stacked (the quick common case)
            return False
        combined_h = max(a.y + a.h, b.y + b.h) - min(a.y, b.y)
        gap, overlap = _y_gap(a, b), _x_overlap(a, b)
        stacked = overlap >= 0.5 or (overlap >= 0.25 and gap <= 0.12 * digit_height)
        return stacked and gap <= 0.25 * digit_height and (
            (min(a.h, b.h) < 0.75 * digit_height and combined_h <= 1.5 * digit_height)
            or one_digit(a, b, combined_h)
        )

    # Each blob is checked against all the others once, and a merged blob again:
    # no pair is left that belongs together, in a number of checks that grows
    # with the square of the blobs, not the cube.
    i = 0
    while i < len(blobs):
        for j in range(len(blobs)):
            if j != i and belong_together(blobs[i], blobs[j]):
                first, second = min(i, j), max(i, j)
                blobs[first] = merge_blobs(blobs[first], blobs[second])
                del blobs[second]
                i = first
                break
        else:
            i += 1
    return blobs


def _one_digit_rather_than_two(a: Blob, b: Blob, ink: np.ndarray, classify: Classify) -> bool:
    whole = merge_blobs(a, b)
    _, probs = classify(normalised([whole, a, b], ink))
    sure = np.log(np.clip(probs.max(axis=1), 1e-6, 1.0))
    # Weighed as split_touching weighs a split: two pieces pay SPLIT_COST for the second.
    return bool(sure[0] > sure[1] + sure[2] - SPLIT_COST)
