"""Ruled, grid and table lines: found and removed from an ink mask, faint ones too.

Masks are bool (H, W); ``ink`` is uint8 (H, W), ink bright on black. Lines may be tilted
by up to ``MAX_LINE_TILT_DEG``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .binarise import per_label, seeded_components


#: Steepest tilt, in degrees off horizontal or vertical, of the ruled and grid
#: lines that remove_long_lines finds: perspective in a hand-held photo of lined
#: paper tilts them by a few degrees, and a page may lie a little askew.
MAX_LINE_TILT_DEG = 15.0

_HOUGH_STEP = math.radians(0.5)  # fine enough that a 1 px line stays within a pixel of its guess over ~230 px

_HOUGH_COLUMN_STEP = 3

_MAX_LINE_GUESSES = 200  # Hough peaks checked; a page has a few dozen lines at most

_GUESS_SLACK = 3  # px either side of a Hough guess where its line's pixels are looked for


def remove_long_lines(mask: np.ndarray, min_width: float, min_height: float) -> tuple[np.ndarray, np.ndarray]:
    """Remove straight lines (within MAX_LINE_TILT_DEG of horizontal or vertical)
    that span at least ``min_width`` px across or ``min_height`` px down.

    Ruled and grid paper, table borders, underlines. A line is a straight run of
    thin ink (thin: no thicker than max(4 px, 4% of the length asked for)) that
    is unbroken but for gaps of a few px; a digit's stroke is neither that long
    nor that straight. Strokes of digits that crossed a removed line are bridged
    again across it. ``mask`` is bool (H, W), ink True. Returns (cleaned mask,
    mask of the removed lines), both bool (H, W). Callers that already hold the
    component stats skip the call when no component is that long.
    """
    horiz, h_band, vert, v_band, _ = _line_bands(mask.astype(np.uint8), min_width, min_height)
    return _cut_lines(mask, horiz, h_band, vert, v_band)

#: Faint grid and ruled lines are looked for among the pixels at least this
#: fraction of binarise's seed threshold: a line too faint to binarise whole
#: (only dashes and crossings of it reach the threshold) is nearly unbroken there.
FAINT_LINE_LEVEL = 0.25

#: Faint ink (above FAINT_LINE_LEVEL) at least this many times the binarised ink
#: is worth a search for faint lines; a clean page has ~1.1 times (soft stroke edges).
FAINT_INK_EXCESS = 1.5

#: Fewest faint lines that make a ruling or grid: one long straight faint stroke
#: alone may be a digit's (a "1" filling a tight crop); a page has many lines.
MIN_FAINT_LINES = 3

#: Most density of faint ink beside the lines found, relative to that on them:
#: denser, they are chance alignments in grain or noise, not lines.
FAINT_LINE_CONTRAST = 0.4

#: Share of a component's pixels on faint lines that makes it a fragment of them.
FAINT_FRAGMENT_ON_LINES = 0.7


def remove_faint_lines(mask: np.ndarray, ink: np.ndarray, high: float, min_width: float,
                       min_height: float) -> np.ndarray:
    """Remove from ``mask`` the fragments of lines too faint to binarise whole.

    ``mask`` is binarise's bool (H, W) ink mask, ``ink`` the uint8 (H, W) ink map it
    came from and ``high`` its seed threshold (ink_threshold). The lines (as in
    remove_long_lines: straight, thin, within MAX_LINE_TILT_DEG of horizontal or
    vertical, at least ``min_width`` px across or ``min_height`` px down) are found
    where they are still whole, in the ink above FAINT_LINE_LEVEL * ``high``; at
    least MIN_FAINT_LINES of them, standing out of the ink beside them, or nothing
    is removed. On the lines only ink above ``high`` stays (strokes crossing them),
    so binarising's hysteresis cannot follow a line out of a digit. Then the
    components of ``mask`` lying mostly on the lines (but for long ones,
    remove_long_lines' work) are removed; digits crossing or touching a line keep
    most of their ink off it and stay whole. Returns the cleaned mask, bool (H, W):
    ``mask`` itself when nothing is removed.
    """
    _, low = cv2.threshold(ink, math.ceil(FAINT_LINE_LEVEL * high) - 1, 1, cv2.THRESH_BINARY)
    # The cheap test first: without faint lines (or texture) nearly all the faint
    # ink is the binarised strokes and their soft edges, and the search is skipped.
    if cv2.countNonZero(low) < FAINT_INK_EXCESS * cv2.countNonZero(mask.view(np.uint8)):
        return mask
    horiz, h_band, vert, v_band, count = _line_bands(low, min_width, min_height)
    if count < MIN_FAINT_LINES:
        return mask
    band = horiz | vert
    if not _stand_out(low, band, max(h_band, v_band)):
        return mask
    # Binarising grew strokes along the faint lines they touch (the lines are above
    # its weak threshold) into crosses and ladders that read as digits: the lines
    # may only keep strong ink, and what that leaves unseeded goes too.
    strong = ink >= high
    mask = mask & ~(band & ~strong)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    # The faint lines' fragments (dashes, crossings) lie on them, nearly whole;
    # a digit, even one crossing or touching a line, has most of its ink off them.
    on = np.bincount(labels[band], minlength=n)
    fragment = on >= FAINT_FRAGMENT_ON_LINES * stats[:, cv2.CC_STAT_AREA]
    # A line that binarised whole (maybe with the digits it touches) is long:
    # remove_long_lines takes it apart without losing the digits.
    fragment &= (stats[:, cv2.CC_STAT_WIDTH] < min_width) & (stats[:, cv2.CC_STAT_HEIGHT] < min_height)
    junk = fragment | ~seeded_components(labels, n, strong)
    junk[0] = False
    return mask & ~per_label(junk, labels)


def _stand_out(low: np.ndarray, band: np.ndarray, width: int) -> bool:
    """Whether the lines in ``band`` (bool (H, W), bands at most ``width`` px wide) stand
    out of ``low`` (uint8 0/1 (H, W)): much denser on them than beside them. Noise
    and grain too dense to threshold leave straight runs of pixels anywhere."""
    beside = cv2.dilate(band.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (2 * width + 1,) * 2))
    beside = beside.view(bool) & ~band
    on_lines = cv2.countNonZero(low & band) / max(1, cv2.countNonZero(band.view(np.uint8)))
    off_lines = cv2.countNonZero(low & beside) / max(1, cv2.countNonZero(beside.view(np.uint8)))
    return off_lines < FAINT_LINE_CONTRAST * on_lines


def _line_bands(m: np.ndarray, min_width: float, min_height: float) -> tuple[np.ndarray, int, np.ndarray, int, int]:
    """The bands of the near-horizontal lines of ``m`` (uint8 0/1 (H, W)) at least
    ``min_width`` px long and of its near-vertical ones at least ``min_height`` px
    long: (horizontal bands bool (H, W), widest of them in px, vertical bands bool
    (H, W), widest of them, number of lines found)."""
    horiz, h_band, h_count = _straight_lines(m, max(3, int(min_width)))
    # Vertical lines are horizontal ones of the transposed mask.
    vert, v_band, v_count = _straight_lines(np.ascontiguousarray(m.T), max(3, int(min_height)))
    return horiz, h_band, vert.T, v_band, h_count + v_count


def _cut_lines(mask: np.ndarray, horiz: np.ndarray, h_band: int, vert: np.ndarray,
               v_band: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove from ``mask`` (bool (H, W)) its pixels inside the line bands ``horiz``
    and ``vert`` (bool (H, W), at most ``h_band`` and ``v_band`` px wide), but bridge
    again the strokes that crossed them. Returns (cleaned mask, removed pixels),
    both bool (H, W)."""
    lines = (horiz | vert) & mask
    if not lines.any():
        return mask.copy(), lines
    cleaned = mask & ~lines
    # Where a stroke crossed a line, ink lies on both sides of the removed band:
    # close across the band (only there) to join the stroke again. Closing
    # straight up-down (or left-right) still crosses a tilted band, which is
    # only 1/cos(tilt) times wider that way.
    stretch = 1 / math.cos(math.radians(MAX_LINE_TILT_DEG))
    c8 = cleaned.astype(np.uint8)
    restored = np.zeros_like(mask)
    if h_band:
        k = int(math.ceil(h_band * stretch)) + 2
        restored |= horiz & lines & cv2.morphologyEx(
            c8, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k))).astype(bool)
    if v_band:
        k = int(math.ceil(v_band * stretch)) + 2
        restored |= vert & lines & cv2.morphologyEx(
            c8, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1))).astype(bool)
    return cleaned | restored, lines & ~restored


