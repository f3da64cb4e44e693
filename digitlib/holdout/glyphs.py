"""Pen strokes: MNIST test digits and separator marks as ink coverage maps.

A glyph is a float32 (h, w) map of ink coverage in [0, 1]. Digits come from the
MNIST **test** split only (the classifiers learn from the training split). The
pen is modelled by its nib width in pixels, not by growing or shrinking MNIST's
own strokes: the digit is upscaled smoothly, its stroke centre is found as the
level set of the smoothed intensity, and the stroke is redrawn at the nib width
by thresholding the distance to that centre. So a tall digit written with a
ballpoint stays thin, as on paper, and a marker makes even a small digit bold.

Pens differ in more than width: a ballpoint skips a little (pressure varies
along the stroke), a marker is uniform and soft-edged, a pencil is grainy and
grey. Those are applied in ``pen_texture``; the colour is chosen by ``paint``
in ``paper`` (inks absorb light, see ``paper.absorb``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import cv2
import numpy as np

from ..data import load_mnist, resolve_data_dir

PEN_KINDS = ("ballpoint", "gel", "marker", "pencil", "chalk")

# Intensity (0-1) of the upscaled MNIST digit taken as its stroke centre region;
# MNIST strokes peak near 1.0 and fall off over about 1 px of the 28x28.
STROKE_CORE_LEVEL = 0.55

# Centre-line points this many times wider than the digit's median stroke are in a blob;
# more than BLOB_SHARE of them and the digit is not thinned (see redraw_with_nib).
BLOB_WIDTH_RATIO = 1.8
BLOB_SHARE = 0.08

MNIST_INK_LEVEL = 40  # uint8 level above which an MNIST pixel counts as ink when cropping


@dataclass(frozen=True)
class MnistTest:
    """The MNIST test split: ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,), and
    ``by_digit[d]``, the indices of the images of digit d."""

    images: np.ndarray
    labels: np.ndarray
    by_digit: tuple[np.ndarray, ...]


@functools.lru_cache(maxsize=2)
def _mnist_test_at(folder: str) -> MnistTest:
    split = load_mnist(train=False, root=folder)
    images = split.images.numpy()
    labels = split.labels.numpy()
    return MnistTest(images, labels, tuple(np.flatnonzero(labels == d) for d in range(10)))


def mnist_test(root: str | os.PathLike | None = None) -> MnistTest:
    """The MNIST test split (cached per folder; ``root`` as in ``digitlib.data.resolve_data_dir``)."""
    return _mnist_test_at(str(resolve_data_dir(root)))


def _nib_kernel(width_px: float) -> np.ndarray:
    d = max(1, int(round(width_px)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


def thin(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide centre lines (H, W) uint8 0/1 of ``mask`` (H, W) uint8 0/1 (Zhang-Suen thinning)."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = img
            n = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:], p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]
            count = sum(x.astype(np.int32) for x in n)
            ring = n + n[:1]
            transitions = sum(((a == 0) & (b == 1)).astype(np.int32) for a, b in zip(ring[:-1], ring[1:]))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                side = ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
            else:
                side = ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
            remove = (p[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & side
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1]


def redraw_with_nib(intensity: np.ndarray, nib_px: float) -> np.ndarray:
    """Stroke coverage (h, w) float32 in [0, 1] of a pen ``nib_px`` wide following the
    centre of ``intensity`` ((h, w) float32 in [0, 1], a smoothly upscaled digit).

    The stroke region (intensity above STROKE_CORE_LEVEL) is thinned to its centre
    lines, then the pen is drawn along them with an antialiased edge of half a pixel.
    """
    core = (intensity >= STROKE_CORE_LEVEL).astype(np.uint8)
    if not core.any():
        core = (intensity >= intensity.max() * 0.5).astype(np.uint8)
    centre = thin(core)
    # A digit written so boldly that a loop filled in (a blob in an 8 or a 9) would lose the
    # loop when thinned: a person reads the blob as a loop, a thin line as another digit.
    # Such digits keep their own shape, as if written with a broad pen.
    half_widths = cv2.distanceTransform(np.pad(core, 1), cv2.DIST_L2, 5)[1:-1, 1:-1][centre > 0]
    if half_widths.size and (half_widths > BLOB_WIDTH_RATIO * np.median(half_widths)).mean() > BLOB_SHARE:
        return np.clip((intensity - 0.3) / 0.3, 0.0, 1.0).astype(np.float32)
    to_centre = cv2.distanceTransform((1 - centre).astype(np.uint8), cv2.DIST_L2, 5)
    half = max(0.5, nib_px / 2.0)
    return np.clip(half + 0.5 - to_centre, 0.0, 1.0).astype(np.float32)


def digit_glyph(mnist_digit: np.ndarray, height_px: float, nib_px: float) -> np.ndarray:
    """Coverage (h, w) float32 of one MNIST digit ((28, 28) uint8) written ``height_px``
    tall with a nib ``nib_px`` wide. Its box is the digit's ink, cropped."""
    ys, xs = np.nonzero(mnist_digit > MNIST_INK_LEVEL)
    crop = mnist_digit[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.float32) / 255.0
    scale = max(0.3, height_px / crop.shape[0])
    w = max(2, int(round(crop.shape[1] * scale)))
    h = max(2, int(round(crop.shape[0] * scale)))
    # A border so the pen does not get clipped at the crop's edges.
    pad = int(np.ceil(nib_px)) + 2
    crop = np.pad(crop, 1)
    up = cv2.resize(crop, (w + 2 * int(round(scale)), h + 2 * int(round(scale))), interpolation=cv2.INTER_CUBIC)
    up = cv2.GaussianBlur(np.clip(up, 0, 1), (0, 0), max(0.6, scale * 0.35))
    up = up / max(1e-6, float(up.max()))
    return redraw_with_nib(np.pad(up, pad), nib_px)


