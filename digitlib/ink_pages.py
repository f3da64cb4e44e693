"""Training scenes for the learned ink stage: photo-like views and their exact digit-ink masks.

A scene is what ``reading.ink_net`` sees: a view already brought to the network's
working scale (digits about 8-64 px tall), of a sheet of paper with a handwritten
number on it, under heavy randomisation: paper on a plain, wood, fabric or mottled
(stone, cork) desk with its edges in view, or a small note with its corners in view;
textured paper; rotation up to +-25 degrees and perspective; slanted and wavy
baselines; ruled, grid and dotted paper and wavy security patterns; underlines,
boxes and separators (. , - /); pen, marker and pencil in several colours; chalk
or marker on dark, maybe smudged boards; gradients, soft shadows, hard-edged cast
shadows (polygons, hands, phones) and a lamp's pool of light; low resolution,
blur, noise, colour casts and JPEG.

The target is the **digit ink only**: ruled lines, patterns, separators,
underlines, boxes, shadows and paper edges are all "not ink". The handwriting is
MNIST **training** digits only (the benchmarks draw test digits). Glyph drawing
reuses ``digitlib.synth`` (which this module never changes); everything is drawn
from the given ``numpy.random.Generator``, so a seed gives the same scenes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .data import MnistSplit
from .synth import digit_coverage, ink_onto, paste_max, scale_glyph, separator_glyph, tilt_glyph

SCENE_SIZE = 128  # px, square: training views at the network's working scale
DIGIT_HEIGHT = (8.0, 64.0)  # px at the working scale, drawn log-uniformly
INK_LEVEL = 0.5  # coverage above which a pixel is digit ink in the target
NOTE_SHARE = 0.2  # scenes of a small sheet around the number, every corner near the view
RECTANGLE_SHARE = 0.4  # scenes of a larger sheet ending in a rectangle, some of its edges in view

# BGR pen colours on paper: black, blue, dark blue, red, green, purple, graphite.
PEN_COLOURS = ((25, 25, 25), (150, 60, 25), (100, 35, 20), (40, 40, 170), (50, 120, 40), (120, 40, 100), (80, 80, 80))
# Chalk and paint markers on a dark board: white, yellow, light blue, pink.
BOARD_COLOURS = ((235, 235, 235), (120, 230, 240), (240, 210, 150), (200, 170, 240))
# Pattern colours (ruled lines, grids, security backgrounds): light blue, grey, green, pink, red margin.
PATTERN_COLOURS = ((215, 175, 140), (160, 160, 160), (170, 210, 170), (200, 180, 235), (90, 90, 200))


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def smooth_noise(shape: tuple[int, int], cell_px: float, rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W) noise, unit standard deviation, features about ``cell_px`` wide."""
    h, w = shape
    cell = max(2.0, cell_px)
    coarse = rng.standard_normal((int(h / cell) + 2, int(w / cell) + 2)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


# ---------------------------------------------------------------------------
# The handwriting: digits (the target) and the other marks of the pen (not).
# ---------------------------------------------------------------------------


def write_number(shape: tuple[int, int], centre: tuple[float, float], digit_h: float, digits: MnistSplit,
                 rng: np.random.Generator, stroke_change: float) -> tuple[np.ndarray, np.ndarray, str, np.ndarray]:
    """float32 (H, W) coverages (digits, other pen marks) of 1-2 rows of 1-8 digits, the
    digits written (rows joined by "\n") and float32 (D, 4, 2) the corners of each digit's box.

    Rows run along a slanted, maybe wavy baseline; marks are separators, underlines
    and boxes written with the same pen.
    """
    h, w = shape
    digit_cov, marks = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    images, labels = np.asarray(digits.images), np.asarray(digits.labels)
    texts, corners = [], []
    n_rows = 1 if rng.random() < 0.8 else 2
    pitch = digit_h * rng.uniform(1.3, 1.8)
    slant = rng.uniform(-25, 25)
    baseline_tilt = math.tan(math.radians(rng.uniform(-15, 15)))
    wave_amp = digit_h * rng.uniform(0.05, 0.35) if rng.random() < 0.35 else 0.0
    wave_len, wave_phase = digit_h * rng.uniform(3, 10), rng.uniform(0, 2 * math.pi)
    touching = rng.random() < 0.3
    for r in range(n_rows):
        n = int(rng.integers(1, 9))
        gaps = rng.uniform(-0.1, 0.05, n) if touching else rng.uniform(0.05, 0.8, n)
        sep_kind = str(rng.choice([".", ",", "-", "/"])) if n >= 3 and rng.random() < 0.3 else ""
        sep_after = set(rng.choice(n - 1, size=int(rng.integers(1, max(2, n // 2))), replace=False)) if sep_kind else set()
        x0 = centre[0] - 0.35 * n * digit_h * rng.uniform(0.7, 1.3)
        y0 = centre[1] + (r - (n_rows - 1) / 2) * pitch
        x, tops, bottoms, lefts = x0, [], [], []
        texts.append("")
        for i in range(n):
            index = int(rng.integers(len(images)))
            texts[-1] += str(int(labels[index]))
            glyph = scale_glyph(digit_coverage(images[index]),
                                digit_h * rng.uniform(0.85, 1.15), stroke_change + rng.uniform(-0.15, 0.15))
            glyph = tilt_glyph(glyph, slant + rng.uniform(-4, 4), rng.uniform(-8, 8))
            cols = np.flatnonzero(glyph.max(0) > 0.1)
            left, right = (cols[0], cols[-1] + 1) if cols.size else (0, glyph.shape[1])
            cy = y0 + (x - x0) * baseline_tilt + wave_amp * math.sin(2 * math.pi * x / wave_len + wave_phase)
            cy += rng.uniform(-0.08, 0.08) * digit_h
            top, gl = round(cy - glyph.shape[0] / 2), round(x - left)
            paste_max(digit_cov, glyph, gl, top)
            corners.append([(gl + left, top), (gl + right, top), (gl + right, top + glyph.shape[0]), (gl + left, top + glyph.shape[0])])
            lefts.append(gl + left)
            tops.append(top)
            bottoms.append(top + glyph.shape[0])
            x += right - left + gaps[i] * digit_h
            if i in sep_after:
                x += 0.1 * digit_h
                if sep_kind == "/":  # taller than the digits beside it, as written: a "1" is not
                    mark = slash_glyph(digit_h * rng.uniform(1.15, 1.45), digit_h * 0.09)
                    paste_max(marks, mark, round(x), round(cy - mark.shape[0] / 2))
                else:  # drawn in the top digit_h px of a taller glyph (a comma's tail hangs below)
                    mark = separator_glyph(sep_kind, digit_h, digit_h * 0.09)
                    paste_max(marks, mark, round(x), round(cy - digit_h / 2))
                x += mark.shape[1] + rng.uniform(0.1, 0.3) * digit_h
        thickness = max(1, round(digit_h * rng.uniform(0.04, 0.12)))
        pad = digit_h * rng.uniform(0.02, 0.4)  # boxes and underlines may touch the digits
        x_left, x_right = min(lefts) - pad, x + pad
        if rng.random() < 0.25:  # underline, along the baseline
            y = max(bottoms) + pad * 0.5
            pts = np.array([[x_left, y + (x_left - x0) * baseline_tilt], [x_right, y + (x_right - x0) * baseline_tilt]])
            cv2.polylines(marks, [np.round(pts).astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA)
        elif rng.random() < 0.2:  # a box around the row
            ys = (min(tops) - pad, max(bottoms) + pad)
            cv2.rectangle(marks, (round(x_left), round(ys[0])), (round(x_right), round(ys[1])), 1.0, thickness, cv2.LINE_AA)
    return digit_cov, marks, "\n".join(texts), np.array(corners, np.float32).reshape(-1, 4, 2)


def slash_glyph(height_px: float, stroke_px: float) -> np.ndarray:
    """float32 (h, w) coverage of a "/" as written between date or code groups."""
    h = max(4, round(height_px))
    w = max(3, round(0.45 * h))
    mark = np.zeros((h, w), np.float32)
    cv2.line(mark, (w - 2, 1), (1, h - 2), 1.0, max(1, round(stroke_px)), cv2.LINE_AA)
    return mark


# ---------------------------------------------------------------------------
# Paper, patterns and desk.
# ---------------------------------------------------------------------------


def paper_pattern(shape: tuple[int, int], digit_h: float, unit: float, rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W) coverage of the paper's printed pattern: none, ruled, grid, dotted or a security weave."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    kind = rng.choice(["none", "ruled", "grid", "dotted", "security"], p=[0.3, 0.2, 0.2, 0.1, 0.2])
    thickness = max(1, round(unit * (1 if rng.random() < 0.7 else 2)))
    pitch = digit_h * rng.uniform(0.4, 1.7)
    if kind in ("ruled", "grid"):
        for y in np.arange(rng.uniform(0, pitch), h, pitch):
            cv2.line(out, (0, round(y)), (w - 1, round(y)), 1.0, thickness, cv2.LINE_AA)
        if kind == "grid":
            for x in np.arange(rng.uniform(0, pitch), w, pitch):
                cv2.line(out, (round(x), 0), (round(x), h - 1), 1.0, thickness, cv2.LINE_AA)
    elif kind == "dotted":
        pitch = max(4.0 * unit, pitch * 0.6)
        radius = max(1, round(rng.uniform(0.5, 1.8) * unit))
        for y in np.arange(rng.uniform(0, pitch), h, pitch):
            for x in np.arange(rng.uniform(0, pitch), w, pitch):
                cv2.circle(out, (round(x), round(y)), radius, 1.0, -1, cv2.LINE_AA)
    elif kind == "security":
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        for _ in range(int(rng.integers(1, 3))):
            angle = rng.uniform(0, math.pi)
            along, across = xs * math.cos(angle) + ys * math.sin(angle), ys * math.cos(angle) - xs * math.sin(angle)
            period = rng.uniform(3, 14) * unit
            wave = rng.uniform(20, 120) * unit
            phase = 2 * math.pi * (along / period + rng.uniform(0.2, 2.0) * np.sin(2 * math.pi * across / wave))
            out = np.maximum(out, np.clip((np.cos(phase) - rng.uniform(0.3, 0.85)) * 4, 0, 1))
    return out


def mottle(shape: tuple[int, int], unit: float, rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W) blotches in [-1, 1]: smooth noise squashed into patches with edges, features
    2-16 px at the working scale (stone, granite, cork, a smudged board), about as wide as a
    stroke: the marks a texture leaves are the ones most easily taken for ink."""
    noise = smooth_noise(shape, rng.uniform(2, 16) * unit, rng)
    if rng.random() < 0.5:  # a second, finer grain over the first
        noise = noise + rng.uniform(0.3, 1.0) * smooth_noise(shape, rng.uniform(1.5, 5) * unit, rng)
    return np.tanh(rng.uniform(1, 4) * noise)


def desk(shape: tuple[int, int], unit: float, rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W, 3) BGR desk: a plain, wood-grained, fabric or mottled surface of a random colour."""
    h, w = shape
    colour = rng.uniform(20, 235, 3).astype(np.float32)
    surface = np.ones(shape, np.float32)
    kind = rng.random()
    if kind < 0.3:  # wood: stripes of noise, turned to a random direction
        stripes = cv2.resize(rng.standard_normal((int(rng.integers(20, 80)), 3)).astype(np.float32), (3 * w, 3 * h))
        turn = cv2.getRotationMatrix2D((1.5 * w, 1.5 * h), rng.uniform(0, 180), 1.0)
        surface += 0.12 * cv2.warpAffine(stripes, turn, (3 * w, 3 * h))[h : 2 * h, w : 2 * w]
    elif kind < 0.5:  # fabric: fine texture
        surface += 0.1 * rng.standard_normal(shape).astype(np.float32) + 0.08 * smooth_noise(shape, 6 * unit, rng)
    elif kind < 0.75:  # stone, cork, carpet: blotches with edges, strong or faint
        surface += rng.uniform(0.1, 0.45) * mottle(shape, unit, rng)
    surface += 0.05 * smooth_noise(shape, rng.uniform(20, 80) * unit, rng)
    return np.clip(surface, 0.05, None)[:, :, None] * colour


def random_polygon(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """int32 (N, 2) outline of a cast-shadow maker: a hand (palm and fingers), a phone or a random polygon."""
    h, w = shape
    kind = rng.random()
    cx, cy = rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h
    size = rng.uniform(0.3, 1.0) * max(h, w)
    angle = rng.uniform(0, 2 * math.pi)
    if kind < 0.35:  # phone: a long rectangle
        box = cv2.boxPoints(((cx, cy), (size * 0.5, size * 1.1), math.degrees(angle)))
        return np.round(box).astype(np.int32)
    if kind < 0.7:  # hand: a palm with four or five fingers sticking out one side
        pts = []
        for k in range(5):
            a = angle + (k - 2) * 0.28
            base = (cx + 0.25 * size * math.cos(a), cy + 0.25 * size * math.sin(a))
            tip = (cx + 0.6 * size * math.cos(a) * rng.uniform(0.8, 1.1), cy + 0.6 * size * math.sin(a) * rng.uniform(0.8, 1.1))
            side = 0.05 * size
            pts += [(base[0] - side * math.sin(a), base[1] + side * math.cos(a)),
                    (tip[0] - side * math.sin(a), tip[1] + side * math.cos(a)),
                    (tip[0] + side * math.sin(a), tip[1] - side * math.cos(a)),
                    (base[0] + side * math.sin(a), base[1] - side * math.cos(a))]
        pts += [(cx - 0.8 * size * math.cos(angle), cy - 0.8 * size * math.sin(angle))]  # the wrist
        return cv2.convexHull(np.round(np.array(pts)).astype(np.int32)).reshape(-1, 2) if rng.random() < 0.3 \
            else np.round(np.array(pts)).astype(np.int32)
    n = int(rng.integers(3, 8))
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = size * rng.uniform(0.3, 0.8, n)
    return np.round(np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)).astype(np.int32)


def lighting(shape: tuple[int, int], unit: float, rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W) light factor: a gradient, maybe a soft shadow, maybe a lamp's pool of light,
    maybe hard-edged cast shadows."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    along = ((xs - w / 2) * math.cos(angle) + (ys - h / 2) * math.sin(angle)) / max(h, w)
    light = 1.0 + rng.uniform(0, 0.6) * along
    if rng.random() < 0.3:  # soft: one side of a line, a wide blurred edge
        a = rng.uniform(0, 2 * math.pi)
        side = (xs - rng.uniform(0, w)) * math.cos(a) + (ys - rng.uniform(0, h)) * math.sin(a)
        light *= 1.0 - rng.uniform(0.2, 0.6) / (1.0 + np.exp(-side / (rng.uniform(0.05, 0.3) * max(h, w))))
    if rng.random() < 0.25:  # a lamp's pool of light or a lens's vignette: dark far from a centre
        cx, cy, reach = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, rng.uniform(0.3, 0.9) * max(h, w)
        light *= 1.0 - rng.uniform(0.3, 0.85) * np.clip(((xs - cx) ** 2 + (ys - cy) ** 2) / reach ** 2, 0, 1)
    for _ in range(int(rng.random() < 0.45) + int(rng.random() < 0.1)):  # hard-edged cast shadows
        shadow = np.zeros(shape, np.float32)
        cv2.fillPoly(shadow, [random_polygon(rng, shape)], 1.0, cv2.LINE_AA)
        blur = rng.uniform(0.3, 3.0) * unit
        shadow = cv2.GaussianBlur(shadow, (0, 0), blur)
        light *= 1.0 - rng.uniform(0.25, 0.75) * shadow
    return light


# ---------------------------------------------------------------------------
# The scene and the camera.
# ---------------------------------------------------------------------------


def make_ink_page(rng: np.random.Generator, digits: MnistSplit, size: tuple[int, int] = (SCENE_SIZE, SCENE_SIZE),
                  unit: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """One scene of ``size`` (width, height): (BGR uint8 (H, W, 3), digit-ink target bool (H, W)).

    unit: the scene's scale against the network's working scale (digit heights,
    line widths, blur); 2.5 makes a 640x480 photo that the network reads at 256x192.
    """
    photo, target, _ = make_ink_page_with_text(rng, digits, size, unit)
    return photo, target


def make_ink_page_with_text(rng: np.random.Generator, digits: MnistSplit, size: tuple[int, int] = (SCENE_SIZE, SCENE_SIZE),
                            unit: float = 1.0) -> tuple[np.ndarray, np.ndarray, str]:
    """``make_ink_page`` and the digits written on it (rows top to bottom joined by "\n"; "" for none).

    The text is None when a digit is not wholly in view (cut by the view's border or off the
    sheet): the target then holds part of it, but no reader could give the digits written.
    """
    w, h = size
    board = rng.random() < 0.12
    digit_h = log_uniform(rng, *DIGIT_HEIGHT) * unit
    big = 2 * max(w, h)  # the sheet is drawn larger than the view, then turned and warped into it
    centre = (big / 2 + rng.uniform(-0.3, 0.3) * w, big / 2 + rng.uniform(-0.3, 0.3) * h)
    pen = rng.choice(["pen", "marker", "pencil"], p=[0.6, 0.2, 0.2])
    stroke = {"pen": rng.uniform(-0.8, 0.6), "marker": rng.uniform(0.6, 2.0), "pencil": rng.uniform(-0.8, 0.2)}[pen]
    digit_cov, marks, text, corners = (np.zeros((big, big), np.float32),) * 2 + ("", np.zeros((0, 4, 2), np.float32)) \
        if rng.random() < 0.05 else write_number((big, big), centre, digit_h, digits, rng, stroke)

    # The sheet: paper (or a board), its pattern, the writing.
    if board:
        sheet_colour = rng.uniform(15, 80, 3).astype(np.float32)
        ink_colour = np.array(BOARD_COLOURS[rng.integers(len(BOARD_COLOURS))], np.float32)
    else:
        sheet_colour = rng.uniform(150, 250) * rng.uniform(0.85, 1.0, 3).astype(np.float32)
        ink_colour = np.array(PEN_COLOURS[rng.integers(len(PEN_COLOURS))], np.float32)
    sheet = np.ones((big, big), np.float32) + rng.uniform(0, 0.04) * smooth_noise((big, big), 40 * unit, rng)
    if rng.random() < (0.6 if board else 0.2):  # recycled paper, card; a board's chalk smudges and wear
        sheet += rng.uniform(0.03, 0.3 if board else 0.12) * mottle((big, big), unit, rng)
    sheet = sheet[:, :, None] * sheet_colour
    pattern = paper_pattern((big, big), digit_h, unit, rng)
    pattern_colour = np.array(PATTERN_COLOURS[rng.integers(len(PATTERN_COLOURS))], np.float32)
    sheet = blend(sheet, pattern, pattern_colour if not board else 255 - pattern_colour * 0.5, rng.uniform(0.2, 0.8), board)
    opacity = rng.uniform(0.4, 0.8) if pen == "pencil" else rng.uniform(0.65, 1.0)
    shape_cov = digit_cov  # the target: where the pen went, however grainy its trace
    if pen == "pencil":  # graphite leaves grainy strokes
        grain = np.clip(0.7 + 0.3 * rng.standard_normal((big, big)).astype(np.float32), 0, 1)
        digit_cov, marks = digit_cov * grain, marks * grain
        ink_colour = np.full(3, rng.uniform(40, 110), np.float32) if not board else ink_colour
    mark_colour = ink_colour if rng.random() < 0.8 else np.array(PEN_COLOURS[rng.integers(len(PEN_COLOURS))], np.float32)
    sheet = blend(sheet, marks, mark_colour, opacity, board)
    sheet = blend(sheet, digit_cov, ink_colour, opacity, board)

    extent = sheet_extent(big, centre, size, digit_h, corners, rng)

    # Turn the sheet up to 25 degrees about the number, tilt it in perspective, put it in the view.
    turn = cv2.getRotationMatrix2D(centre, rng.uniform(-25, 25), 1.0)
    src = np.array([[0, 0], [big, 0], [big, big], [0, big]], np.float32)
    dst = cv2.transform(src[None], turn)[0] - np.float32(centre) + np.float32((w / 2, h / 2))
    dst += rng.uniform(-0.12, 0.12, (4, 2)).astype(np.float32) * np.float32((w, h))
    warp = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    view = cv2.warpPerspective(sheet, warp, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    on_sheet = cv2.warpPerspective(extent, warp, (w, h), flags=cv2.INTER_LINEAR)
    target = cv2.warpPerspective(shape_cov, warp, (w, h), flags=cv2.INTER_LINEAR) * on_sheet
    scene = view * on_sheet[:, :, None] + desk((h, w), unit, rng) * (1 - on_sheet[:, :, None])
    scene = scene * lighting((h, w), unit, rng)[:, :, None]
    return camera(scene, unit, rng), target > INK_LEVEL, text if wholly_in_view(corners, warp, on_sheet) else None


def sheet_extent(big: int, centre: tuple[float, float], view: tuple[int, int], digit_h: float, corners: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """float32 (big, big) 1 on the sheet, 0 beyond it, in sheet px (before it is turned into the view).

    Most sheets reach beyond the ``view`` (width, height); some (``RECTANGLE_SHARE``) end in a
    rectangle with edges in view; some (``NOTE_SHARE``) are a note or a slip cut to the number,
    a margin of 0.3-2.5 digit heights (``digit_h`` px) around its digit boxes (``corners``,
    float32 (D, 4, 2)): their corners are in view, as whenever a camera frames a small sheet,
    the desk showing as slivers and triangles beside them.
    """
    w, h = view
    edges = rng.random()
    if edges >= NOTE_SHARE + RECTANGLE_SHARE:
        return np.ones((big, big), np.float32)
    if edges < NOTE_SHARE and len(corners):
        lo, hi = corners.reshape(-1, 2).min(0), corners.reshape(-1, 2).max(0)
        (x0, y0), (x1, y1) = lo - rng.uniform(0.3, 2.5, 2) * digit_h, hi + rng.uniform(0.3, 2.5, 2) * digit_h
    else:  # a rectangle; also where a page with no digits has no number to cut a note to
        half = rng.uniform(0.3, 0.8, 2) * (w, h)
        x0, y0 = centre[0] - half[0] - rng.uniform(0, 0.5) * w, centre[1] - half[1] - rng.uniform(0, 0.5) * h
        x1, y1 = centre[0] + half[0] + rng.uniform(0, 0.5) * w, centre[1] + half[1] + rng.uniform(0, 0.5) * h
    extent = np.zeros((big, big), np.float32)
    cv2.rectangle(extent, (round(x0), round(y0)), (round(x1), round(y1)), 1.0, -1)
    return extent


def wholly_in_view(corners: np.ndarray, warp: np.ndarray, on_sheet: np.ndarray) -> bool:
    """Whether every digit box, float32 (D, 4, 2) corners in sheet px, lies in the view and on the
    sheet after the (3, 3) perspective ``warp``; ``on_sheet`` float32 (H, W) is 1 on the sheet."""
    if not len(corners):
        return True
    h, w = on_sheet.shape
    xy = cv2.perspectiveTransform(corners.reshape(1, -1, 2), warp)[0]
    if (xy < 0).any() or (xy[:, 0] > w - 1).any() or (xy[:, 1] > h - 1).any():
        return False
    return bool((on_sheet[np.round(xy[:, 1]).astype(int), np.round(xy[:, 0]).astype(int)] > 0.5).all())


def blend(page: np.ndarray, coverage: np.ndarray, colour: np.ndarray, opacity: float, board: bool) -> np.ndarray:
    """float32 (H, W, 3) page with ``coverage`` (H, W) drawn in BGR ``colour``: a pen darkens the
    paper towards its colour; chalk on a board covers it."""
    if not board:
        return ink_onto(page, coverage, colour, opacity)
    a = (coverage * opacity)[:, :, None]
    return page * (1 - a) + colour * a


def camera(scene: np.ndarray, unit: float, rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W, 3) scene -> uint8 (H, W, 3) photo: colour cast, low resolution, blur, noise, JPEG."""
    h, w = scene.shape[:2]
    scene = scene * (1 + rng.uniform(-0.15, 0.15, 3)).astype(np.float32)
    if rng.random() < 0.25:  # a low-resolution camera, upscaled
        f = rng.uniform(1.3, 2.5)
        small = cv2.resize(scene, (max(8, round(w / f)), max(8, round(h / f))), interpolation=cv2.INTER_AREA)
        scene = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    sigma = rng.uniform(0, 1.3) * unit
    if sigma > 0.3:
        scene = cv2.GaussianBlur(scene, (0, 0), sigma)
    scene = scene + rng.uniform(0.5, 10) * rng.standard_normal(scene.shape).astype(np.float32)
    photo = np.clip(scene, 0, 255).round().astype(np.uint8)
    if rng.random() < 0.7:
        ok, jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
        photo = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    return photo


def make_ink_pages(n: int, seed: int, digits: MnistSplit, size: tuple[int, int] = (SCENE_SIZE, SCENE_SIZE),
                   unit: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` scenes: (uint8 (n, H, W, 3), bool (n, H, W)); scene i depends only on (seed, i)."""
    w, h = size
    images = np.zeros((n, h, w, 3), np.uint8)
    targets = np.zeros((n, h, w), bool)
    for i in range(n):
        images[i], targets[i] = make_ink_page(np.random.default_rng((seed, i)), digits, size, unit)
    return images, targets