def _straight_lines(m: np.ndarray, min_len: int) -> tuple[np.ndarray, int, int]:
    """Bands covering the near-horizontal lines of ``m`` (uint8 0/1 (H, W)) at least
    ``min_len`` px long: bool (H, W), wider than the lines by a pixel each side,
    the widest band's width in px (0: no line) and the number of lines drawn.

    Hough peaks on the thin pixels guess each line's position and angle; the
    ink along each guess says where the line really runs (its unbroken
    stretches); a fit to its thin pixels there places it to a fraction of a
    pixel, and the runs of ink across it give its thickness.
    """
    h, w = m.shape
    band = np.zeros((h, w), np.uint8)
    tilt = math.radians(MAX_LINE_TILT_DEG)
    if w < min_len * math.cos(tilt):
        return band.astype(bool), 0, 0
    max_thick = max(4, int(0.04 * min_len))
    # Pixels of short vertical runs: a line's own, not those of upright strokes
    # or of lines crossing it, which would pull the fit towards them.
    upright = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max_thick + 1)))
    thin = cv2.subtract(m, upright)
    # A 1 px line tilted between two Hough angles spreads its votes over a few
    # rho bins beyond ~1/sin(step/2) px: ask for less and let the checks below decide.
    votes = int(0.4 * min(min_len, 1.0 / math.sin(_HOUGH_STEP / 2)) / _HOUGH_COLUMN_STEP)
    # Every few columns are plenty to find a line that spans hundreds, and the
    # Hough transform costs in proportion to the pixels it is given.
    sparse = np.zeros_like(thin)
    sparse[:, ::_HOUGH_COLUMN_STEP] = thin[:, ::_HOUGH_COLUMN_STEP]
    if cv2.countNonZero(sparse) < votes:
        return band.astype(bool), 0, 0
    found = cv2.HoughLinesWithAccumulator(sparse, 1, _HOUGH_STEP, votes,
                                          min_theta=math.pi / 2 - tilt, max_theta=math.pi / 2 + tilt)
    if found is None:
        return band.astype(bool), 0, 0
    rho, theta, score = (found[:_MAX_LINE_GUESSES, 0, j].astype(np.float64) for j in range(3))
    xs = np.arange(w)
    # A line also raises weaker peaks next to its own (a thick line; a tilt between
    # two steps): the same line if they cross the middle column at about the same height.
    mid = (rho - w / 2 * np.cos(theta)) / np.sin(theta)
    same = (np.abs(mid[:, None] - mid) <= _GUESS_SLACK) & (np.abs(theta[:, None] - theta) <= 4 * _HOUGH_STEP)
    weaker = (same & (score > score[:, None])).any(axis=1)
    rho, theta = rho[~weaker], theta[~weaker]
    guess = (rho[:, None] - xs * np.cos(theta)[:, None]) / np.sin(theta)[:, None]  # (n, W): y of each guess
    rows = np.rint(guess).astype(np.int64)
    inside = (rows >= 0) & (rows < h)
    flat = np.clip(rows, 0, h - 1) * w + xs
    near = cv2.getStructuringElement(cv2.MORPH_RECT, (1, 2 * _GUESS_SLACK + 1))
    covered = (cv2.dilate(m, near).ravel()[flat] != 0) & inside
    thin_cols = (cv2.dilate(thin, near).ravel()[flat] != 0) & inside
    # Strokes crossing a line, and crossing grid lines, interrupt its thin pixels but
    # not its ink; dropouts of a faint line leave short gaps.
    gap = max(3, int(0.02 * min_len))
    covered = cv2.morphologyEx(covered.astype(np.uint8), cv2.MORPH_CLOSE,
                               cv2.getStructuringElement(cv2.MORPH_RECT, (gap + 1, 1)))
    edges = np.diff(covered, axis=1, prepend=0, append=0).astype(np.int8)
    (line, x0), (_, x1) = np.nonzero(edges == 1), np.nonzero(edges == -1)  # row-major: they pair up
    thin_sum = np.pad(np.cumsum(thin_cols, axis=1), ((0, 0), (1, 0)))
    # Long enough at its tilt, and mostly the line's own thin ink, not a row of
    # strokes that happens to be straight.
    ok = ((x1 - x0) >= min_len * np.sin(theta[line])) & \
         (thin_sum[line, x1] - thin_sum[line, x0] >= 0.5 * (x1 - x0))
    offsets = np.arange(-_GUESS_SLACK, _GUESS_SLACK + 1)[:, None]
    drawn: list[tuple[float, float, int, int]] = []
    widest = 0
    for i, a, b in zip(line[ok], x0[ok], x1[ok]):
        x = xs[a:b]
        r = rows[i, a:b] + offsets
        seg = (thin[np.clip(r, 0, h - 1), x] != 0) & (r >= 0) & (r < h)
        count = seg.sum(axis=0)
        cols = count > 0
        slope, icpt = _fit_line(x[cols].astype(np.float64), (seg * r).sum(axis=0)[cols] / count[cols])
        ya, yb = icpt + slope * a, icpt + slope * (b - 1)
        # Neighbouring Hough peaks that survived find the same line again.
        if any(abs(ya - (c + s * a)) < 1.5 and abs(yb - (c + s * (b - 1))) < 1.5 and a < e and b > f
               for s, c, f, e in drawn):
            continue
        drawn.append((slope, icpt, a, b))
        t = int(np.median(count[cols]))
        if t >= 2 * _GUESS_SLACK:  # thicker than the window: measure it properly
            t = _thickness_along(thin, icpt + slope * x, x, max_thick)
        cv2.line(band, (int(a), int(round(ya))), (int(b - 1), int(round(yb))), 1, t + 2)
        widest = max(widest, t + 2)
    return band.astype(bool), widest, len(drawn)


