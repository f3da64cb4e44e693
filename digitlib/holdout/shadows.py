"""Light falling on the scene: cast shadows, uneven illumination and glare.

Everything returns an illumination map (H, W, 3) float32 that multiplies the
scene's reflectance, except glare, which adds washed-out light on top.

Shadows are masks of an occluder's outline, blurred by a penumbra that grows
with how far the occluder is from the paper (a hand held high: soft; a phone
lying close: hard). Inside, light drops to ``1 - strength`` and turns bluish:
the shadow is lit by the sky or the ceiling only, not by the lamp.
Occluders: a random polygon, a hand (palm and fingers, entering from an edge),
a phone (a rounded rectangle, entering from an edge), and soft blobs.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .glyphs import value_noise

SHADOW_SHAPES = ("polygon", "hand", "phone", "blob")

# Colour of the light left in a shadow, relative to the direct light, BGR: bluish skylight.
SHADOW_TINT = (1.08, 1.0, 0.92)


def _edge_entry(shape: tuple[int, int], rng: np.random.Generator, target: tuple[float, float]) -> tuple[np.ndarray, float]:
    """A point on the image border and the angle from it towards ``target`` (x, y)."""
    h, w = shape
    side = int(rng.integers(4))
    t = rng.uniform(0.1, 0.9)
    start = np.array([[t * w, -5], [w + 5, t * h], [t * w, h + 5], [-5, t * h]][side], np.float64)
    direction = np.asarray(target, np.float64) - start
    return start, math.atan2(direction[1], direction[0]) + rng.uniform(-0.3, 0.3)


def _capsule(mask: np.ndarray, p: np.ndarray, q: np.ndarray, radius: float) -> None:
    cv2.line(mask, tuple(int(v) for v in np.round(p)), tuple(int(v) for v in np.round(q)), 1.0,
             max(1, int(round(2 * radius))), cv2.LINE_AA)
    for c in (p, q):
        cv2.circle(mask, tuple(int(v) for v in np.round(c)), max(1, int(round(radius))), 1.0, -1, cv2.LINE_AA)


def occluder_mask(shape: tuple[int, int], kind: str, target: tuple[float, float], size_px: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Sharp outline (H, W) float32 0/1 of an occluder's shadow reaching ``target`` (x, y).

    ``size_px`` is the scale of the occluder: a palm's width, a phone's width, a
    polygon's radius. Hands and phones enter from an image edge, as they do.
    """
    h, w = shape
    mask = np.zeros(shape, np.float32)
    if kind == "polygon":
        k = int(rng.integers(4, 9))
        angles = np.sort(rng.uniform(0, 2 * math.pi, k))
        radii = size_px * rng.uniform(0.5, 1.3, k)
        centre = np.asarray(target) + rng.normal(0, size_px * 0.5, 2)
        pts = centre + np.stack([np.cos(angles) * radii, np.sin(angles) * radii], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1.0, cv2.LINE_AA)
    elif kind == "phone":
        start, a = _edge_entry(shape, rng, target)
        d = np.array([math.cos(a), math.sin(a)])
        n = np.array([-d[1], d[0]])
        reach = np.linalg.norm(np.asarray(target) - start) * rng.uniform(0.9, 1.2)
        half = size_px / 2
        tip = start + d * reach
        corners = np.array([start - n * half, tip - n * half, tip + n * half, start + n * half])
        cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 1.0, cv2.LINE_AA)
        _capsule(mask, tip - n * (half - size_px * 0.12), tip + n * (half - size_px * 0.12), size_px * 0.12)
    elif kind == "hand":
        start, a = _edge_entry(shape, rng, target)
        d = np.array([math.cos(a), math.sin(a)])
        n = np.array([-d[1], d[0]])
        reach = np.linalg.norm(np.asarray(target) - start) * rng.uniform(0.6, 0.9)
        palm = start + d * reach
        _capsule(mask, start, palm, size_px * 0.45)  # the forearm and palm
        cv2.ellipse(mask, tuple(int(v) for v in np.round(palm)), (int(size_px * 0.55), int(size_px * 0.45)),
                    math.degrees(a), 0, 360, 1.0, -1, cv2.LINE_AA)
        spread = rng.uniform(0.1, 0.35)
        for f, length in enumerate((0.75, 0.95, 1.0, 0.85)):
            angle = a + (f - 1.5) * spread
            base = palm + d * size_px * 0.35 + n * (f - 1.5) * size_px * 0.22
            tip = base + np.array([math.cos(angle), math.sin(angle)]) * size_px * length
            _capsule(mask, base, tip, size_px * 0.09)
        thumb_side = 1 if rng.random() < 0.5 else -1
        _capsule(mask, palm + n * thumb_side * size_px * 0.4,
                 palm + n * thumb_side * size_px * 0.9 + d * size_px * 0.3, size_px * 0.11)
    elif kind == "blob":
        field = value_noise(shape, size_px, rng)
        mask = (field > rng.uniform(0.45, 0.65)).astype(np.float32)
    else:
        raise ValueError(f"unknown shadow shape {kind!r}")
    return mask


