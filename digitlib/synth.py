"""Synthetic photos of handwritten numbers, for benchmarks and tests.

Each image shows a number (1 to 10 digits a row fit best; rows separated by
"\\n") written on a photographed page: paper tint and texture, ruled or grid
lines, pen colour and stroke width, spacing from touching to wide, slant,
uneven baselines, group separators (".", "," or "-", never part of the label),
then perspective, uneven light, soft shadows, blur, sensor noise and a JPEG
round-trip. Suite "clean" keeps every effect mild (scanner-like, clearly spaced
digits); "hard" makes them all stronger (touching digits, shadows, perspective,
grid paper, noise, faded pens).

The handwriting is MNIST **test** digits only, never training digits: the
classifiers learn from the training split, so drawing from it would measure
what the model remembers instead of how well it reads. Each digit is cut to its
ink, scaled to a realistic height (30-120 px in a 640x480 photo), and composited
as ink: the paper is darkened towards the pen colour by the digit's intensity.

``photo_digits`` is the one exception, and it is for training, not measuring:
it writes numbers with MNIST **training** digits on pages of both suites, reads
them with the pipeline, and keeps each digit as the pipeline cut and normalised
it, labelled. A model fine-tuned on those learns what digits look like after a
camera, a pen and ``to_mnist`` (thin 8s, blurred 7s), which MNIST alone never
shows it. The test split stays unseen.

Everything is drawn from the given ``numpy.random.Generator``, so a seed gives
the same images every time. MNIST comes from the ``root`` folder, else
``$DIGITLIB_DATA``, else the per-user cache (see ``digitlib.data.resolve_data_dir``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .data import MnistSplit, load_mnist, resolve_data_dir

SUITES = ("clean", "hard")

# (width, height) of the photos; 640x480 is the most common, as from a webcam.
PHOTO_SIZES = ((640, 480), (640, 480), (640, 480), (800, 600), (1024, 768), (480, 640), (960, 540), (1280, 720))

# Pen colours, BGR: black, blue ballpoint, dark blue, red-ish, graphite.
INK_COLOURS_CLEAN = ((25, 25, 25), (140, 60, 25), (100, 35, 20))
INK_COLOURS_HARD = INK_COLOURS_CLEAN + ((45, 40, 165), (85, 80, 80))

# Paper tints, BGR multipliers: white, cream, then (hard only) the cool grey-blue and
# pinkish casts of webcams' white balance and a yellowed page.
PAPER_TINTS_CLEAN = ((1.0, 1.0, 1.0), (0.95, 0.98, 1.0))
PAPER_TINTS_HARD = PAPER_TINTS_CLEAN + ((1.0, 0.95, 0.93), (0.95, 0.93, 1.0), (0.82, 0.94, 1.0))

MNIST_DIGIT_HEIGHT = 20.0  # MNIST digits are about 20 px tall in their 28x28 box
REFERENCE_HEIGHT = 480.0  # the photo height that digit sizes, blur and line widths refer to


@dataclass(frozen=True)
class SuiteStyle:
    """How strong each effect is in a suite. Pairs are uniform (low, high) ranges.

    Lengths in px refer to a 480-px-tall photo and scale with the photo's shorter
    side; digit spacing and baseline offsets are in digit heights.
    """

    digit_height: tuple[float, float]
    gap: tuple[float, float]  # blank space between neighbouring digits, in digit heights
    touching_prob: float  # chance that a row is written with touching or overlapping digits
    touching_gap: tuple[float, float]
    stroke_change: tuple[float, float]  # MNIST px: negative thins the strokes, positive thickens
    slant_deg: tuple[float, float]  # the writer's slant, shared by a row
    rotation_deg: float  # each digit's own tilt, +-
    row_angle_deg: float  # the whole row's tilt, +-
    baseline_jitter: float  # each digit's vertical offset, +- digit heights
    separator_prob: float
    ruled_prob: float
    grid_prob: float
    paper_tints: tuple[tuple[float, float, float], ...]
    ink_colours: tuple[tuple[int, int, int], ...]
    ink_opacity: tuple[float, float]
    paper_brightness: tuple[float, float]
    paper_texture: float  # grey levels of low-frequency unevenness
    paper_grain: float  # grey levels of fine grain
    gradient: tuple[float, float]  # brightness change across the photo, as a fraction
    shadow_prob: float
    shadow_strength: tuple[float, float]  # fraction of light the shadow takes away
    perspective: float  # largest corner displacement, as a fraction of the photo's size
    blur_sigma: tuple[float, float]
    noise_sigma: tuple[float, float]  # grey levels
    colour_cast: float  # +- per-channel gain
    jpeg_quality: tuple[int, int]


CLEAN = SuiteStyle(
    digit_height=(40, 110), gap=(0.25, 0.8), touching_prob=0.0, touching_gap=(0.25, 0.25),
    stroke_change=(-0.6, 0.3), slant_deg=(-6, 6), rotation_deg=3, row_angle_deg=1.5, baseline_jitter=0.03,
    separator_prob=0.1, ruled_prob=0.1, grid_prob=0.0, paper_tints=PAPER_TINTS_CLEAN, ink_colours=INK_COLOURS_CLEAN, ink_opacity=(0.85, 1.0),
    paper_brightness=(225, 250), paper_texture=2.0, paper_grain=1.5, gradient=(0.0, 0.08),
    shadow_prob=0.0, shadow_strength=(0.0, 0.0), perspective=0.01, blur_sigma=(0.0, 0.7),
    noise_sigma=(0.5, 2.5), colour_cast=0.03, jpeg_quality=(80, 95),
)

HARD = SuiteStyle(
    digit_height=(30, 120), gap=(0.05, 0.9), touching_prob=0.35, touching_gap=(-0.08, 0.03),
    stroke_change=(-0.9, 1.0), slant_deg=(-18, 18), rotation_deg=10, row_angle_deg=7, baseline_jitter=0.12,
    separator_prob=0.3, ruled_prob=0.25, grid_prob=0.3, paper_tints=PAPER_TINTS_HARD, ink_colours=INK_COLOURS_HARD, ink_opacity=(0.55, 0.95),
    paper_brightness=(140, 235), paper_texture=5.0, paper_grain=4.0, gradient=(0.1, 0.45),
    shadow_prob=0.5, shadow_strength=(0.2, 0.5), perspective=0.08, blur_sigma=(0.4, 1.8),
    noise_sigma=(3.0, 9.0), colour_cast=0.12, jpeg_quality=(35, 80),
)

STYLES = {"clean": CLEAN, "hard": HARD}


def suite_style(suite: str) -> SuiteStyle:
    """The effect strengths of a suite by name ("clean" or "hard")."""
    try:
        return STYLES[suite]
    except KeyError:
        raise ValueError(f"unknown suite {suite!r}; choose one of: {', '.join(SUITES)}") from None


@functools.lru_cache(maxsize=4)
def _mnist_test_split(folder: str) -> MnistSplit:
    return load_mnist(train=False, root=folder)


def mnist_test_digits(root: str | os.PathLike | None = None) -> MnistSplit:
    """MNIST's test split (cached per folder): the only digits the synthetic photos are drawn with."""
    return _mnist_test_split(str(resolve_data_dir(root)))


