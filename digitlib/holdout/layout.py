"""Handwriting layout: where each digit and mark of a number goes on the page.

A row is written along a path: a straight line at ``line_angle_deg`` with a
sine wave on top (a wavy baseline) and a small random step per glyph. Each
glyph is sheared by the writer's slant and turned by part of the path's local
direction (people follow the line they write along, but not fully), plus a
little of its own. Rows are stacked downwards. Separators (. , - / =) sit
between digit groups and are never part of the label; underlines follow the
baseline; a hand-drawn box wobbles, a printed one is straight and thin.

Output is ink coverage on a canvas just big enough for the writing (with a
margin): ``Writing.ink`` (pen) and ``Writing.printed`` (printed box), both
(H, W) float32 in [0, 1], and a ``Glyph`` per thing written, with its box in
canvas pixels, so that tests can check what was drawn against the label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .glyphs import MnistTest, digit_glyph, separator_glyph


@dataclass(frozen=True)
class Handwriting:
    """How a number is written. Lengths in page pixels or in digit heights (``h``)."""

    digit_height: float  # px
    nib_px: float
    gap: tuple[float, float]  # blank between neighbouring glyph boxes, h; negative overlaps
    size_jitter: float  # each digit's height varies by +- this fraction
    slant_deg: float  # shear of every glyph (positive leans right)
    tilt_jitter_deg: float  # each glyph's own turn, +-
    line_angle_deg: float  # direction of the baseline (positive runs downhill to the right)
    follow_line: float  # share of the baseline's local direction each glyph turns with (0-1)
    wave_amplitude: float  # h
    wave_length: float  # h
    baseline_jitter: float  # +- h per glyph
    separators: tuple[tuple[int, str], ...] = ()  # (digits before it, char), in the first row
    underline: bool = False
    box: str = ""  # "", "hand" or "printed"
    row_gap: float = 0.5  # blank between rows, h


@dataclass(frozen=True)
class Glyph:
    """One thing written: kind "digit", "separator", "underline" or "box"; box (x, y, w, h) in canvas px."""

    kind: str
    char: str
    box: tuple[int, int, int, int]
    mnist_index: int = -1


@dataclass
class Writing:
    """A written number: ``ink`` and ``printed`` coverage (H, W) float32 in [0, 1] and its glyphs."""

    ink: np.ndarray
    printed: np.ndarray
    glyphs: list[Glyph] = field(default_factory=list)

    def number_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) around every glyph, canvas px."""
        boxes = np.array([(g.box[0], g.box[1], g.box[0] + g.box[2], g.box[1] + g.box[3]) for g in self.glyphs])
        return int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max())


@dataclass
class _Placed:
    kind: str
    char: str
    patch: np.ndarray  # coverage, already turned and sheared
    centre: tuple[float, float]  # canvas px before the final shift
    mnist_index: int


def _turn_and_shear(patch: np.ndarray, turn_deg: float, slant_deg: float) -> np.ndarray:
    """``patch`` (h, w) float32 turned by ``turn_deg`` (clockwise positive, image axes) and
    sheared by ``slant_deg`` about its centre, on a canvas big enough to hold it."""
    h, w = patch.shape
    shear = math.tan(math.radians(slant_deg))
    a = math.radians(turn_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    m = rot @ np.array([[1.0, -shear], [0.0, 1.0]])
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]]) @ m.T
    out_w = int(math.ceil(np.ptp(corners[:, 0]))) + 2
    out_h = int(math.ceil(np.ptp(corners[:, 1]))) + 2
    t = np.array([out_w / 2, out_h / 2]) - m @ np.array([w / 2, h / 2])
    return cv2.warpAffine(patch, np.hstack([m, t[:, None]]).astype(np.float32), (out_w, out_h),
                          flags=cv2.INTER_LINEAR, borderValue=0.0)


