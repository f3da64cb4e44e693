"""Geometry: the slope a line of digits runs at, and turning the photo so that it runs level.

A number written across a turned sheet, or photographed with the camera tilted, runs at a
slope. Its digits are then turned too, further than the classifier saw in training (it was
taught with turns of up to about 12 degrees), and the sequence reader's row crop holds a
slanted band of them. Measuring the slope from the digit marks and turning the photo back
before the marks are cut and read mends both.
"""

from __future__ import annotations

import cv2
import numpy as np

from .blobs import Blob

#: Slopes up to this (degrees, either way) are measured and undone: a sheet turned further
#: is more likely a photo taken sideways, which EXIF orientation or the Turn tool handles.
#: Beyond 30 degrees, so that a line turned by 30 still is measured when one pair of its
#: digits, being of different heights, seems steeper than the line.
MAX_SLOPE_DEG = 36.0
#: Below this the photo is read as it is: the classifier and both readers' rows were
#: trained with tilts of this size, and a second pass would cost time for nothing.
LEVEL_FROM_DEG = 10.0
#: Pairs whose slopes lie within this many degrees of the line's agree with it.
AGREE_DEG = 4.0
#: Share of the pairs that must agree with the line's slope, or the marks lie on no clear line
#: (their pairs' slopes spread evenly). On the training generators' photos (``ink_pages`` and
#: ``synth``, MNIST training digits), marks giving three pairs or more agree at a third or more but
#: for 5 passes in 127. Random dots, chained into rows, agree more (a median of 0.39) but about level:
#: none of 200 layouts was turned.
LINE_SHARE = 0.25
#: Marks this many digit heights tall or more, or less than the smaller share, are not digits:
#: a frame, a long stroke or a dot would pull the line's slope towards their own.
DIGIT_SIZED = (0.5, 1.6)


def line_slope(rows: list[list[Blob]], digit_height: float) -> float | None:
    """The slope, in degrees, of the lines of digits in ``rows``; None if none is clear.

    rows : the marks found (working px), grouped into rows (``rows.group_rows``, which keeps a
    slanted or wavy line of digits one row); digit_height : their typical height (px).
    Positive slopes run downwards to the right (image rows grow downwards). Every pair of
    digit-sized marks in one row gives a slope, pairs steeper than ``MAX_SLOPE_DEG`` left out; the
    slope is their median (Theil and Sen's estimator: a wavy baseline or a digit written high moves
    it little, where the pair the most others agreed with could be any one of them). At least
    ``LINE_SHARE`` of the pairs must agree with it to ``AGREE_DEG``, or the marks are scattered
    (noise, a texture) and no slope is worth a second pass. A two-digit number has one pair,
    which is enough to undo a steep slope (its few degrees of error the classifier tolerates).
    """
    if digit_height <= 0:
        return None
    slopes = []
    for row in rows:
        marks = [b for b in row if DIGIT_SIZED[0] * digit_height <= b.h <= DIGIT_SIZED[1] * digit_height]
        centres = np.array([(b.cx, b.cy) for b in marks], np.float64).reshape(-1, 2)
        dx = centres[None, :, 0] - centres[:, None, 0]
        dy = centres[None, :, 1] - centres[:, None, 1]
        slopes.append(np.degrees(np.arctan2(dy[dx > 0], dx[dx > 0])))
    slopes = np.concatenate(slopes) if slopes else np.zeros(0)
    slopes = slopes[np.abs(slopes) <= MAX_SLOPE_DEG]
    if len(slopes) == 0:
        return None
    slope = float(np.median(slopes))
    if (np.abs(slopes - slope) <= AGREE_DEG).sum() < LINE_SHARE * len(slopes):
        return None
    return slope


def level_matrix(slope_deg: float, height: int, width: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine map (float64 (2, 3)) that turns an (height, width) image by ``-slope_deg``
    about its centre onto a canvas large enough to hold all of it, and that canvas's (width, height)."""
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), slope_deg, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(np.ceil(height * sin + width * cos)), int(np.ceil(height * cos + width * sin))
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    return matrix, (new_w, new_h)


def turn(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], fill: float | None = None) -> np.ndarray:
    """``image`` (H, W) or (H, W, C), any dtype, mapped by ``matrix`` onto a ``size`` (width, height) canvas.

    The corners the turn uncovers repeat the image's edge (``fill`` None): a black or white fill
    would be a frame of strong edges, which the ink stages would find. A map of what is where
    (the ink probability) takes ``fill`` there instead: nothing is there.
    """
    if fill is None:
        return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=fill)


def box_back(box: tuple[int, int, int, int], matrix: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """The (x, y, w, h) box, in the turned image, as the upright box that holds it in the image
    before the turn (``matrix`` maps that image, (height, width), to the turned one), clipped to it."""
    x, y, w, h = box
    corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], np.float64)
    back = cv2.invertAffineTransform(matrix)
    points = corners @ back[:, :2].T + back[:, 2]
    x0, y0 = np.clip(points.min(axis=0), 0, [width, height])
    x1, y1 = np.clip(points.max(axis=0), 0, [width, height])
    return int(round(x0)), int(round(y0)), max(1, int(round(x1 - x0))), max(1, int(round(y1 - y0)))
