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

from .preprocess import quantile_of_counts

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


def _cut_by_frame(b: Blob, height: int, width: int) -> bool:
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
    framed = [_cut_by_frame(b, height, width) for b in blobs]
    inside = [b.h for b, cut in zip(blobs, framed) if not cut]
    if len(_digit_sized(inside)) < 2:
        return blobs
    limit = TALL_FRAME_MARK * typical_height_of(inside)
    return [b for b, cut in zip(blobs, framed) if not cut or b.h <= limit]


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
    # A huge digit (a close-up, a small crop enlarged) is shrunk first: the stroke
    # work below costs the square of its size. Max-pooling keeps a fine pen's strokes.
    f = math.ceil(max(h, w) / MAX_DIGIT_SIDE)
    if f > 1:
        ink, mask = _max_pool(ink, f), _max_pool(mask.view(np.uint8), f).view(bool)
        h, w = mask.shape
    scale = 20.0 / max(h, w)
    # Soft edges: keep the anti-aliased ink around the mask, nothing further.
    near = cv2.dilate(mask.view(np.uint8), _SQUARE).view(bool)
    digit = np.where(near, ink, 0).astype(np.float32)
    # The 90th percentile of the digit's own ink, from its histogram (np.percentile is slow here).
    core = np.bincount(ink[mask], minlength=256)
    peak = quantile_of_counts(np.arange(256.0), core, 0.9) if core.any() else 255.0
    digit = np.clip(digit * (255.0 / max(peak, 1.0)), 0, 255)

    # Stroke width: thin pens and marker pens both end up MNIST-like.
    stroke = stroke_width(mask)
    width_out = stroke * scale
    if width_out < MNIST_STROKE_PX * 0.75:
        r = int(math.ceil((MNIST_STROKE_PX / scale - stroke) / 2))
        if r > 0:
            digit = cv2.copyMakeBorder(digit, r, r, r, r, cv2.BORDER_CONSTANT, value=0)
            digit = _dilate_disc(digit, r)
    elif width_out > MNIST_STROKE_PX * 1.6:
        r = int((stroke - MNIST_STROKE_PX / scale) / 2 * 0.7)
        if r > 0:
            eroded = cv2.erode(digit, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
            if (eroded > 128).sum() > 0.25 * (digit > 128).sum():
                digit = eroded

    visible = digit > 16
    ys, xs = np.flatnonzero(visible.any(1)), np.flatnonzero(visible.any(0))
    if len(xs) == 0:
        return np.zeros((28, 28), np.uint8)
    digit = digit[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]
    h, w = digit.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(digit, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    total = float(small.sum())
    if total <= 0:
        return np.zeros((28, 28), np.uint8)
    com_x = float(small.sum(0) @ np.arange(small.shape[1], dtype=np.float32)) / total
    com_y = float(small.sum(1) @ np.arange(small.shape[0], dtype=np.float32)) / total
    shift = np.float32([[1, 0, MNIST_CENTRE[0] - com_x], [0, 1, MNIST_CENTRE[1] - com_y]])
    out = cv2.warpAffine(small, shift, (28, 28), flags=cv2.INTER_LINEAR, borderValue=0)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


MAX_DIGIT_SIDE = 400  # px: to_mnist shrinks larger digits first


def _max_pool(image: np.ndarray, f: int) -> np.ndarray:
    """(h, w) -> (ceil(h / f), ceil(w / f)), each pixel the max of its f x f block; same dtype."""
    h, w = image.shape
    padded = np.zeros((-(-h // f) * f, -(-w // f) * f), image.dtype)
    padded[:h, :w] = image
    return padded.reshape(padded.shape[0] // f, f, padded.shape[1] // f, f).max(axis=(1, 3))


def _dilate_disc(image: np.ndarray, r: int) -> np.ndarray:
    """Grey dilation of float32 or uint8 (h, w) by a disc of radius ``r`` px.

    A disc is the sum of smaller discs, and a few small dilations cost far less
    than one large one (a large kernel costs the square of its radius per pixel).
    """
    while r > 0:
        step = min(r, 4)
        image = cv2.dilate(image, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * step + 1, 2 * step + 1)))
        r -= step
    return image


_SQUARE = np.ones((3, 3), np.uint8)


def blob_to_mnist(blob: Blob, ink: np.ndarray) -> np.ndarray:
    """The Blob's digit from the full ink image, in MNIST geometry (uint8 (28, 28))."""
    crop = ink[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w]
    return to_mnist(crop, blob.mask)


# ---------------------------------------------------------------------------
# Touching digits
# ---------------------------------------------------------------------------


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


# The lattice's scores are log-probabilities; these priors, in the same units,
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


def normalised(blobs: list[Blob], ink: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28): each blob's ``mnist``, normalised now where it has none
    yet and kept there, so a digit the splitting classified is not normalised again."""
    for b in blobs:
        if b.mnist is None:
            b.mnist = blob_to_mnist(b, ink)
    return np.stack([b.mnist for b in blobs])


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
    return _number_rows(rows)


def _number_rows(rows: list[list[Blob]]) -> list[list[Blob]]:
    for i, row in enumerate(rows):
        for b in row:
            b.row = i
    return rows


def drop_frame_rows(rows: list[list[Blob]], height: int, width: int) -> list[list[Blob]]:
    """Rows made only of marks cut by the image's frame, beside a row that is not.

    A strip of the paper's edge, the desk or a shadow's border at the side of the
    photo lands in a row of its own and reads as a "1" or a "4". The number the
    photo was taken of lies inside the frame; a lone digit cut by the frame, with
    nothing else in the photo, is still read.
    """
    framed = [all(_cut_by_frame(b, height, width) for b in row) for row in rows]
    if all(framed):
        return rows
    return _number_rows([row for row, cut in zip(rows, framed) if not cut])
