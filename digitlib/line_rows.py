"""Training rows for the sequence reader: grey crops of one handwritten row and the digits in it.

A row is drawn as the reading pipeline crops it from a photo (``reading.line_net``:
the row's digits with about a quarter of a digit height above and below, and up to a
digit height at either end), under heavy randomisation: 0-12 MNIST **training**
digits (the benchmarks draw test digits) touching, overlapping or spaced, slanted,
tilted and on a wavy baseline, thin to thick strokes; separators (. , - / and wide
spaces) between currency-style groups and trailing dashes, which are not read;
underlines, boxes, ruled, grid and dotted paper, wavy security patterns, pieces of
the rows above and below; pen, pencil and marker contrast, boards (light on dark),
uneven light and hard shadows, low resolution, blur, noise and JPEG.

``make_row(rng, digits)`` gives ``(grey uint8 (h, w), text, polarity)``; everything is
drawn from the given ``numpy.random.Generator``, so a seed gives the same rows.
Glyph drawing reuses ``digitlib.synth`` (MNIST digits as ink coverage).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .data import MnistSplit
from .ink_pages import log_uniform, smooth_noise
from .synth import digit_coverage, paste_max, scale_glyph, separator_glyph, tilt_glyph

MAX_DIGITS = 12


def _digit_glyph(digits: MnistSplit, label: int, height: float, stroke: float, slant: float,
                 rng: np.random.Generator, by_label: list[np.ndarray]) -> np.ndarray:
    index = int(rng.choice(by_label[label]))
    glyph = scale_glyph(digit_coverage(np.asarray(digits.images[index])), height, stroke)
    return tilt_glyph(glyph, slant + rng.uniform(-4, 4), rng.uniform(-6, 6))


def _ink_columns(glyph: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero(glyph.max(0) > 0.1)
    return (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, glyph.shape[1])


def random_text(rng: np.random.Generator) -> str:
    """0-12 digits; most rows hold 2-8, a few none (only marks that must not be read)."""
    if rng.random() < 0.03:
        return ""
    n = int(min(MAX_DIGITS, max(1, round(log_uniform(rng, 1, MAX_DIGITS + 0.5)))))
    text = "".join(str(d) for d in rng.integers(0, 10, n))
    if rng.random() < 0.15:  # amounts: runs of zeros written quickly, often joined
        text = text[: max(1, n - 3)] + "0" * min(3, n - 1) if n > 1 else text
    return text


def _groups(text: str, rng: np.random.Generator) -> tuple[str, set[int]]:
    """A separator kind and the indices of the digits it follows (currency groups from the right)."""
    if len(text) < 3 or rng.random() > 0.35:
        return "", set()
    kind = str(rng.choice([".", ",", "-", "/", " "]))
    group = 3 if kind in ".," or rng.random() < 0.5 else int(rng.choice([2, 4]))
    return kind, {i for i in range(len(text) - 1) if (len(text) - 1 - i) % group == 0}


def write_digits(text: str, digits: MnistSplit, by_label: list[np.ndarray], rng: np.random.Generator,
                 digit_h: float) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int]]]:
    """float32 coverages (digits, other marks) of ``text`` written along one row, and each digit's
    ink box (x, y, w, h). The canvas leaves room for the crop's margins and neighbouring rows."""
    stroke = rng.uniform(-0.6, 1.6)
    slant = rng.uniform(-25, 25)
    touching = rng.random() < 0.35
    gap_mean = rng.uniform(-0.22, 0.02) if touching else rng.uniform(0.02, 0.6)
    tilt = math.tan(math.radians(rng.uniform(-8, 8)))
    wave_amp, wave_len = rng.uniform(0, 0.15) * digit_h, rng.uniform(3, 10) * digit_h
    kind, after = _groups(text, rng)
    width = int(digit_h * (1.6 * max(1, len(text)) + 4)) + 8
    height = int(digit_h * 5)
    ink, other = np.zeros((height, width), np.float32), np.zeros((height, width), np.float32)
    x, base_y = 1.5 * digit_h, height / 2
    boxes = []
    for i, ch in enumerate(text):
        h = digit_h * rng.uniform(0.85, 1.12)
        glyph = _digit_glyph(digits, int(ch), h, stroke + rng.uniform(-0.2, 0.2), slant, rng, by_label)
        left, right = _ink_columns(glyph)
        cy = base_y + (x - 1.5 * digit_h) * tilt + wave_amp * math.sin(x / wave_len * 2 * math.pi)
        cy += rng.uniform(-0.06, 0.06) * digit_h
        top = round(cy - glyph.shape[0] / 2)
        paste_max(ink, glyph, round(x - left), top)
        rows = np.flatnonzero(glyph.max(1) > 0.1)
        y0, y1 = (top + rows[0], top + rows[-1] + 1) if rows.size else (top, top + glyph.shape[0])
        boxes.append((round(x), int(y0), right - left, int(y1 - y0)))
        x += right - left + (gap_mean + rng.uniform(-0.06, 0.06)) * h
        if i in after:
            x = max(x, boxes[-1][0] + boxes[-1][2] + 0.1 * digit_h)
            if kind == " ":
                x += rng.uniform(0.5, 1.0) * digit_h
            else:
                mark = (_slash(digit_h, stroke) if kind == "/" else
                        separator_glyph(kind, digit_h, stroke_px=digit_h * rng.uniform(0.06, 0.14)))
                paste_max(other, mark, round(x), round(cy - digit_h / 2))
                x += mark.shape[1] + rng.uniform(0.1, 0.35) * digit_h
    if text and rng.random() < 0.12:  # "1.500 -" and "= 20 =": dashes that close an amount
        mark = separator_glyph("-", digit_h * rng.uniform(0.8, 1.6), stroke_px=digit_h * 0.1)
        paste_max(other, mark, round(x + rng.uniform(0.15, 0.6) * digit_h), round(base_y + (x - 1.5 * digit_h) * tilt - digit_h / 2))
    return ink, other, boxes