def smooth(field: np.ndarray, sigma: float) -> np.ndarray:
    """``field`` (H, W) float32 Gaussian-blurred by ``sigma`` px; wide blurs run on a
    shrunken copy (the result is smooth anyway), which keeps them cheap."""
    if sigma <= 4:
        return cv2.GaussianBlur(field, (0, 0), max(0.3, sigma))
    factor = sigma / 2.0
    h, w = field.shape
    small = cv2.resize(field, (max(2, int(w / factor)), max(2, int(h / factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.0), (w, h), interpolation=cv2.INTER_LINEAR)


def shadow_light(mask: np.ndarray, strength: float, penumbra_px: float) -> np.ndarray:
    """Illumination (H, W, 3) float32: 1 outside ``mask`` ((H, W) 0-1), ``1 - strength``
    (tinted bluish) inside, blurred over ``penumbra_px``."""
    soft = smooth(mask, penumbra_px / 2.5) if penumbra_px > 0 else mask
    level = 1.0 - strength * soft
    tint = np.asarray(SHADOW_TINT, np.float32)
    # Deeper shadow, bluer light; clipped so no channel gets brighter than outside.
    return np.minimum(1.0, level[..., None] * (1 + (tint - 1) * soft[..., None])).astype(np.float32)


def uneven_light(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """Illumination (H, W, 3) float32: a lamp off to one side (a linear fall-off), lens
    vignetting and a warm or cool colour cast; ``strength`` 0-1 sets the darkest corner."""
    h, w = shape
    # Worked out on a grid 8 times coarser and enlarged: the light varies slowly.
    sh, sw = max(2, h // 8), max(2, w // 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    yy, xx = yy * (h / sh), xx * (w / sw)
    a = rng.uniform(0, 2 * math.pi)
    ramp = ((xx / w - 0.5) * math.cos(a) + (yy / h - 0.5) * math.sin(a)) + 0.5
    r2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2
    light = 1.0 - strength * (0.7 * np.clip(ramp, 0, 1) + 0.3 * r2)
    cast = 1.0 + rng.uniform(-0.08, 0.08, 3).astype(np.float32) * strength
    light = cv2.resize(light.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return light[..., None] * cast[None, None, :]


def glare(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` (H, W, 3) float32 with a soft specular hotspot mixed in: shiny paper
    under a lamp, which washes contrast out where it falls."""
    h, w = image.shape[:2]
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    sigma = rng.uniform(0.1, 0.3) * max(h, w)
    xx = np.arange(w, dtype=np.float32)[None, :]
    yy = np.arange(h, dtype=np.float32)[:, None]
    spot = strength * np.exp(-((xx - cx) ** 2) / (2 * sigma ** 2)) * np.exp(-((yy - cy) ** 2) / (2 * sigma ** 2))
    return image * (1 - spot[..., None]) + spot[..., None]
