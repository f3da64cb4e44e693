"""Touching digits: candidate cuts through a blob, and the lattice that picks the pieces the
classifier likes best.

Masks are bool (H, W); ``ink`` uint8 (H, W); a ``Cut`` is a path through the blob's mask,
one column per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .binarise import stroke_width
from .blobs import Blob, Classify
from .mnist import normalised


@dataclass(eq=False)
class Cut:
    """A cut through a blob, top to bottom: in row y, the pixels left of
    ``bound[y]`` lie on its left. Straight cuts may lean with the handwriting;
    curved ones weave between two digits that overlap."""

    bound: np.ndarray  # float32 (h,): the cut's column in every row of the blob's box
    ink: float  # ink pixels the cut runs through

    @property
    def at(self) -> float:
        return float(self.bound.mean())

CUT_SLANTS = (0.0, 0.3, -0.3)  # columns per row: about 17 degrees either way, the lean of most handwriting

VALLEY = 0.7  # a waist holds at most this much of the ink beside it


def _smooth3(profile: np.ndarray) -> np.ndarray:
    """A 1-D ink profile (float32 (n,)) averaged over three neighbours: float32 (n,)."""
    return np.convolve(profile, np.ones(3, np.float32) / 3, mode="same")


def _valleys(profile: np.ndarray, digit_height: float, most: int, depth: float = VALLEY) -> list[int]:
    """Indices of the deepest valleys of a 1-D ink profile (float32 (n,)) across a
    blob, deepest first: at most ``most``, 10 % of a digit's height from the ends
    and 12 % of it apart.

    A valley is a local minimum of the smoothed profile well below the highest
    ink within half a digit's height on both sides (at most ``depth`` times it):
    a narrow waist, not a dip in a flat stretch.
    """
    spacing, margin = max(2, int(0.12 * digit_height)), max(2, int(0.1 * digit_height))
    reach = max(2, int(0.5 * digit_height))
    smooth = _smooth3(profile)
    inner = np.arange(margin, len(profile) - margin)
    if len(inner) == 0:
        return []
    # Highest ink in the `reach` samples before and after each index (-inf pads the ends).
    pad = np.full(reach, -np.inf, np.float32)
    windows = np.lib.stride_tricks.sliding_window_view
    peak_left = windows(np.concatenate([pad, smooth]), reach).max(axis=1)[inner]
    peak_right = windows(np.concatenate([smooth, pad]), reach).max(axis=1)[inner + 1]
    here = smooth[inner]
    valley = (here <= smooth[inner - 1]) & (here <= smooth[inner + 1]) & \
             (here <= depth * np.minimum(peak_left, peak_right))
    minima = inner[valley]
    picked: list[int] = []
    for c in minima[np.argsort(profile[minima], kind="stable")]:
        if all(abs(int(c) - p) >= spacing for p in picked):
            picked.append(int(c))
        if len(picked) == most:
            break
    return picked


def straight_cuts(mask: np.ndarray, digit_height: float, most: int = 8) -> list[Cut]:
    """Straight cuts through a blob's mask (bool (h, w)) at the valleys of its ink
    projected along a few slants: where two digits leaning alike touch."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    rows = np.arange(h, dtype=np.float32)
    cuts: list[Cut] = []
    for slant in CUT_SLANTS:
        shift = slant * ((h - 1) / 2 - rows)  # how far right the cut runs in each row
        cols = np.floor(xs - shift[ys]).astype(np.int64)
        lo = int(cols.min())
        profile = np.bincount(cols - lo).astype(np.float32)
        for c in _valleys(profile, digit_height, most):
            cuts.append(Cut(bound=(lo + c + shift).astype(np.float32), ink=float(profile[c])))
    return cuts

DRIFT_COST = 0.25  # ink pixels a curved cut would rather cross than step one column aside


