"""Working size, grey, paper background and polarity: from a photo to an ink-strength map.

``bgr`` is uint8 (H, W, 3); ``grey`` uint8 (H, W); ``ink`` uint8 (H, W), ink bright (255)
on black whatever the photo's polarity.
"""

from __future__ import annotations

import cv2
import numpy as np

from .binarise import stroke_width


def working_scale(height: int, width: int, max_side: int, min_side: int = 320) -> float:
    """The factor that brings the image to a working size.

    Large photos are shrunk so the longer side is ``max_side`` (time and memory
    stay bounded); tiny images are enlarged so the longer side is at least
    ``min_side`` (morphology needs a few pixels per stroke).
    """
    longest = max(height, width)
    if longest > max_side:
        return max_side / longest
    if longest < min_side:
        return min(8.0, min_side / longest)
    return 1.0


def resize_by(img: np.ndarray, scale: float) -> np.ndarray:
    """Resize by ``scale`` (area averaging to shrink, cubic to enlarge)."""
    if scale == 1.0:
        return img
    h, w = img.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def to_grey(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> grey uint8 (H, W)."""
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def estimate_background(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness at every pixel, uint8 (H, W).

    A median over a window much larger than a pen stroke ignores the writing
    (dark or light: the median does not care) and keeps the slow changes of
    light: gradients, vignetting, soft shadows. Computed on a small copy for speed.
    """
    h, w = grey.shape
    small_side = 96
    f = small_side / max(h, w)
    small = cv2.resize(grey, (max(3, round(w * f)), max(3, round(h * f))), interpolation=cv2.INTER_AREA)
    k = max(3, (min(small.shape) // 3) | 1)
    k = min(k, 31)
    bg = cv2.medianBlur(small, k)
    # In float: OpenCV's bit-exact uint8 Gaussian is six times slower at this size.
    bg = cv2.GaussianBlur(bg.astype(np.float32), (0, 0), k / 4)
    bg = np.clip(bg + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)


def detect_polarity(grey: np.ndarray, background: np.ndarray) -> str:
    """"dark" for dark ink on light paper, "light" for light strokes on a dark ground.

    Whichever side of the background holds more strong deviation is the ink.
    """
    darker = _excess_over(cv2.subtract(background, grey), 20)  # saturating: negatives are 0
    lighter = _excess_over(cv2.subtract(grey, background), 20)
    # Dark ink on paper is by far the common case: only a clear majority flips it.
    return "light" if lighter > 2 * darker else "dark"


def polarity_of_ink(grey: np.ndarray, ink: np.ndarray) -> str | None:
    """"dark" where the pixels of a bool (H, W) ``ink`` mask are darker on uint8 (H, W) ``grey``
    than the paper right around them, "light" where lighter; None for an empty mask.

    The learned ink stage knows where the strokes are whatever their polarity, so this needs no
    guess from the whole photo's brightness (``detect_polarity``), which a dark desk around light
    paper, or a bright shadow, tips the wrong way.
    """
    if not ink.any():
        return None
    m = ink.astype(np.uint8)
    # All of it measured within the ink's bounding box and a band around it: the same numbers, a
    # fraction of the work on a large photo, where the digits are a small part of it.
    x, y, w, h = cv2.boundingRect(m)
    # The surround: a band about as wide as two strokes just outside the ink, where the paper
    # (or board) the strokes lie on shows, not the desk or a shadow a hand's width away.
    reach = 2 * max(1, round(stroke_width(m[y:y + h, x:x + w]))) + 1
    x0, y0 = max(0, x - reach), max(0, y - reach)
    m, grey = m[y0:y + h + reach, x0:x + w + reach], grey[y0:y + h + reach, x0:x + w + reach]
    around = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))) - m
    if not around.any():
        return None
    return "dark" if cv2.mean(grey, m)[0] < cv2.mean(grey, around)[0] else "light"


def _excess_over(values: np.ndarray, floor: int) -> float:
    """Sum of max(0, v - floor) over uint8 (H, W) ``values``.

    Thresholding and counting, not ``cv2.subtract(values, floor)``: OpenCV's
    array-and-scalar arithmetic is about fifty times slower than its array-and-array.
    """
    above = cv2.threshold(values, floor, 0, cv2.THRESH_TOZERO)[1]
    return cv2.sumElems(above)[0] - floor * cv2.countNonZero(above)


def ink_map(grey: np.ndarray, background: np.ndarray, polarity: str) -> np.ndarray:
    """Flatten the illumination: ink strength uint8 (H, W), 255 = full ink, 0 = paper.

    Dark ink: (paper - pixel) / paper, i.e. the grey image divided by the
    paper's brightness, so a shadowed word is as strong as a lit one. Light ink:
    (pixel - ground) / (255 - ground).
    """
    # Saturating uint8 arithmetic: negative differences (paper brighter than its
    # estimate) become 0. The floor on the divisor keeps very dark paper (or a
    # bright ground) from turning sensor noise into strong "ink".
    if polarity == "dark":
        diff, paper = cv2.subtract(background, grey), background
    else:
        diff, paper = cv2.subtract(grey, background), cv2.bitwise_not(background)
    # np.maximum, not cv2.max: OpenCV's array-and-scalar arithmetic is slow (see _excess_over).
    return cv2.divide(diff, np.maximum(paper, np.uint8(64)), scale=255.0)