def _row_glyphs(row: str, row_index: int, hw: Handwriting, digits: MnistTest, rng: np.random.Generator,
                origin_y: float) -> list[_Placed]:
    """Glyphs of one row, centred along its baseline path starting at (0, origin_y)."""
    h = hw.digit_height
    after = {}
    for position, char in hw.separators if row_index == 0 else ():
        after.setdefault(position, []).append(char)
    sequence: list[tuple[str, str]] = [("separator", c) for c in after.get(0, [])]
    for k, ch in enumerate(row, 1):
        sequence.append(("digit", ch))
        sequence += [("separator", c) for c in after.get(k, [])]

    angle = math.radians(hw.line_angle_deg)
    direction = np.array([math.cos(angle), math.sin(angle)])
    normal = np.array([-math.sin(angle), math.cos(angle)])  # points down the page
    phase = rng.uniform(0, 2 * math.pi)
    wave_k = 2 * math.pi / max(1e-6, hw.wave_length * h)
    placed: list[_Placed] = []
    s = 0.0  # arc length along the baseline, px
    for kind, char in sequence:
        if kind == "digit":
            height = h * (1 + rng.uniform(-hw.size_jitter, hw.size_jitter))
            index = int(rng.choice(digits.by_digit[int(char)]))
            patch = digit_glyph(digits.images[index], height, hw.nib_px)
            top_in_h = 0.0
        else:
            height, index = h * 0.8, -1
            patch, top_in_h = separator_glyph(char, h, hw.nib_px, rng)
        local_slope = math.atan(hw.wave_amplitude * h * wave_k * math.cos(wave_k * s + phase))
        turn = math.degrees(angle + local_slope) * hw.follow_line + rng.uniform(-hw.tilt_jitter_deg, hw.tilt_jitter_deg)
        turned = _turn_and_shear(patch, turn, hw.slant_deg)
        width = turned.shape[1] if kind == "digit" else patch.shape[1]
        s_centre = s + width / 2
        offset = hw.wave_amplitude * h * math.sin(wave_k * s_centre + phase) + rng.uniform(-1, 1) * hw.baseline_jitter * h
        # Centre of the glyph: its vertical middle sits half its height above the baseline
        # (digits) or where the separator belongs (a dot low, a dash in the middle).
        middle = (top_in_h * h + patch.shape[0] / 2) if kind == "separator" else h - height / 2
        along = s_centre
        across = offset + middle - h  # baseline is at across = 0; up the page is negative
        centre = direction * along + normal * across + np.array([0.0, origin_y])
        placed.append(_Placed(kind, char, turned, (float(centre[0]), float(centre[1])), index))
        s += width + rng.uniform(*hw.gap) * h
    return placed


def _wobbly_polyline(points: np.ndarray, wobble_px: float, rng: np.random.Generator) -> np.ndarray:
    """The polyline through ``points`` (k, 2) resampled every few px and pushed sideways by a smooth random offset."""
    out = []
    for p, q in zip(points[:-1], points[1:]):
        n = max(2, int(np.linalg.norm(q - p) / 6))
        t = np.linspace(0, 1, n, endpoint=False)[:, None]
        out.append(p + (q - p) * t)
    out.append(points[-1:])
    line = np.vstack(out)
    drift = np.cumsum(rng.normal(0, wobble_px * 0.25, line.shape), axis=0)
    drift = cv2.GaussianBlur(drift.astype(np.float32), (1, 0), sigmaX=0.1, sigmaY=3).reshape(line.shape)
    return line + np.clip(drift, -wobble_px, wobble_px)