def _fall(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least ink (plus DRIFT_COST per sideways step) on a path from the top row
    to each pixel of ``ink`` (float32 (h, w)), moving one row down and at most one
    column aside per step: float32 (h, w) costs and int8 (h, w) steps (the column
    offset each pixel's best path came from)."""
    h, w = ink.shape
    cost = np.empty((h, w), np.float32)
    step = np.zeros((h, w), np.int8)
    cost[0] = ink[0]
    columns = np.arange(w)
    for y in range(1, h):
        prev = cost[y - 1]
        options = np.stack([np.concatenate(([np.inf], prev[:-1])) + DRIFT_COST, prev,
                            np.concatenate((prev[1:], [np.inf])) + DRIFT_COST])
        choice = options.argmin(axis=0)
        step[y] = choice - 1
        cost[y] = options[choice, columns] + ink[y]
    return cost, step


def _trace(step: np.ndarray, start_row: int, x: int) -> np.ndarray:
    """Columns of the path that ``_fall`` found to (start_row, x), rows 0..start_row: int (start_row + 1,)."""
    out = np.empty(start_row + 1, np.int64)
    for y in range(start_row, -1, -1):
        out[y] = x
        x += int(step[y, x])
    return out


def curved_cuts(mask: np.ndarray, digit_height: float, most: int = 8) -> list[Cut]:
    """Curved cuts through a blob's mask (bool (h, w)): for each column of its
    middle row, the path from top to bottom through it that crosses the least
    ink, stepping at most one column aside per row (dynamic programming, as a
    drop of ink would run down between two overlapping digits). The columns
    where that least ink is lowest are the candidates."""
    h, w = mask.shape
    ink = mask.astype(np.float32)
    down, down_step = _fall(ink)
    up, up_step = _fall(ink[::-1])
    mid = h // 2
    through = down[mid] + up[h - 1 - mid] - ink[mid]
    cuts: list[Cut] = []
    for x in _valleys(through, digit_height, most, depth=1.0):
        upper = _trace(down_step, mid, x)
        lower = _trace(up_step, h - 1 - mid, x)[::-1]  # rows mid..h-1
        bound = np.concatenate([upper, lower[1:]]).astype(np.float32)
        cuts.append(Cut(bound=bound, ink=float(ink[np.arange(h), bound.astype(np.int64)].sum())))
    return cuts


def even_cuts(mask: np.ndarray, pieces: int) -> list[Cut]:
    """Upright cuts that split a blob's mask (bool (h, w)) into ``pieces`` parts of
    about equal width: at the column of least ink near each even position. Digits
    pressed together have no waist to find, but are about as wide as each other."""
    h, w = mask.shape
    profile = _smooth3(mask.sum(axis=0).astype(np.float32))
    step = w / pieces
    cuts = []
    for i in range(1, pieces):
        lo, hi = max(1, int(i * step - 0.3 * step)), min(w - 1, int(i * step + 0.3 * step) + 1)
        if hi > lo:
            x = lo + int(np.argmin(profile[lo:hi]))
            cuts.append(Cut(bound=np.full(h, x, np.float32), ink=float(mask[:, x].sum())))
    return cuts


def candidate_cuts(mask: np.ndarray, digit_height: float, digits: float, most: int = 8) -> list[Cut]:
    """Where a blob (bool mask (h, w)) of about ``digits`` touching digits may be cut,
    left to right; of cuts that run alike (within 2 px on average), only the one
    through less ink."""
    # A curved cut is worth trying only where it frees two digits that no straight
    # cut can: through next to no ink. Through a stroke, it as easily cuts a digit.
    thin = 0.5 * stroke_width(mask)
    found = straight_cuts(mask, digit_height, most)
    found += [c for c in curved_cuts(mask, digit_height, most) if c.ink <= thin]
    for pieces in {2, math.floor(digits), math.ceil(digits)}:
        found += even_cuts(mask, pieces) if pieces >= 2 else []
    found.sort(key=lambda c: c.ink)
    kept: list[Cut] = []
    for cut in found:
        if all(float(np.abs(cut.bound - k.bound).mean()) >= 2 for k in kept):
            kept.append(cut)
    return sorted(kept, key=lambda c: c.at)


def _holes(mask: np.ndarray) -> np.ndarray:
    """Background enclosed by ink (the inside of a 0, 6, 8, 9): bool, shape of ``mask``."""
    padded = cv2.copyMakeBorder((~mask).astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=1)
    n, labels = cv2.connectedComponents(padded, connectivity=4)
    return (labels[1:-1, 1:-1] != labels[0, 0]) & ~mask


def _piece(blob: Blob, left: Cut | None, right: Cut | None, min_fraction: float = 0.08) -> Blob | None:
    """The part of a blob between two cuts, without crumbs of its neighbours, shrunk to its ink."""
    part = blob.mask.copy()
    columns = np.arange(blob.w, dtype=np.float32)[None, :]
    if left is not None:
        part &= columns >= left.bound[:, None]
    if right is not None:
        part &= columns < right.bound[:, None]
    n, labels, stats, _ = cv2.connectedComponentsWithStats(part.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, dtype=bool)
    keep[1:] = areas >= min_fraction * areas.max()
    part = keep[labels]
    ys, xs = np.nonzero(part)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Blob(blob.x + x0, blob.y + y0, x1 - x0, y1 - y0, part[y0:y1, x0:x1])


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

# say what a split needs to win and what single digits rarely look like.
SPLIT_COST = 0.8  # each extra piece: a split needs clear evidence

HOLE_CUT_COST = 3.0  # a cut through the inside of a loop splits a 0, 6, 8 or 9, not two digits

INK_CUT_COST = 0.7  # per stroke width of ink the cut crosses beyond INK_OK ...

INK_OK = 1.0  # ... touching digits meet in about one stroke

INK_FREE = -1.0  # ... and a cut through (almost) none is credited as one stroke less

WIDE_PIECE, WIDE_COST = 1.2, 2.5  # per typical digit width beyond 1.2 of it

SHORT_PIECE, SHORT_COST = 0.8, 5.0  # per row height short of 0.8 of it

#: A blob no wider than one digit is only split when the classifier is less sure
#: than this that it is one: a "1" leaning on a "0" is no wider than an "8".
UNSURE_BELOW = 0.5

PAIR_MIN_WIDTH = 0.45  # digit heights: narrower, a blob holds one digit at most


def _one_digit_wide(blob: Blob, digit_width: float) -> bool:
    return blob.w / max(1.0, digit_width) < 1.2 and blob.w < 0.9 * blob.h


def one_digit_confidence(blobs: list[Blob], ink: np.ndarray, digit_height: float, digit_width: float,
                         classify: Classify) -> list[float]:
    """For each blob, the classifier's top probability that it is one digit, for the
    blobs one digit wide (but wide enough for two narrow ones) that split_touching
    would otherwise leave whole; 1.0 for the others. One batch; each blob asked
    about keeps its ``mnist`` (``normalised``)."""
    confidence = [1.0] * len(blobs)
    asked = [i for i, b in enumerate(blobs)
             if _one_digit_wide(b, digit_width) and b.w >= PAIR_MIN_WIDTH * digit_height]
    if asked:
        _, probs = classify(normalised([blobs[i] for i in asked], ink))
        for i, p in zip(asked, probs):
            confidence[i] = float(p.max())
    return confidence


def split_touching(blob: Blob, ink: np.ndarray, digit_height: float, digit_width: float,
                   classify: Classify, confidence: float = 1.0) -> list[Blob]:
    """Split a blob that may hold several touching digits into the pieces the classifier likes best.

    Candidate cuts (``candidate_cuts``) make a lattice: every run of the blob
    between two cuts that could be one digit is normalised, and all of them are
    classified in one batch. The best path through the lattice (dynamic
    programming) maximises the sum of its pieces' log confidences, less
    SPLIT_COST per extra piece and penalties for what single digits rarely are:
    far wider or much shorter than the other digits of the image, or cut out of
    a loop. A blob one digit wide is tried only when ``confidence`` (from
    ``one_digit_confidence``) is under UNSURE_BELOW.
    """
    ratio = blob.w / max(1.0, digit_width)
    if _one_digit_wide(blob, digit_width) and confidence >= UNSURE_BELOW:
        return [blob]
    cuts = candidate_cuts(blob.mask, digit_height, ratio, most=math.ceil(ratio) + 2)
    if not cuts:
        return [blob]
    h = blob.h
    holes = _holes(blob.mask)
    if holes.sum() < (0.08 * digit_height) ** 2:
        holes[:] = False  # specks of paper between strokes are not a loop
    stroke = stroke_width(blob.mask)

    def cut_cost(cut: Cut) -> float:
        through_hole = holes[np.arange(h), np.clip(cut.bound.astype(np.int64), 0, blob.w - 1)].any()
        # A cut through more ink than where two digits meet is cutting a digit.
        thick = max(INK_FREE, cut.ink / stroke - INK_OK)
        return HOLE_CUT_COST * through_hole + INK_CUT_COST * thick

    # Boundaries: the blob's left edge (None), the cuts, its right edge (None).
    bounds: list[Cut | None] = [None, *cuts, None]
    costs = [0.0, *(cut_cost(c) for c in cuts), 0.0]
    min_w, max_w = 0.1 * digit_height, 1.8 * digit_width
    pieces: dict[tuple[int, int], Blob] = {}
    for i in range(len(bounds) - 1):
        for j in range(i + 1, len(bounds)):
            if i == 0 and j == len(bounds) - 1:
                continue
            a, b = bounds[i], bounds[j]
            lo = a.at if a is not None else 0.0
            hi = b.at if b is not None else float(blob.w)
            if a is not None and b is not None:
                # Cuts must not cross inside the blob, nor leave too thin a sliver.
                if b.at - a.at < min_w or float((b.bound - a.bound).min()) < 1:
                    continue
            if hi - lo < min_w or hi - lo > max_w:
                continue
            p = _piece(blob, a, b)
            if p is not None and p.h >= 0.5 * digit_height:
                pieces[(i, j)] = p
    if not pieces:
        return [blob]
    keys = list(pieces)
    batch = [blob, *(pieces[k] for k in keys)]
    _, probs = classify(normalised(batch, ink))
    logp = np.log(np.clip(probs.max(axis=1), 1e-6, 1.0))

    def piece_score(p: Blob, lp: float) -> float:
        too_wide = max(0.0, p.w / digit_width - WIDE_PIECE)
        # Digits written in one row reach from its top to its bottom; a piece that
        # does not is a fragment (a 5's bar, a 2's tail).
        too_short = max(0.0, SHORT_PIECE - p.h / max(h, 0.9 * digit_height))
        return lp - WIDE_COST * too_wide - SHORT_COST * too_short

    score = dict(zip(keys, (piece_score(pieces[k], float(lp)) for k, lp in zip(keys, logp[1:]))))
    # best[j]: the best score of a path from the left edge to boundary j, and its last step.
    n = len(bounds)
    best = [-math.inf] * n
    back = [-1] * n
    best[0] = 0.0
    for j in range(1, n):
        for i in range(j):
            if (i, j) in score and best[i] > -math.inf:
                s = best[i] + score[(i, j)] - SPLIT_COST - costs[j]
                if s > best[j]:
                    best[j], back[j] = s, i
    whole = piece_score(blob, float(logp[0]))
    # The first piece of a path pays no SPLIT_COST; the right edge is no cut.
    if best[-1] == -math.inf or best[-1] + SPLIT_COST <= whole:
        return [blob]
    path, j = [], n - 1
    while j > 0:
        path.append(pieces[(back[j], j)])
        j = back[j]
    return path[::-1]
