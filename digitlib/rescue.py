"""Rescuing a misread photo: turn and crop it before reading, fix its digit boxes after.

Before reading, ``prepare_photo`` decodes a photo, turns it by quarter turns and crops it
by margins, for ``Recognizer.read``. After reading, ``edit_reading`` gives the reading
with some digit boxes left out and boxes the user drew added, each added box's digit cut
from the photo (``digit_from_box``) and classified, so a dropped digit can still be saved
with the label the user typed. ``suggest_box`` proposes where a missing digit may be.

Images are BGR or RGB uint8 ``(H, W, 3)`` or grey uint8 ``(H, W)``; boxes are
``(x, y, width, height)`` in pixels of the image they are given with.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

import cv2
import numpy as np

from .reading import binarise, decode, illumination
from .reading.draw import box_thickness
from .reading.mnist import to_mnist
from .reading.result import UNCERTAIN_BELOW, DigitReading, Reading
from .recognizer import top3, uncertain_warning

Box = tuple[int, int, int, int]
#: ``Recognizer.classify``: uint8 (N, 28, 28) -> (labels int64 (N,), probs float32 (N, 10)).
Classify = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

MAX_CROP_PERCENT = 45  # per side: two opposite margins always leave at least a tenth of the photo


# --------------------------------------------------------------------------- before reading


def rotate_quarter(image: np.ndarray, turns: int) -> np.ndarray:
    """``image`` (H, W[, C]) turned clockwise by ``turns`` quarter turns (any int; 4 is a full turn)."""
    return np.ascontiguousarray(np.rot90(image, k=-(int(turns) % 4), axes=(0, 1)))


def crop_margins(image: np.ndarray, margins: Sequence[float]) -> np.ndarray:
    """``image`` (H, W[, C]) without ``margins`` = (left, top, right, bottom), each in percent of
    its side (0-45); at least one pixel is always kept. ValueError for margins out of range."""
    left, top, right, bottom = (float(m) for m in margins)
    if not all(0 <= m <= MAX_CROP_PERCENT for m in (left, top, right, bottom)):
        raise ValueError(f"crop margins must be 0-{MAX_CROP_PERCENT} % each, not {tuple(margins)}")
    h, w = image.shape[:2]
    x0, x1 = round(w * left / 100), max(round(w * left / 100) + 1, round(w * (1 - right / 100)))
    y0, y1 = round(h * top / 100), max(round(h * top / 100) + 1, round(h * (1 - bottom / 100)))
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def prepare_photo(data: bytes, turns: int = 0, margins: Sequence[float] = (0, 0, 0, 0)) -> tuple[np.ndarray, list[str]]:
    """Encoded image bytes -> (BGR uint8 (H, W, 3) turned and cropped, the decoder's notes).
    ValueError when ``data`` is not a readable image (as ``Recognizer.read``)."""
    bgr, notes = decode.load_image(data)
    return crop_margins(rotate_quarter(bgr, turns), margins), notes


# --------------------------------------------------------------------------- after reading


def digit_from_box(rgb: np.ndarray, box: Box, polarity: str = "auto") -> np.ndarray:
    """The digit inside ``box`` of an RGB uint8 (H, W, 3) photo, in MNIST geometry: uint8 (28, 28).

    The ink is measured over the whole photo (its paper brightness, ink colour and ink
    threshold, as the reader does), then cut to the box. ValueError when the box lies outside
    the photo or holds no ink.
    """
    h, w = rgb.shape[:2]
    x, y, bw, bh = (int(v) for v in box)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError(f"the box {tuple(box)} is not inside the {w} x {h} photo")
    grey = illumination.to_grey(rgb[..., ::-1].copy())
    background = illumination.estimate_background(grey)
    if polarity == "auto":
        polarity = illumination.detect_polarity(grey, background)
    ink = illumination.ink_map(grey, background, polarity)
    mask = binarise.binarise_at(ink, binarise.ink_threshold(ink))[y0:y1, x0:x1]
    if not mask.any():
        raise ValueError("the box holds no ink: move it onto the digit, or try another digit colour")
    return to_mnist(np.ascontiguousarray(ink[y0:y1, x0:x1]), np.ascontiguousarray(mask))


def box_polarity(reading: Reading, polarity: str = "auto") -> str:
    """The polarity a box drawn on ``reading``'s photo is cut in: ``polarity`` as chosen, or for
    "auto" the one the photo was read in (``Reading.polarity``): the learned ink stage's, which a
    dark desk around light paper does not fool as a guess from the whole photo is fooled."""
    return reading.polarity if polarity == "auto" else polarity


def _row_of(box: Box, digits: Sequence[DigitReading]) -> int:
    """The row of the digit whose vertical centre is nearest the box's (0 when there are none)."""
    if not digits:
        return 0
    centre = box[1] + box[3] / 2
    return min(digits, key=lambda d: abs(d.box[1] + d.box[3] / 2 - centre)).row


def uncertain_warnings(digits: Sequence[DigitReading], below: float = UNCERTAIN_BELOW) -> list[str]:
    """One line per digit less sure than ``below``, numbered in reading order."""
    return [uncertain_warning(i, d) for i, d in enumerate(digits, 1) if d.confidence < below]


def edit_reading(reading: Reading, classify: Classify, removed: Sequence[int] = (), added: Sequence[Box] = (),
                 polarity: str = "auto") -> Reading:
    """``reading`` with the digits at indices ``removed`` left out and one digit for each box of
    ``added`` (in pixels of ``reading.image``), cut from the photo and classified; digits in
    reading order (row, then left to right), text and confidence recomputed. The warnings are
    the new digits' own (the reading's spoke of digits by their old numbers); the user has
    checked the boxes, so no mark counts as left out. The boxes are cut in ``box_polarity``.
    ValueError from ``digit_from_box``."""
    if reading.image is None:
        raise ValueError("this reading has no photo to draw boxes on")
    kept = [d for i, d in enumerate(reading.digits) if i not in set(removed)]
    new: list[DigitReading] = []
    if added:
        polarity = box_polarity(reading, polarity)
        images = np.stack([digit_from_box(reading.image, box, polarity) for box in added])
        _, probs = classify(images)
        for box, image, p in zip(added, images, probs):
            original = tuple(int(round(v / reading.scale)) for v in box)
            best = top3(p[None])[0]
            new.append(DigitReading(label=best[0][0], confidence=best[0][1], top3=best, box=original,
                                    image=image, row=_row_of(original, kept)))
    digits = sorted(kept + new, key=lambda d: (d.row, d.box[0]))
    rows = sorted({d.row for d in digits})
    digits = [replace(d, row=rows.index(d.row)) for d in digits]
    text = "\n".join("".join(str(d.label) for d in digits if d.row == r) for r in range(len(rows)))
    confidence = float(np.prod([d.confidence for d in digits])) if digits else 0.0
    return replace(reading, text=text, digits=digits, confidence=confidence, warnings=uncertain_warnings(digits),
                   left_out=[])



def suggest_box(reading: Reading) -> Box:
    """Where to start a box for a missing digit, in pixels of ``reading.image``: on the first
    digit-sized mark the reader left out, else just right of the last digit; the last digit's
    size (a quarter of the photo's height, in its middle, when there is none)."""
    h, w = reading.image.shape[:2]
    if not reading.digits:
        side = max(8, h // 4)
        return (max(0, (w - side) // 2), max(0, (h - side) // 2), min(side, w), min(side, h))
    s = reading.scale
    x, y, bw, bh = (int(round(v * s)) for v in reading.digits[-1].box)
    bw, bh = max(4, min(bw, w)), max(4, min(bh, h))
    if reading.left_out:
        x, y = (round(v * s) for v in reading.left_out[0][:2])
        return (min(x, w - bw), min(y, h - bh), bw, bh)
    return (min(x + bw + max(2, bw // 5), w - bw), min(max(0, y), h - bh), bw, bh)


#: The colour of a box being placed (RGB): lilac, unlike the reader's row and "uncertain" colours.
PENDING_COLOUR = (170, 90, 255)


def mark_box(rgb: np.ndarray, box: Box) -> np.ndarray:
    """A copy of RGB uint8 (H, W, 3) ``rgb`` with ``box`` outlined in ``PENDING_COLOUR``, dashed."""
    out = rgb.copy()
    x, y, w, h = (int(v) for v in box)
    t = box_thickness(out.shape) + 1
    dash = max(4, 4 * t)
    corners = [((x, y), (x + w, y)), ((x + w, y), (x + w, y + h)), ((x + w, y + h), (x, y + h)), ((x, y + h), (x, y))]
    for (x0, y0), (x1, y1) in corners:
        length = max(abs(x1 - x0), abs(y1 - y0))
        for s in range(0, length, 2 * dash):
            e = min(s + dash, length)
            p0 = (x0 + (x1 - x0) * s // max(1, length), y0 + (y1 - y0) * s // max(1, length))
            p1 = (x0 + (x1 - x0) * e // max(1, length), y0 + (y1 - y0) * e // max(1, length))
            cv2.line(out, p0, p1, PENDING_COLOUR, t)
    return out
