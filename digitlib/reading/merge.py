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
    two: a lone digit in two pieces leaves no typical height to go by. Those
    questions go to the classifier in one batch per round, a round after each
    wave of merges, so a page of specks costs a few batches, not one per pair.
    """
    blobs = list(blobs)
    # Pairs the classifier kept apart, not asked again (the objects are held so their ids stay theirs).
    kept_apart: dict[tuple[int, int], tuple[Blob, Blob]] = {}

    def stacked_close(a: Blob, b: Blob) -> int | None:
        """The pair's combined height when it is stacked and close enough to be one digit, else None."""
        if a.x >= b.x + b.w or b.x >= a.x + a.w:  # side by side: not stacked (the quick common case)
            return None
        gap, overlap = _y_gap(a, b), _x_overlap(a, b)
        stacked = overlap >= 0.5 or (overlap >= 0.25 and gap <= 0.12 * digit_height)
        if not stacked or gap > 0.25 * digit_height:
            return None
        return max(a.y + a.h, b.y + b.h) - min(a.y, b.y)

    def by_height(a: Blob, b: Blob, combined_h: int) -> bool:
        return min(a.h, b.h) < 0.75 * digit_height and combined_h <= 1.5 * digit_height

    def askable(a: Blob, b: Blob, combined_h: int) -> bool:
        # Up to two and a half typical heights: the halves of a lone digit, not a column of specks.
        key = (min(id(a), id(b)), max(id(a), id(b)))
        return classify is not None and combined_h <= 2.5 * digit_height and key not in kept_apart

    while True:
        blobs = _merge_pairs(blobs, lambda a, b: (h := stacked_close(a, b)) is not None and by_height(a, b, h))
        questions = [(a, b) for k, a in enumerate(blobs) for b in blobs[k + 1:]
                     if (h := stacked_close(a, b)) is not None and askable(a, b, h)]
        if not questions:
            return blobs
        answers = _one_digit_rather_than_two(questions, ink, classify)
        for (a, b), one in zip(questions, answers):
            if not one:
                kept_apart[(min(id(a), id(b)), max(id(a), id(b)))] = (a, b)
        together = {(id(a), id(b)) for (a, b), one in zip(questions, answers) if one}
        if not together:
            return blobs
        blobs = _merge_pairs(blobs, lambda a, b: (id(a), id(b)) in together or (id(b), id(a)) in together)


def _merge_pairs(blobs: list[Blob], belong_together) -> list[Blob]:
    """Merge every pair that ``belong_together(a, b)`` until none is left; a merged blob is checked again.

    Each blob is checked against all the others once, and a merged blob again: the
    checks grow with the square of the blobs, not the cube."""
    blobs = list(blobs)
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


def _one_digit_rather_than_two(pairs: list[tuple[Blob, Blob]], ink: np.ndarray, classify: Classify) -> list[bool]:
    """For each pair, whether the classifier is surer of it as one digit than as two; one batch."""
    triples = [blob for a, b in pairs for blob in (merge_blobs(a, b), a, b)]
    _, probs = classify(normalised(triples, ink))
    sure = np.log(np.clip(probs.max(axis=1), 1e-6, 1.0)).reshape(-1, 3)
    # Weighed as split_touching weighs a split: two pieces pay SPLIT_COST for the second.
    return [bool(s[0] > s[1] + s[2] - SPLIT_COST) for s in sure]
