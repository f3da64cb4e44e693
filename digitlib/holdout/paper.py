"""Surfaces: the sheet written on, its printed patterns, and the desk it lies on.

Everything here is linear reflectance: float32 BGR in [0, 1], (H, W, 3), before any
light falls on it (``shadows``) or a camera sees it (``camera``). Colour constants
are written as they look in a photo (gamma-encoded) and turned into reflectance
by ``linear`` where they are used. Ink is subtractive:
``absorb`` multiplies the surface by the ink's transmittance raised to the
coverage (Beer-Lambert), so blue ink on a yellow page turns green-black as it
would, and two strokes crossing are darker than one. Chalk on a board is the
opposite, a layer of white on top (``cover``).

Printed patterns on the sheet (ruled, grid, dotted, security guilloche) are
drawn in the sheet's own pixels, so the camera later bends them with the page.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .glyphs import value_noise

GAMMA = 2.2  # photos store light gamma-encoded; reflectance and light add up linearly

RULINGS = ("plain", "ruled", "grid", "dotted", "guilloche")
DESKS = ("wood", "painted", "fabric", "stone", "dark")

# Paper colours, BGR reflectance: white, cream, recycled grey, yellow legal pad, pale blue, pink form.
PAPER_COLOURS = ((0.93, 0.94, 0.94), (0.82, 0.9, 0.93), (0.8, 0.82, 0.82), (0.62, 0.9, 0.95),
                 (0.93, 0.88, 0.8), (0.86, 0.84, 0.95))
# Desk colours, BGR reflectance: oak, walnut, grey laminate, green felt, blue, red, black.
DESK_COLOURS = ((0.35, 0.55, 0.7), (0.15, 0.25, 0.38), (0.5, 0.5, 0.48), (0.25, 0.45, 0.2),
                (0.55, 0.3, 0.15), (0.2, 0.2, 0.55), (0.08, 0.08, 0.09))
# Colours of printed rulings, BGR: light blue, grey, pale green, light red (margins).
RULING_COLOURS = ((0.85, 0.7, 0.45), (0.6, 0.6, 0.6), (0.6, 0.8, 0.55), (0.55, 0.55, 0.9))
# Board colours, BGR: black, slate, green chalkboard.
BOARD_COLOURS = ((0.06, 0.06, 0.06), (0.16, 0.15, 0.14), (0.14, 0.24, 0.12))


def linear(colour_bgr) -> np.ndarray:
    """A colour as it looks (gamma-encoded BGR 0-1) as linear reflectance, float32 (3,)."""
    return np.clip(np.asarray(colour_bgr, np.float32), 0, 1) ** GAMMA


def absorb(surface: np.ndarray, coverage: np.ndarray, ink_bgr, density: float) -> np.ndarray:
    """``surface`` (H, W, 3) float32 seen through ink that looks ``ink_bgr`` on white (gamma-encoded
    BGR 0-1), laid at ``coverage`` (H, W) float32 0-1 and ``density`` (1 = as the colour says).

    Transmittance ``T ** (coverage * density)`` per channel, looked up in a table of
    256 coverage levels (the exponential per pixel is the slowest step otherwise).
    """
    transmittance = np.clip(linear(ink_bgr), 1e-3, 1.0)
    levels = np.arange(256, dtype=np.float32)[:, None] / 255.0
    table = (transmittance[None, :] ** (levels * density)).astype(np.float32)  # (256, 3)
    index = np.clip(coverage * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return surface * table[index]


def cover(surface: np.ndarray, coverage: np.ndarray, colour_bgr) -> np.ndarray:
    """``surface`` (H, W, 3) float32 with an opaque layer that looks ``colour_bgr`` at ``coverage`` (H, W) on top (chalk)."""
    a = coverage[..., None]
    return surface * (1 - a) + linear(colour_bgr)[None, None, :] * a


def _fibres(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Paper grain: (H, W) float32 around 1.0, fine speckle plus a few blotches."""
    speck = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 0.8)
    blotch = value_noise(shape, max(shape) / 6, rng) - 0.5
    return 1.0 + strength * (0.5 * speck + blotch)


def sheet(shape: tuple[int, int], rng: np.random.Generator, colour: tuple[float, float, float], grain: float) -> np.ndarray:
    """A blank sheet (H, W, 3) float32 of ``colour`` with paper grain of relative strength ``grain``."""
    return np.clip(linear(colour)[None, None, :] * _fibres(shape, rng, grain)[..., None], 0, 1)