def separator_glyph(kind: str, height_px: float, nib_px: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A separator written by hand: '.', ',', '-', '/' or '=' (cheque fill).

    Returns (coverage (h, w) float32, baseline offset): the offset is where the
    glyph's top sits, in digit heights below the digits' top (a dot sits on the
    baseline, a dash at mid height).
    """
    size = int(round(height_px))
    canvas = np.zeros((size + 8, size + 8), np.uint8)
    t = max(1, int(round(nib_px)))
    c = size // 2 + 4
    shake = lambda: int(round(rng.normal(0, size * 0.03)))  # noqa: E731 - a hand never draws straight
    if kind == ".":
        r = max(1, int(round(nib_px * rng.uniform(0.6, 1.0))))
        cv2.circle(canvas, (c, c), r, 255, -1, cv2.LINE_AA)
        top = 0.92
    elif kind == ",":
        r = max(1, int(round(nib_px * 0.8)))
        cv2.circle(canvas, (c, c), r, 255, -1, cv2.LINE_AA)
        cv2.line(canvas, (c + r // 2, c), (c - size // 8 + shake(), c + size // 5), 255, t, cv2.LINE_AA)
        top = 0.9
    elif kind == "-":
        half = int(size * rng.uniform(0.15, 0.3))
        cv2.line(canvas, (c - half, c + shake()), (c + half, c + shake()), 255, t, cv2.LINE_AA)
        top = 0.5
    elif kind == "/":
        cv2.line(canvas, (c - size // 4 + shake(), c + size // 2 - 2), (c + size // 4 + shake(), c - size // 2 + 2), 255, t, cv2.LINE_AA)
        top = 0.0
    elif kind == "=":
        half = int(size * rng.uniform(0.2, 0.35))
        for dy in (-size // 9, size // 9):
            cv2.line(canvas, (c - half, c + dy + shake()), (c + half, c + dy + shake()), 255, t, cv2.LINE_AA)
        top = 0.4
    else:
        raise ValueError(f"unknown separator {kind!r}")
    ys, xs = np.nonzero(canvas)
    cut = canvas[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    return np.pad(cut.astype(np.float32) / 255.0, 2), top


def value_noise(shape: tuple[int, int], cell_px: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field (h, w) float32 in about [0, 1]: random values on a grid of
    cells ``cell_px`` wide, interpolated bicubically."""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / cell_px)) + 2), max(2, int(np.ceil(w / cell_px)) + 2)
    grid = rng.random((gh, gw)).astype(np.float32)
    field = cv2.resize(grid, (int(gw * cell_px), int(gh * cell_px)), interpolation=cv2.INTER_CUBIC)
    return np.clip(field[:h, :w], 0.0, 1.0)


def pen_texture(coverage: np.ndarray, pen: str, rng: np.random.Generator) -> np.ndarray:
    """How densely the pen laid ink down, per pixel: (h, w) float32 in [0, 1] to
    multiply the coverage of a whole page of strokes by.

    ballpoint: pressure varies along the stroke (0.55-1); gel: even; marker: even
    with a slightly soft edge (done by the caller's blur); pencil: graphite grain
    on paper tooth (0.25-0.9); chalk: broken, grainy strokes (0.3-1).
    """
    shape = coverage.shape
    if pen == "ballpoint":
        return 0.55 + 0.45 * value_noise(shape, rng.uniform(6, 20), rng)
    if pen == "gel" or pen == "marker":
        return np.full(shape, rng.uniform(0.9, 1.0), np.float32)
    grain = rng.random(shape).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.7)
    grain = (grain - grain.min()) / max(1e-6, float(np.ptp(grain)))
    if pen == "pencil":
        return 0.25 + 0.65 * grain
    if pen == "chalk":
        return np.clip(0.3 + 0.9 * grain * (0.6 + 0.4 * value_noise(shape, 12, rng)), 0, 1)
    raise ValueError(f"unknown pen {pen!r}")