def _slash(height: float, stroke: float) -> np.ndarray:
    h = max(6, round(height * 1.1))
    mark = np.zeros((h, max(4, round(0.45 * h))), np.float32)
    cv2.line(mark, (mark.shape[1] - 2, 1), (1, h - 2), 1.0, max(1, round(height * 0.09)), cv2.LINE_AA)
    return mark


def neighbour_rows(other: np.ndarray, digits: MnistSplit, by_label: list[np.ndarray], rng: np.random.Generator,
                   digit_h: float, centre_y: float) -> None:
    """Digits of the rows above and below, partly inside the crop (a row pitch of 1.2-1.8 heights)."""
    for side in (-1, 1):
        if rng.random() > 0.3:
            continue
        y = centre_y + side * rng.uniform(1.2, 1.8) * digit_h
        x = rng.uniform(0, digit_h)
        while x < other.shape[1]:
            glyph = _digit_glyph(digits, int(rng.integers(10)), digit_h, 0.0, 0.0, rng, by_label)
            paste_max(other, glyph, round(x), round(y - glyph.shape[0] / 2))
            x += glyph.shape[1] + rng.uniform(0.1, 2.0) * digit_h


def paper_marks(shape: tuple[int, int], box: tuple[int, int, int, int], digit_h: float,
                rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W) coverage of what is printed or drawn on the paper and is not a digit:
    ruled, grid or dotted paper, wavy security lines, an underline, a box around the number."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    x0, y0, bw, bh = box
    thick = max(1, round(digit_h * rng.uniform(0.03, 0.1)))
    kind = rng.choice(["plain", "ruled", "grid", "dots", "security"], p=[0.35, 0.2, 0.2, 0.1, 0.15])
    pitch = digit_h * rng.uniform(0.6, 1.6)
    phase = rng.uniform(0, pitch)
    if kind in ("ruled", "grid"):
        for y in np.arange(phase, h, pitch):
            cv2.line(out, (0, round(y)), (w, round(y + rng.uniform(-0.05, 0.05) * w)), 1.0, thick)
    if kind == "grid":
        for x in np.arange(phase, w, pitch):
            cv2.line(out, (round(x), 0), (round(x), h), 1.0, thick)
    if kind == "dots":
        for y in np.arange(phase, h, pitch):
            for x in np.arange(phase, w, pitch):
                cv2.circle(out, (round(x), round(y)), thick, 1.0, -1)
    if kind == "security":
        xs = np.arange(w, dtype=np.float32)
        for y in np.arange(rng.uniform(0, 4), h, rng.uniform(2.5, 6.0)):
            ys = y + rng.uniform(1, 4) * np.sin(xs / rng.uniform(4, 20) + rng.uniform(0, 6))
            pts = np.stack([xs, ys], 1).round().astype(np.int32)
            cv2.polylines(out, [pts], False, 1.0, 1, cv2.LINE_AA)
        out *= rng.uniform(0.3, 0.9)
    if rng.random() < 0.2:  # underline, below the digits
        y = y0 + bh + rng.uniform(0.05, 0.3) * digit_h
        cv2.line(out, (round(x0 - rng.uniform(0, digit_h)), round(y)), (round(x0 + bw + rng.uniform(0, digit_h)), round(y)), 1.0, thick + 1)
    if rng.random() < 0.15:  # a printed box around the number, its sides in the crop
        m = rng.uniform(0.15, 0.5) * digit_h
        cv2.rectangle(out, (round(x0 - m), round(y0 - m)), (round(x0 + bw + m), round(y0 + bh + m)), 1.0, thick)
    return out