def rule(page: np.ndarray, kind: str, pitch_px: float, line_px: float, origin: tuple[float, float],
         rng: np.random.Generator, darkness: float) -> np.ndarray:
    """``page`` with a printed pattern: "ruled" (lines ``pitch_px`` apart, sometimes a red margin),
    "grid" (squares), "dotted" (a dot grid) or "guilloche" (interlaced waves of a security
    print), printed ``line_px`` wide (dots twice that). ``origin`` (x, y) is a point the lines pass through, so a number can sit on a line.
    ``darkness`` 0-1 scales how much the print absorbs."""
    if kind == "plain":
        return page
    h, w = page.shape[:2]
    print_cov = np.zeros((h, w), np.float32)
    colour = RULING_COLOURS[int(rng.integers(len(RULING_COLOURS)))]
    thickness = max(1, int(round(line_px)))
    ox, oy = origin
    if kind in ("ruled", "grid"):
        for y in np.arange(oy % pitch_px, h, pitch_px):
            cv2.line(print_cov, (0, int(round(y))), (w, int(round(y))), 1.0, thickness, cv2.LINE_AA)
        if kind == "grid":
            for x in np.arange(ox % pitch_px, w, pitch_px):
                cv2.line(print_cov, (int(round(x)), 0), (int(round(x)), h), 1.0, thickness, cv2.LINE_AA)
        page = absorb(page, print_cov, colour, darkness)
        if kind == "ruled" and rng.random() < 0.4:
            margin = np.zeros((h, w), np.float32)
            x = int(w * rng.uniform(0.06, 0.12))
            cv2.line(margin, (x, 0), (x, h), 1.0, thickness, cv2.LINE_AA)
            page = absorb(page, margin, RULING_COLOURS[3], darkness)
        return page
    if kind == "dotted":
        radius = max(1, int(round(line_px)))
        for y in np.arange(oy % pitch_px, h, pitch_px):
            for x in np.arange(ox % pitch_px, w, pitch_px):
                cv2.circle(print_cov, (int(round(x)), int(round(y))), radius, 1.0, -1, cv2.LINE_AA)
        return absorb(page, print_cov, colour, darkness)
    if kind == "guilloche":
        return absorb(page, guilloche(page.shape[:2], pitch_px, rng), _pastel(rng), darkness)
    raise ValueError(f"unknown ruling {kind!r}")


def _pastel(rng: np.random.Generator) -> tuple[float, float, float]:
    hue = rng.uniform(0, 180)
    hsv = np.uint8([[[hue, rng.uniform(60, 140), 235]]])
    return tuple(float(c) / 255 for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def guilloche(shape: tuple[int, int], pitch_px: float, rng: np.random.Generator) -> np.ndarray:
    """Security-print coverage (H, W) float32 0-1: families of thin phase-shifted sine
    curves (the interlaced rosette bands on cheques and banknotes), as a field.

    Each family is the zero set of ``sin(k * (y - A sin(x / L + phase)) + c)``,
    drawn as thin lines where the value is close to zero.
    """
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros(shape, np.float32)
    for _ in range(int(rng.integers(2, 4))):
        k = 2 * math.pi / (pitch_px * rng.uniform(0.25, 0.6))
        amp = pitch_px * rng.uniform(0.5, 2.0)
        period = pitch_px * rng.uniform(1.0, 3.5)
        angle = rng.uniform(-0.4, 0.4)
        u = xx * math.cos(angle) + yy * math.sin(angle)
        v = -xx * math.sin(angle) + yy * math.cos(angle)
        wave = np.sin(k * (v - amp * np.sin(u / period + rng.uniform(0, 6.3))))
        # Near a zero crossing |wave| grows by about k per px across the line: this keeps lines ~line_px wide.
        line_px = rng.uniform(0.8, 1.6)
        lines = np.clip(1.0 - np.abs(wave) / (k * line_px), 0, 1)
        out = np.maximum(out, lines * rng.uniform(0.5, 1.0))
    return out


def desk(shape: tuple[int, int], kind: str, rng: np.random.Generator) -> np.ndarray:
    """A desk surface (H, W, 3) float32: "wood" (grain along one direction), "painted"
    (flat colour, orange-peel), "fabric" (a weave), "stone" (mottled), "dark" (black, matte)."""
    h, w = shape
    colour = linear(DESK_COLOURS[-1] if kind == "dark" else DESK_COLOURS[int(rng.integers(len(DESK_COLOURS)))])
    if kind == "wood":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        a = rng.uniform(0, math.pi)
        along = xx * math.cos(a) + yy * math.sin(a)
        across = -xx * math.sin(a) + yy * math.cos(a)
        bend = value_noise(shape, max(h, w) / 3, rng) * 40
        rings = np.sin((across + bend) * 2 * math.pi / rng.uniform(8, 25) + 0.002 * along)
        pattern = 1.0 + 0.18 * rings + 0.12 * (value_noise(shape, 20, rng) - 0.5)
    elif kind == "fabric":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        period = rng.uniform(3, 7)
        pattern = 1.0 + 0.15 * np.sin(xx * 2 * math.pi / period) * np.sin(yy * 2 * math.pi / period)
        pattern += 0.1 * (value_noise(shape, 40, rng) - 0.5)
    elif kind == "stone":
        pattern = 0.8 + 0.45 * value_noise(shape, 12, rng) * value_noise(shape, 50, rng) * 2
    else:  # painted or dark
        pattern = 1.0 + 0.06 * cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 1.5)
    return np.clip(colour[None, None, :] * pattern[..., None], 0, 1).astype(np.float32)


def board(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A chalkboard or black card (H, W, 3) float32 with faint smudges of old chalk."""
    colour = linear(BOARD_COLOURS[int(rng.integers(len(BOARD_COLOURS)))])
    smudge = value_noise(shape, max(shape) / 5, rng) * value_noise(shape, 30, rng)
    out = colour[None, None, :] * np.ones((*shape, 1), np.float32)
    return cover(out, smudge * rng.uniform(0.05, 0.2), (0.8, 0.8, 0.8))
