"""MNIST geometry: a digit's ink cut, scaled, stroke-matched and centred as MNIST's digits are.

``ink`` is uint8 (H, W), ink bright on black; masks bool; the result uint8 (28, 28).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .binarise import quantile_of_counts, stroke_width
from .blobs import Blob


MNIST_STROKE_PX = 2.4  # typical pen-stroke width of an MNIST digit in its 20x20 box

MNIST_CENTRE = (14.0, 14.0)  # mean centre of mass (x, y) of MNIST's test digits, in pixel indices



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


def normalised(blobs: list[Blob], ink: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28): each blob's ``mnist``, normalised now where it has none
    yet and kept there, so a digit the splitting classified is not normalised again."""
    for b in blobs:
        if b.mnist is None:
            b.mnist = blob_to_mnist(b, ink)
    return np.stack([b.mnist for b in blobs])
