"""The camera: where the sheet lands in the frame, and what the sensor and codec do.

``place_sheet`` finds a homography from sheet pixels to frame pixels: the sheet is
scaled, turned (rotation), and its four corners are pushed independently
(perspective, a camera held at an angle), checking that the written number
lands wholly inside the frame with a margin; its edges and corners may show or
not. ``expose`` then works in linear light: exposure, a tone curve, noise whose
variance grows with the signal (shot noise) plus a floor (read noise), a lens
blur (a defocus disc, or motion along a line), and ``encode`` shrinks the frame
(low resolution) and round-trips it through JPEG.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .paper import GAMMA


def _rotation(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def place_number(number_box: tuple[int, int, int, int], frame_size: tuple[int, int], rotation_deg: float,
                 scale: float, perspective: float, rng: np.random.Generator, margin: float = 0.05) -> np.ndarray:
    """Homography (3, 3) float64 from sheet px to frame px.

    ``number_box`` is (x0, y0, x1, y1) of the number on the sheet; ``frame_size`` is
    (width, height). The sheet is scaled by ``scale``, turned by ``rotation_deg``
    (clockwise positive) about the number's centre and moved so that the number lands
    at a random spot; then each corner of the number's box is pushed by up to
    ``perspective`` of its longer side (a camera held at an angle), which bends the
    whole sheet. While the number would leave the frame (less ``margin`` of its size) the
    scale shrinks by 10 % and the spot is drawn again.
    """
    fw, fh = frame_size
    x0, y0, x1, y1 = number_box
    box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    centre = box.mean(axis=0)
    rot = _rotation(rotation_deg)
    lo = np.array([margin * fw, margin * fh])
    hi = np.array([(1 - margin) * fw, (1 - margin) * fh])
    for _attempt in range(40):
        placed = (box - centre) @ rot.T * scale
        room = (hi - lo) - np.ptp(placed, axis=0)
        if (room > 0).all():
            spot = (lo + hi) / 2 + rng.uniform(-0.5, 0.5, 2) * room * 0.9
            push = rng.uniform(-1, 1, (4, 2)) * perspective * float(np.ptp(placed, axis=0).max())
            target = placed + spot + push
            h = cv2.getPerspectiveTransform(box.astype(np.float32), target.astype(np.float32))
            seen = cv2.perspectiveTransform(box[None].astype(np.float32), h)[0]
            if (seen >= lo).all() and (seen <= hi).all():
                return h.astype(np.float64)
        scale *= 0.9
    raise ValueError("the number does not fit in the frame")


def frame_in_sheet(homography: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray | None:
    """The frame's corners (4, 2) in sheet px, or None when part of the frame sees past
    the sheet plane's horizon (a steep perspective)."""
    fw, fh = frame_size
    corners = np.array([[0, 0, 1], [fw, 0, 1], [fw, fh, 1], [0, fh, 1]], np.float64)
    back = corners @ np.linalg.inv(homography).T
    # The number is in view, so the frame reaches the sheet's side of the horizon; all four
    # corners on one side (the same sign of w) means the whole frame is.
    if not ((back[:, 2] > 1e-9).all() or (back[:, 2] < -1e-9).all()):
        return None
    return back[:, :2] / back[:, 2:]


def warp_onto(background: np.ndarray, sheet: np.ndarray, homography: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sheet`` (h, w, 3) float32 laid over ``background`` (H, W, 3) float32 through ``homography``.

    Returns (frame (H, W, 3) float32, sheet mask (H, W) float32 0-1). Frames are
    rendered at twice the output size and shrunk by ``encode``, so the bilinear
    warp does not alias thin lines.
    """
    fh, fw = background.shape[:2]
    warped = cv2.warpPerspective(sheet, homography, (fw, fh), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    ones = np.ones(sheet.shape[:2], np.float32)
    mask = cv2.warpPerspective(ones, homography, (fw, fh), flags=cv2.INTER_LINEAR, borderValue=0.0)
    return background * (1 - mask[..., None]) + warped * mask[..., None], mask


def contact_shadow(mask: np.ndarray, width_px: float) -> np.ndarray:
    """Illumination (H, W) float32: the thin soft shadow a sheet casts on the desk along its edge."""
    outside = 1.0 - mask
    grown = cv2.GaussianBlur(mask, (0, 0), max(0.5, width_px))
    return 1.0 - 0.35 * grown * outside


def lens_blur(image: np.ndarray, kind: str, amount_px: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` blurred: "defocus" (a disc of radius ``amount_px``) or "motion" (a line of that length)."""
    if amount_px < 0.3:
        return image
    r = int(math.ceil(amount_px))
    kernel = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    if kind == "defocus":
        cv2.circle(kernel, (r, r), max(1, int(round(amount_px))), 1.0, -1, cv2.LINE_AA)
    else:
        a = rng.uniform(0, math.pi)
        d = np.array([math.cos(a), math.sin(a)]) * amount_px
        cv2.line(kernel, tuple(int(v) for v in np.round(r - d)), tuple(int(v) for v in np.round(r + d)), 1.0, 1, cv2.LINE_AA)
    kernel /= kernel.sum()
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def expose(linear: np.ndarray, exposure: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Linear-light scene (H, W, 3) float32 to a gamma-encoded frame (H, W, 3) float32 0-1:
    scaled by ``exposure``, with shot plus read noise (``noise`` = std at mid grey) and a
    little colour noise, then the tone curve."""
    signal = np.clip(linear * exposure, 0, None)
    if noise > 0:
        std = noise * np.sqrt(signal + 0.02)
        grain = rng.standard_normal(signal.shape).astype(np.float32)
        luma = rng.standard_normal(signal.shape[:2]).astype(np.float32)[..., None]
        signal = signal + std * (0.6 * luma + 0.4 * grain)
    return np.clip(signal, 0, 1) ** (1 / GAMMA)


def shrink(frame: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """``frame`` (H, W, 3) float32 averaged down to ``out_size`` (width, height): the sensor's pixels."""
    if (frame.shape[1], frame.shape[0]) == tuple(out_size):
        return frame
    return cv2.resize(frame, tuple(out_size), interpolation=cv2.INTER_AREA)


def encode(frame: np.ndarray, jpeg_quality: int | None) -> np.ndarray:
    """Gamma-encoded float frame (H, W, 3) 0-1 to a BGR uint8 image, through a JPEG of
    ``jpeg_quality`` (None: stored losslessly)."""
    image = np.clip(np.round(frame * 255), 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return image