def _fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares (slope, intercept) of y on x (float (L,), L >= 2), fitted again
    without the points more than 1.5 px off: bits of strokes next to the line."""
    for _ in range(2):
        n, sx, sy = len(x), x.sum(), y.sum()
        den = n * float(x @ x) - sx * sx
        slope = (n * float(x @ y) - sx * sy) / den if den > 0 else 0.0
        icpt = (sy - slope * sx) / n
        close = np.abs(y - icpt - slope * x) <= 1.5
        if close.all() or close.sum() < 2:
            break
        x, y = x[close], y[close]
    return float(slope), float(icpt)


def _thickness_along(thin: np.ndarray, ys: np.ndarray, xs: np.ndarray, max_thick: int) -> int:
    """Median length of the vertical runs of ``thin`` (uint8 (H, W)) through a fitted
    line (ys, xs: float and int (L,)): the line's thickness, at most ``max_thick``."""
    h = thin.shape[0]
    reach = max_thick // 2 + 2
    rows = np.rint(ys).astype(np.int64) + np.arange(-reach, reach + 1)[:, None]
    on = np.zeros((2 * reach + 3, len(xs)), bool)  # a row of paper above and below ends every run
    on[1:-1] = (thin[np.clip(rows, 0, h - 1), xs] != 0) & (rows >= 0) & (rows < h)
    centre = reach + 1
    hit = on[centre]
    if not hit.any():
        return 1
    up = np.argmin(on[centre::-1, hit], axis=0)
    down = np.argmin(on[centre:, hit], axis=0)
    return int(min(max_thick, np.median(up + down - 1)))
