"""Images with no number in them, to measure the worst-case work of a reader.

A reader should answer "no number" quickly on these; the benchmark times each
and reports the slowest beside the median time of a webcam photo. Kinds:

- ``dots``: random dark dots of a few px on white (the 80x80 "1 kB PNG" case);
- ``dense``: per-pixel noise, grey or colour;
- ``texture``: desk textures and security prints from ``paper``, no writing;
- ``scribble``: a page of text-like handwriting: rows of short random wiggles.

Each image is BGR uint8 (H, W, 3), one per (kind, size), the same for a seed.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import paper

NOISE_KINDS = ("dots", "dense", "texture", "scribble")
# (width, height): from tiny to a webcam frame, with odd aspect ratios.
NOISE_SIZES = ((40, 40), (51, 32), (80, 80), (160, 120), (200, 60), (320, 240), (480, 360), (640, 480))


def _dots(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    w, h = size
    image = np.full((h, w), 255, np.uint8)
    count = int(w * h * rng.uniform(0.01, 0.05))
    for x, y, r in zip(rng.integers(0, w, count), rng.integers(0, h, count), rng.integers(0, 3, count)):
        cv2.circle(image, (int(x), int(y)), int(r), int(rng.integers(0, 120)), -1)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def _dense(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    w, h = size
    if rng.random() < 0.5:
        return cv2.cvtColor(rng.integers(0, 256, (h, w), dtype=np.uint8), cv2.COLOR_GRAY2BGR)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _texture(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    w, h = size
    kind = str(rng.choice(("wood", "fabric", "stone", "guilloche")))  # flat desks would be no test
    if kind == "guilloche":
        surface = paper.absorb(paper.sheet((h, w), rng, (0.9, 0.93, 0.9), 0.03),
                               paper.guilloche((h, w), max(8.0, h / 8), rng), (0.4, 0.6, 0.4), 1.0)
    else:
        surface = paper.desk((h, w), kind, rng)
    # Stretched to most of the range: a dark or small desk would otherwise be nearly flat.
    look = surface ** (1 / paper.GAMMA)
    look = 0.1 + 0.8 * (look - look.min()) / max(1e-6, float(np.ptp(look)))
    return np.round(look * 255).astype(np.uint8)


def _scribble(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    w, h = size
    image = np.full((h, w), 240, np.uint8)
    line_h = max(6, int(h / rng.uniform(6, 14)))
    for top in range(line_h // 2, h - line_h // 2, line_h):
        x = int(rng.integers(2, max(3, w // 10)))
        while x < w - 4:
            # A "word": a run of loops and hooks about a letter high.
            letters = int(rng.integers(2, 8))
            pts = []
            for k in range(letters * 4):
                pts.append((x + k * line_h * 0.12, top + rng.uniform(-0.3, 0.3) * line_h))
            cv2.polylines(image, [np.round(np.array(pts)).astype(np.int32)], False, 30, 1, cv2.LINE_AA)
            x = int(pts[-1][0] + line_h * rng.uniform(0.3, 0.8))
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


MAKERS = {"dots": _dots, "dense": _dense, "texture": _texture, "scribble": _scribble}


def noise_images(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """(name like "dots 80x80", BGR uint8 image (H, W, 3)) for every kind and size."""
    out = []
    for k, kind in enumerate(NOISE_KINDS):
        for s, size in enumerate(NOISE_SIZES):
            rng = np.random.default_rng((7_390, seed, k, s))
            out.append((f"{kind} {size[0]}x{size[1]}", MAKERS[kind](size, rng)))
    return out