# ---------------------------------------------------------------------------
# Handwriting: MNIST digits as ink-coverage images ("alpha", float32 in [0, 1]).
# ---------------------------------------------------------------------------


def digit_coverage(digit: np.ndarray) -> np.ndarray:
    """uint8 (28, 28) MNIST digit -> float32 (h, w) coverage in [0, 1], cropped to its ink."""
    alpha = digit.astype(np.float32) / 255.0
    rows, cols = np.flatnonzero(alpha.max(1) > 0.05), np.flatnonzero(alpha.max(0) > 0.05)
    if rows.size == 0:
        raise ValueError("an MNIST digit without ink cannot be drawn")
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def scale_glyph(alpha: np.ndarray, height_px: float, stroke_change: float) -> np.ndarray:
    """float32 (h, w) coverage -> float32 (H, W) coverage, ``height_px`` tall, strokes changed.

    stroke_change: in MNIST px; negative erodes, positive dilates, scaled with the digit.
    """
    scale = height_px / alpha.shape[0]
    size = (max(1, round(alpha.shape[1] * scale)), max(1, round(height_px)))
    glyph = np.clip(cv2.resize(alpha, size, interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
    radius = round(abs(stroke_change) * scale / 2)  # per side: half of the width change
    if radius > 0:
        glyph = cv2.copyMakeBorder(glyph, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        glyph = (cv2.dilate if stroke_change > 0 else cv2.erode)(glyph, kernel)
    # Upscaled MNIST strokes have wide grey edges; a pen's edge is sharper.
    return np.clip((glyph - 0.2) / 0.5, 0.0, 1.0)


def tilt_glyph(glyph: np.ndarray, slant_deg: float, rotation_deg: float) -> np.ndarray:
    """float32 (h, w) -> float32 (h', w'): slanted (shear, top leaning right for positive) then rotated."""
    h, w = glyph.shape
    shear = np.tan(np.deg2rad(slant_deg))
    cos, sin = np.cos(np.deg2rad(rotation_deg)), np.sin(np.deg2rad(rotation_deg))
    # Shear about the glyph's centre (x' = x - shear * y, y up the page), then rotate.
    linear = np.array([[cos, sin], [-sin, cos]]) @ np.array([[1.0, -shear], [0.0, 1.0]])
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64) - (w / 2, h / 2)
    moved = corners @ linear.T
    out_w, out_h = int(np.ceil(np.ptp(moved[:, 0]))) + 2, int(np.ceil(np.ptp(moved[:, 1]))) + 2
    offset = np.array([out_w / 2, out_h / 2]) - linear @ np.array([w / 2, h / 2])
    matrix = np.hstack([linear, offset[:, None]]).astype(np.float32)
    return cv2.warpAffine(glyph, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)


def separator_glyph(kind: str, height_px: float, stroke_px: float) -> np.ndarray:
    """float32 (height, w) coverage of a group separator ".", "," or "-" as written beside digits."""
    h = max(4, round(height_px))
    radius = max(1.0, stroke_px * 0.7)
    w = max(3, round(0.35 * h)) if kind == "-" else max(3, round(4 * radius))
    mark = np.zeros((h + round(0.3 * h), w), np.float32)  # room below the baseline for a comma's tail
    thickness = max(1, round(stroke_px))
    centre_x, base_y = w // 2, h - 1 - round(radius)
    if kind == "-":
        cv2.line(mark, (round(0.1 * w), h // 2), (round(0.9 * w), h // 2 - round(0.05 * h)), 1.0, thickness, cv2.LINE_AA)
    elif kind in (".", ","):
        cv2.circle(mark, (centre_x, base_y), round(radius), 1.0, -1, cv2.LINE_AA)
        if kind == ",":
            tail = (centre_x - round(0.06 * h), base_y + round(0.2 * h))
            cv2.line(mark, (centre_x + round(radius * 0.5), base_y), tail, 1.0, thickness, cv2.LINE_AA)
    else:
        raise ValueError(f"unknown separator {kind!r}")
    return mark


def _parse_rows(text: str) -> list[str]:
    rows = text.split("\n")
    if not text or any(not row or not all(c in "0123456789" for c in row) for row in rows):
        raise ValueError(f"text must be digits, rows separated by a single newline, not {text!r}")
    return rows


def _separator_after(row: str, rng: np.random.Generator, style: SuiteStyle) -> tuple[str, set[int]]:
    """A separator kind and the digit indices it follows (groups counted from the right), or none."""
    if len(row) < 4 or rng.random() >= style.separator_prob:
        return "", set()
    kind = str(rng.choice([".", ",", "-"]))
    # Dots and commas group thousands; dashes split codes and phone numbers into 2 to 4 digits.
    group = 3 if kind in ".," else int(rng.choice([2, 3, 4]))
    return kind, {i for i in range(len(row) - 1) if (len(row) - 1 - i) % group == 0}


def paste_max(canvas: np.ndarray, patch: np.ndarray, left: int, top: int) -> None:
    """Paste float32 ``patch`` onto ``canvas`` at (left, top), keeping the larger value, clipped:
    overlapping strokes of touching digits merge instead of adding up."""
    h, w = canvas.shape
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + patch.shape[1], w), min(top + patch.shape[0], h)
    if x1 > x0 and y1 > y0:
        region = canvas[y0:y1, x0:x1]
        np.maximum(region, patch[y0 - top : y1 - top, x0 - left : x1 - left], out=region)


def write_rows(
    rows: list[str], size: tuple[int, int], digit_height: float, digits: MnistSplit,
    rng: np.random.Generator, style: SuiteStyle,
) -> np.ndarray:
    """float32 (H, W) ink coverage in [0, 1] of ``rows`` written on a page of ``size`` (width, height).

    Digits are about ``digit_height`` px tall, smaller when a long row or many rows
    would not fit inside the page's margins otherwise.
    """
    width, height = size
    images, labels = np.asarray(digits.images), np.asarray(digits.labels)
    margin = 0.06 + style.perspective
    usable_w, usable_h = width * (1 - 2 * margin), height * (1 - 2 * margin)

    # Choose every row's digits, separators and spacing first, then fit the text to the page.
    plans = []
    for row in rows:
        shapes = []
        for ch in row:
            candidates = np.flatnonzero(labels == int(ch))
            if candidates.size == 0:
                raise ValueError(f"the digits given hold no {ch!r} to draw")
            shapes.append(digit_coverage(images[int(rng.choice(candidates))]))
        touching = rng.random() < style.touching_prob
        mean_gap = rng.uniform(*(style.touching_gap if touching else style.gap))
        gaps = mean_gap + rng.uniform(-0.08, 0.08, len(row)) * (0.3 if touching else 1.0)
        kind, after = _separator_after(row, rng, style)
        plans.append((shapes, gaps, kind, after))

    def row_width(plan, h: float) -> float:
        shapes, gaps, kind, after = plan
        glyphs = sum(s.shape[1] * h / s.shape[0] for s in shapes)
        return glyphs + h * float(np.maximum(gaps[:-1], 0).sum()) + len(after) * 0.7 * h

    line_pitch = rng.uniform(1.4, 1.8)
    fit = min(usable_w / max(row_width(p, 1.0) for p in plans), usable_h / (1 + line_pitch * (len(rows) - 1)))
    h = min(digit_height, fit)
    slant = rng.uniform(*style.slant_deg)
    stroke = rng.uniform(*style.stroke_change)

    canvas = np.zeros((height, width), np.float32)
    block_h = h * (1 + line_pitch * (len(rows) - 1))
    block_top = height * margin + rng.uniform(0, max(0.0, usable_h - block_h))
    for r, (shapes, gaps, kind, after) in enumerate(plans):
        row_w = row_width((shapes, gaps, kind, after), h)
        x = width * margin + rng.uniform(0, max(0.0, usable_w - row_w))
        row_x0, row_y = x, block_top + h / 2 + r * line_pitch * h
        tilt = np.tan(np.deg2rad(rng.uniform(-style.row_angle_deg, style.row_angle_deg)))
        for i, shape in enumerate(shapes):
            digit_h = h * rng.uniform(0.9, 1.1)  # handwriting is not all one size
            glyph = scale_glyph(shape, digit_h, stroke + rng.uniform(-0.15, 0.15))
            glyph = tilt_glyph(glyph, slant + rng.uniform(-3, 3), rng.uniform(-style.rotation_deg, style.rotation_deg))
            centre_y = row_y + (x - row_x0) * tilt + rng.uniform(-1, 1) * style.baseline_jitter * h
            # Tilting pads the glyph with blank columns; gaps are measured between the inks.
            ink_cols = np.flatnonzero(glyph.max(0) > 0.1)
            ink_left, ink_right = (ink_cols[0], ink_cols[-1] + 1) if ink_cols.size else (0, glyph.shape[1])
            paste_max(canvas, glyph, round(x - ink_left), round(centre_y - glyph.shape[0] / 2))
            x += ink_right - ink_left + gaps[i] * h
            if i in after:
                x = max(x, x - gaps[i] * h + 0.12 * h)  # a separator always gets a little room
                mark = separator_glyph(kind, h, stroke_px=h * 0.09)
                paste_max(canvas, mark, round(x), round(row_y + (x - row_x0) * tilt - h / 2))
                x += mark.shape[1] + rng.uniform(0.12, 0.3) * h
    return canvas


# ---------------------------------------------------------------------------
# The page and the camera.
# ---------------------------------------------------------------------------


def _smooth_noise(shape: tuple[int, int], cell_px: int, rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W) noise with unit standard deviation and features about ``cell_px`` wide."""
    h, w = shape
    coarse = rng.standard_normal((h // cell_px + 2, w // cell_px + 2)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def paper(size: tuple[int, int], digit_height: float, rng: np.random.Generator, style: SuiteStyle) -> np.ndarray:
    """float32 (H, W, 3) BGR page in [0, 255]: tint, texture, grain, maybe ruled or grid lines."""
    width, height = size
    unit = min(width, height) / REFERENCE_HEIGHT
    tint = np.array(style.paper_tints[rng.integers(len(style.paper_tints))], np.float32)
    grey = np.full((height, width), rng.uniform(*style.paper_brightness), np.float32)
    grey += style.paper_texture * _smooth_noise((height, width), max(8, round(60 * unit)), rng)
    grey += style.paper_grain * rng.standard_normal((height, width)).astype(np.float32)
    page = grey[:, :, None] * tint

    lines = np.zeros((height, width), np.float32)
    thickness = max(1, round(unit))
    kind = rng.random()
    if kind < style.ruled_prob + style.grid_prob:
        grid = kind >= style.ruled_prob
        pitch = digit_height * (rng.uniform(0.45, 0.9) if grid else rng.uniform(1.2, 1.7))
        offset = rng.uniform(0, pitch)
        for y in np.arange(offset, height, pitch):
            cv2.line(lines, (0, round(y)), (width - 1, round(y)), 1.0, thickness, cv2.LINE_AA)
        if grid:
            for x in np.arange(rng.uniform(0, pitch), width, pitch):
                cv2.line(lines, (round(x), 0), (round(x), height - 1), 1.0, thickness, cv2.LINE_AA)
        line_colour = np.array((215, 175, 140) if rng.random() < 0.7 else (160, 160, 160), np.float32)
        page = ink_onto(page, lines, line_colour, rng.uniform(0.3, 0.8))
    return page


def ink_onto(page: np.ndarray, coverage: np.ndarray, colour: np.ndarray, opacity: float) -> np.ndarray:
    """Darken float32 (H, W, 3) ``page`` towards BGR ``colour`` by ``coverage`` (H, W) x ``opacity``."""
    a = (coverage * opacity)[:, :, None]
    return page * (1 - a) + colour.astype(np.float32) * page / 255.0 * a


def perspective(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Warp (H, W, 3) as if photographed at an angle: each corner moves up to ``amount`` of the size."""
    h, w = image.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src + rng.uniform(-amount, amount, (4, 2)).astype(np.float32) * np.array([w, h], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def lighting(shape: tuple[int, int], rng: np.random.Generator, style: SuiteStyle) -> np.ndarray:
    """float32 (H, W) light factor: a linear gradient, maybe a soft-edged shadow across part of the page."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = (xs - w / 2) * np.cos(angle) + (ys - h / 2) * np.sin(angle)
    along /= max(1.0, float(np.abs(along).max()))
    light = 1.0 + rng.uniform(*style.gradient) / 2 * along
    if rng.random() < style.shadow_prob:
        # A hand or phone shadow: one side of a random line, with a wide soft edge.
        edge_angle = rng.uniform(0, 2 * np.pi)
        point = rng.uniform(0.2, 0.8, 2) * (w, h)
        side = (xs - point[0]) * np.cos(edge_angle) + (ys - point[1]) * np.sin(edge_angle)
        softness = rng.uniform(0.03, 0.15) * min(h, w)
        mask = 1.0 / (1.0 + np.exp(-side / softness))
        light *= 1.0 - rng.uniform(*style.shadow_strength) * mask
    return light.astype(np.float32)


def camera(image: np.ndarray, rng: np.random.Generator, style: SuiteStyle) -> np.ndarray:
    """float32 (H, W, 3) scene -> uint8 (H, W, 3) photo: colour cast, blur, sensor noise, JPEG."""
    unit = min(image.shape[:2]) / REFERENCE_HEIGHT
    image = image * (1 + rng.uniform(-style.colour_cast, style.colour_cast, 3)).astype(np.float32)
    sigma = rng.uniform(*style.blur_sigma) * unit
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = image + rng.uniform(*style.noise_sigma) * rng.standard_normal(image.shape).astype(np.float32)
    photo = np.clip(image, 0, 255).round().astype(np.uint8)
    quality = int(rng.integers(style.jpeg_quality[0], style.jpeg_quality[1] + 1))
    ok, jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def make_image(
    text: str, rng: np.random.Generator, suite: str = "clean", digits: MnistSplit | None = None
) -> np.ndarray:
    """A BGR uint8 (H, W, 3) photo of ``text`` handwritten with MNIST digits.

    text: digits, rows separated by "\\n" (1 to 10 digits a row fit best).
    digits: the MNIST split to draw from; None means MNIST's test split from the
    default data folder. Separators the suite may add are not part of ``text``.
    """
    style = suite_style(suite)
    rows = _parse_rows(text)
    digits = digits if digits is not None else mnist_test_digits()
    size = PHOTO_SIZES[rng.integers(len(PHOTO_SIZES))]
    unit = min(size) / REFERENCE_HEIGHT
    digit_height = rng.uniform(*style.digit_height) * unit
    page = paper(size, digit_height, rng, style)
    coverage = write_rows(rows, size, digit_height, digits, rng, style)
    colour = np.array(style.ink_colours[rng.integers(len(style.ink_colours))], np.float32)
    scene = ink_onto(page, coverage, colour, rng.uniform(*style.ink_opacity))
    if style.perspective > 0:
        scene = perspective(scene, style.perspective, rng)
    scene = scene * lighting(scene.shape[:2], rng, style)[:, :, None]
    return camera(scene, rng, style)


def random_number(rng: np.random.Generator, max_digits: int = 10) -> str:
    """A random digit string of 1 to ``max_digits`` digits (leading zeros allowed)."""
    length = int(rng.integers(1, max_digits + 1))
    return "".join(str(d) for d in rng.integers(0, 10, length))


def make_suite(suite: str, n: int, seed: int = 0, root: str | os.PathLike | None = None) -> list[tuple[np.ndarray, str]]:
    """``n`` (BGR uint8 photo, label) pairs of one suite, the same for the same seed.

    Image ``i`` depends only on (seed, i), so a smaller ``n`` gives a prefix of a larger one.
    """
    suite_style(suite)  # fail on an unknown suite before loading MNIST
    digits = mnist_test_digits(root)
    out = []
    for i in range(n):
        rng = np.random.default_rng((seed, i))
        text = random_number(rng)
        out.append((make_image(text, rng, suite, digits), text))
    return out


PHOTO_DIGITS_SEED = 424242  # far from the benchmark's seeds, though its digits differ anyway


def photo_digits(read: Callable, pages: int, seed: int = PHOTO_DIGITS_SEED,
                 root: str | os.PathLike | None = None, download: bool = True) -> Iterator[tuple[np.ndarray, int]]:
    """Labelled digits as the reading pipeline sees them in photos, for fine-tuning.

    Renders ``pages`` photos of random numbers written with MNIST **training**
    digits (one page in three in the "clean" style, the rest "hard"), reads each
    with ``read`` (``Recognizer.read``) and yields ``(uint8 (28, 28), label)`` for
    every digit it found, on the pages where it found one row of as many digits
    as were written: only there is it known which piece is which digit.
    """
    digits = load_mnist(train=True, root=root, download=download)
    for i in range(pages):
        rng = np.random.default_rng((seed, i))
        text = random_number(rng)
        reading = read(make_image(text, rng, "clean" if i % 3 == 0 else "hard", digits))
        if len(reading.rows) == 1 and len(reading.digits) == len(text):
            yield from ((d.image, int(ch)) for d, ch in zip(reading.digits, text))
