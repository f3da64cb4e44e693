"""Drawing for the stage images and the annotated photo: boxes, labels, masks, digit strips.

Images are RGB uint8 (H, W, 3) or grey uint8 (H, W); masks bool (H, W).
"""

from __future__ import annotations

import cv2
import numpy as np


BOX_COLOURS = [(0, 170, 80), (30, 110, 230), (220, 120, 0), (170, 40, 200)]  # one per row, RGB
UNCERTAIN_COLOUR = (230, 60, 20)


def box_thickness(shape: tuple[int, ...]) -> int:
    """Line width in px for boxes on an image of ``shape`` (H, W[, C]): 1 px per 400 px of its longer side."""
    return max(1, round(max(shape[:2]) / 400))


def draw_boxes(rgb: np.ndarray, digits, uncertain_below: float, scale: float = 1.0) -> np.ndarray:
    """Copy of an RGB uint8 (H, W, 3) image with each digit's box and label drawn on it.

    ``digits`` are objects with ``box`` (x, y, w, h in original pixels, divided
    by ``scale`` relative to ``rgb``), ``label``, ``row`` and ``confidence``; those
    less sure than ``uncertain_below`` are drawn in orange-red.
    """
    out = rgb.copy()
    thickness = box_thickness(out.shape)
    font = max(0.4, max(out.shape[:2]) / 900)
    for d in digits:
        x, y, w, h = (round(v * scale) for v in d.box)
        colour = BOX_COLOURS[d.row % len(BOX_COLOURS)] if d.confidence >= uncertain_below else UNCERTAIN_COLOUR
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        label = str(d.label)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, thickness)
        ty = y - 3 if y - th - 6 >= 0 else y + h + th + 3
        cv2.rectangle(out, (x, ty - th - 3), (x + tw + 4, ty + base - 1), colour, -1)
        cv2.putText(out, label, (x + 2, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255),
                    thickness, cv2.LINE_AA)
    return out


def mask_to_image(mask: np.ndarray) -> np.ndarray:
    """bool mask -> uint8 image, ink white on black (for display)."""
    return mask.astype(np.uint8) * 255


def draw_candidates(rgb: np.ndarray, blobs, left_out=()) -> np.ndarray:
    """Copy of an RGB uint8 (H, W, 3) image with each candidate's box in its row's colour, and
    the boxes (x, y, w, h) of ``left_out`` marks crossed out in ``UNCERTAIN_COLOUR``.

    ``blobs`` have ``x``, ``y``, ``w``, ``h`` in ``rgb``'s pixels and a ``row``.
    """
    out = rgb.copy()
    thickness = box_thickness(out.shape)
    for b in blobs:
        colour = BOX_COLOURS[b.row % len(BOX_COLOURS)]
        cv2.rectangle(out, (b.x, b.y), (b.x + b.w, b.y + b.h), colour, thickness)
    for x, y, w, h in left_out:
        cv2.rectangle(out, (x, y), (x + w, y + h), UNCERTAIN_COLOUR, thickness)
        cv2.line(out, (x, y), (x + w, y + h), UNCERTAIN_COLOUR, thickness)
    return out


def montage(digits: list[np.ndarray], zoom: int = 3, gap: int = 4) -> np.ndarray:
    """A row of 28x28 digits side by side, enlarged, on a grey strip (uint8 grey)."""
    size = 28 * zoom
    out = np.full((size + 2 * gap, len(digits) * (size + gap) + gap), 90, np.uint8)
    for i, d in enumerate(digits):
        x = gap + i * (size + gap)
        out[gap : gap + size, x : x + size] = cv2.resize(d, (size, size), interpolation=cv2.INTER_NEAREST)
    return out