def write_number(text: str, hw: Handwriting, digits: MnistTest, rng: np.random.Generator) -> Writing:
    """Write ``text`` (digit rows joined by "\\n") in handwriting ``hw`` with MNIST test digits.

    Returns the ``Writing`` on its own canvas; every digit of ``text`` is one glyph
    of kind "digit", in reading order.
    """
    rows = text.split("\n")
    h = hw.digit_height
    placed: list[_Placed] = []
    for r, row in enumerate(rows):
        placed += _row_glyphs(row, r, hw, digits, rng, origin_y=r * h * (1 + hw.row_gap))
    margin = int(h * 0.9 + hw.nib_px * 4 + 8)
    lefts = [p.centre[0] - p.patch.shape[1] / 2 for p in placed]
    tops = [p.centre[1] - p.patch.shape[0] / 2 for p in placed]
    rights = [p.centre[0] + p.patch.shape[1] / 2 for p in placed]
    bottoms = [p.centre[1] + p.patch.shape[0] / 2 for p in placed]
    shift = np.array([margin - min(lefts), margin - min(tops)])
    width = int(math.ceil(max(rights) + shift[0])) + margin
    height = int(math.ceil(max(bottoms) + shift[1])) + margin
    ink = np.zeros((height, width), np.float32)
    printed = np.zeros_like(ink)
    glyphs: list[Glyph] = []
    for p in placed:
        ph, pw = p.patch.shape
        x = int(round(p.centre[0] + shift[0] - pw / 2))
        y = int(round(p.centre[1] + shift[1] - ph / 2))
        np.maximum(ink[y: y + ph, x: x + pw], p.patch, out=ink[y: y + ph, x: x + pw])
        ys, xs = np.nonzero(p.patch > 0.5)
        box = (x + int(xs.min()), y + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1) if len(xs) else (x, y, pw, ph)
        glyphs.append(Glyph(p.kind, p.char, box, p.mnist_index))

    x0 = min(g.box[0] for g in glyphs)
    y0 = min(g.box[1] for g in glyphs)
    x1 = max(g.box[0] + g.box[2] for g in glyphs)
    y1 = max(g.box[1] + g.box[3] for g in glyphs)
    thickness = max(1, int(round(hw.nib_px)))
    if hw.underline:
        # Under the last row, following its slope; overshooting a little at both ends.
        last = [p for p in placed if p.kind == "digit"][-len(rows[-1]):] if rows[-1] else placed[-1:]
        start = np.array(last[0].centre) + shift + [-h * rng.uniform(0.1, 0.4), h * rng.uniform(0.6, 0.85)]
        end = np.array(last[-1].centre) + shift + [h * rng.uniform(0.1, 0.4), h * rng.uniform(0.6, 0.85)]
        line = _wobbly_polyline(np.array([start, end]), h * 0.05, rng)
        cv2.polylines(ink, [np.round(line).astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA)
        lx0, ly0 = line.min(axis=0)
        lx1, ly1 = line.max(axis=0)
        glyphs.append(Glyph("underline", "_", (int(lx0), int(ly0), int(lx1 - lx0) + 1, int(ly1 - ly0) + 1)))
    if hw.box:
        pad = h * rng.uniform(0.2, 0.45)
        corners = np.array([[x0 - pad, y0 - pad], [x1 + pad, y0 - pad], [x1 + pad, y1 + pad], [x0 - pad, y1 + pad]])
        if hw.box == "hand":
            # Four strokes, each overshooting its corner a little, as a hand draws a box.
            for a, b in zip(corners, np.roll(corners, -1, axis=0)):
                d = (b - a) / max(1e-6, np.linalg.norm(b - a))
                stroke = _wobbly_polyline(np.array([a - d * h * 0.08, b + d * h * 0.08]), h * 0.04, rng)
                cv2.polylines(ink, [np.round(stroke).astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA)
        else:
            cv2.polylines(printed, [np.round(corners).astype(np.int32)], True, 1.0, max(1, thickness // 2), cv2.LINE_AA)
        bx0, by0 = corners.min(axis=0)
        bx1, by1 = corners.max(axis=0)
        glyphs.append(Glyph("box", "[]", (int(bx0), int(by0), int(bx1 - bx0) + 1, int(by1 - by0) + 1)))
    return Writing(np.clip(ink, 0, 1), printed, glyphs)


def currency_separators(n_digits: int, rng: np.random.Generator, style: str) -> tuple[tuple[int, str], ...]:
    """Separators that group a number of ``n_digits`` digits as money is written.

    ``style``: "thousands" (1.234.567 or 1,234,567), "decimal" (1.234,56 or 12.50),
    "dash" (1500,- or 1500=), "date" (12/05/25 style groups), "fill" (=1500=).
    Positions count digits before the separator.
    """
    out: list[tuple[int, str]] = []
    if style == "thousands":
        mark = str(rng.choice([".", ",", "-"]))
        out = [(k, mark) for k in range(n_digits - 3, 0, -3)]
    elif style == "decimal" and n_digits >= 3:
        point, group = (",", ".") if rng.random() < 0.5 else (".", ",")
        out = [(n_digits - 2, point)] + [(k, group) for k in range(n_digits - 5, 0, -3)]
    elif style == "dash":
        out = [(n_digits, ","), (n_digits, "-")] if rng.random() < 0.5 else [(n_digits, "=")]
    elif style == "date" and n_digits >= 4:
        out = [(k, "/") for k in range(2, n_digits - 1, 2)]
    elif style == "fill":
        out = [(0, "="), (n_digits, "=")]
    return tuple(sorted(out))