def _photo(ink: np.ndarray, marks: np.ndarray, digit_h: float, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Grey uint8 photo of the coverages: paper, pen, light, shadows and the camera."""
    h, w = ink.shape
    board = rng.random() < 0.12
    paper = rng.uniform(25, 90) if board else rng.uniform(110, 250)
    paper = paper * (1 + 0.08 * rng.uniform(0, 1) * smooth_noise((h, w), digit_h * rng.uniform(0.5, 3), rng))
    strength = rng.uniform(0.25, 0.95)  # pencil to marker
    mark_strength = rng.uniform(0.1, 0.8) * (strength if rng.random() < 0.5 else 1.0)
    cover = np.maximum(ink * strength, marks * mark_strength)
    if board:
        grey = paper + cover * (255 - paper)
    else:
        grey = paper * (1 - cover)
    light = 1 + rng.uniform(-0.35, 0.2) * np.linspace(-1, 1, w)[None, :] * rng.choice([-1, 1])
    grey = grey * light
    if rng.random() < 0.25:  # a hard-edged shadow: a half-plane crossing the row
        angle = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        side = (xx - rng.uniform(0, w)) * math.cos(angle) + (yy - rng.uniform(0, h)) * math.sin(angle) > 0
        grey = np.where(side, grey * rng.uniform(0.35, 0.8), grey)
    low = rng.uniform(1.0, 2.5) if rng.random() < 0.4 else 1.0  # a low-resolution camera
    if low > 1:
        small = cv2.resize(grey, (max(2, round(w / low)), max(2, round(h / low))), interpolation=cv2.INTER_AREA)
        grey = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    sigma = rng.uniform(0, 0.06) * digit_h
    if sigma > 0.3:
        grey = cv2.GaussianBlur(grey, (0, 0), sigma)
    grey = grey + rng.normal(0, rng.uniform(0, 12), grey.shape)
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    if rng.random() < 0.35:
        ok, jpeg = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 95))])
        grey = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
    return grey, ("light" if board else "dark")


def make_row(rng: np.random.Generator, digits: MnistSplit, by_label: list[np.ndarray]) -> tuple[np.ndarray, str, str]:
    """One training row: (grey uint8 (h, w) crop, its digits as text, polarity "dark" or "light").

    ``by_label[d]`` holds the indices of ``digits`` labelled ``d`` (``index_by_label``).
    """
    grey, text, polarity, _ = make_row_with_boxes(rng, digits, by_label)
    return grey, text, polarity


def make_row_with_boxes(rng: np.random.Generator, digits: MnistSplit,
                        by_label: list[np.ndarray]) -> tuple[np.ndarray, str, str, list[tuple[int, int, int, int]]]:
    """``make_row`` and each digit's ink box (x, y, w, h) in the crop."""
    text = random_text(rng)
    digit_h = log_uniform(rng, 14, 44)  # px in the photo; row_input brings every row to 32 px
    ink, other, boxes = write_digits(text, digits, by_label, rng, digit_h)
    h, w = ink.shape
    if boxes:
        x0 = min(b[0] for b in boxes)
        x1 = max(b[0] + b[2] for b in boxes)
        y0 = min(b[1] for b in boxes)
        y1 = max(b[1] + b[3] for b in boxes)
    else:
        x0, x1 = round(1.5 * digit_h), round(w - 2.5 * digit_h)
        y0, y1 = round(h / 2 - digit_h / 2), round(h / 2 + digit_h / 2)
    centre = (y0 + y1) / 2
    neighbour_rows(other, digits, by_label, rng, digit_h, centre)
    other = np.maximum(other, paper_marks((h, w), (x0, y0, x1 - x0, y1 - y0), digit_h, rng))
    if rng.random() < 0.1:  # specks and short strokes that are not digits
        for _ in range(int(rng.integers(1, 6))):
            p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            q = (p[0] + int(rng.integers(-4, 5)), p[1] + int(rng.integers(-4, 5)))
            cv2.line(other, p, q, 1.0, max(1, round(digit_h * 0.08)))
    # The crop the pipeline would take (reading.line_net.row_box), with its margins drawn at random.
    top = max(0, round(min(y0 - rng.uniform(0.1, 0.45) * digit_h, centre - 0.8 * digit_h)))
    bottom = min(h, round(max(y1 + rng.uniform(0.1, 0.45) * digit_h, centre + 0.8 * digit_h)))
    left = max(0, round(x0 - rng.uniform(0.1, 1.0) * digit_h))
    right = min(w, round(x1 + rng.uniform(0.1, 1.0) * digit_h))
    grey, polarity = _photo(ink[top:bottom, left:right], other[top:bottom, left:right], digit_h, rng)
    return grey, text, polarity, [(x - left, y - top, bw, bh) for x, y, bw, bh in boxes]


def index_by_label(digits: MnistSplit) -> list[np.ndarray]:
    labels = np.asarray(digits.labels)
    return [np.flatnonzero(labels == d) for d in range(10)]
