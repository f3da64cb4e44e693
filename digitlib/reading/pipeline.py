"""The reading pipeline: a list of named stages from a photo to classified digits.

Each stage is a function ``stage(work) -> image`` that advances a ``Work`` record
by calling the pure functions of the other ``digitlib.reading`` modules, and returns
the image that shows what it did. ``run_pipeline`` runs them in order and collects
``(name, image)`` pairs, so a viewer can show every stage without knowing what
any of them does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from . import binarise, blobs as bl, decode, geometry, illumination, ink_net, line_net, lines, merge, mnist, rows, split
from . import sequence
from .coverage import left_out_marks
from .draw import draw_candidates, mask_to_image, montage
from .result import ReadOptions

MAX_DIGITS = 80  # more marks than this is a page of text or noise, not a number
#: Most digit images one reading may ask the classifier about (candidate pieces, merges, the
#: final digits). The project's pages need at most a few hundred (see BENCHMARKS.md, bounded
#: work); noise, textures and pages of text would need thousands, and give no number anyway.
MAX_CLASSIFIED = 600
#: Most marks (components of the cleaned mask) a number's photo leaves: the project's pages leave
#: at most 16 (BENCHMARKS.md, bounded work); dots, textures and text leave hundreds.
MAX_MARKS = 150
#: The same for the learned ink stage, which leaves lines, patterns, shadows and desks out: the
#: ink network's hardest training scenes leave at most 33 marks (100 scenes; the threshold stage
#: leaves up to 163 there), the project's pages at most 15; random dots and dense noise up to 160.
MAX_LEARNED_MARKS = 50
#: Most rows of marks a number's photo gives before touching marks are cut apart: the project's
#: pages and samples give at most 2, the ink network's hardest training scenes (shadows, grids,
#: desks) at most 6 in 100; random dots give up to 25 (BENCHMARKS.md, bounded work).
MAX_ROWS = 10
TOO_MUCH_WORK = ("This image holds too many marks to be a number (noise, a texture or a page of text?), "
                 "so nothing was read. Crop the photo to the number and try again.")


class WorkBudgetExceeded(Exception):
    """A reading met more than ``MAX_MARKS`` marks or asked the classifier about more than
    ``MAX_CLASSIFIED`` digit images."""


class BudgetedClassify:
    """``classify`` that counts the digit images it is asked about (``asked``) and raises
    ``WorkBudgetExceeded`` past ``limit`` (default ``MAX_CLASSIFIED``), so no input costs more
    than about ``limit`` images."""

    def __init__(self, classify: bl.Classify, limit: int | None = None) -> None:
        self.classify, self.asked = classify, 0
        self.limit = MAX_CLASSIFIED if limit is None else limit

    def __call__(self, digits: np.ndarray, stroke_variants: bool = False) -> tuple[np.ndarray, np.ndarray]:
        self.asked += len(digits)
        if self.asked > self.limit:
            raise WorkBudgetExceeded(f"{self.asked} digit images asked about, more than {self.limit}")
        return self.classify(digits, stroke_variants=stroke_variants)


@dataclass
class FoundDigit:
    box_original: tuple[int, int, int, int]  # (x, y, w, h) in the original image
    mnist: np.ndarray  # uint8 (28, 28)
    row: int


@dataclass
class PipelineResult:
    digits: list[FoundDigit]
    probs: np.ndarray  # float32 (N, 10)
    stages: list[tuple[str, np.ndarray]]
    warnings: list[str]
    image_rgb: np.ndarray
    scale: float  # working size / original size
    left_out: list[tuple[int, int, int, int]]  # digit-sized marks in the number's rows no digit covers, original px
    fusions: list[sequence.RowFusion] = field(default_factory=list)  # each fused row's two readings, in order
    polarity: str = "dark"  # the ink read: "dark" on light paper or "light" on a dark ground


@dataclass
class Work:
    """What the stages hand to each other."""

    source: object
    options: ReadOptions
    classify: bl.Classify  # Recognizer.classify
    warnings: list[str] = field(default_factory=list)
    bgr: np.ndarray | None = None  # working-size photo, turned level once stage_level has run
    rgb: np.ndarray | None = None  # the same, for display
    photo_rgb: np.ndarray | None = None  # the working-size photo as decoded, never turned
    scale: float = 1.0
    level: np.ndarray | None = None  # float64 (2, 3): decoded working px -> turned px, when turned
    grey: np.ndarray | None = None
    background: np.ndarray | None = None
    polarity: str = "dark"
    ink: np.ndarray | None = None
    binary: np.ndarray | None = None
    clean: np.ndarray | None = None
    ink_probability: np.ndarray | None = None  # float32 (H, W), learned ink only
    ink_scale: float | None = None  # network px per working px the ink network read at, learned ink only
    blobs: list[bl.Blob] = field(default_factory=list)
    digit_height: float = 0.0
    probs: np.ndarray | None = None
    left_out: list[tuple[int, int, int, int]] = field(default_factory=list)  # (x, y, w, h), working px
    sequences: list[sequence.RowSequence] = field(default_factory=list)  # the sequence reader's rows
    fusions: list[sequence.RowFusion] = field(default_factory=list)  # what the readers' fusion weighed, row by row


def stage_decode(w: Work) -> np.ndarray:
    bgr, notes = decode.load_image(w.source)
    w.warnings += notes
    h, wd = bgr.shape[:2]
    w.scale = illumination.working_scale(h, wd, w.options.max_side)
    if w.scale < 1:
        w.warnings.append(f"The {wd}x{h} image was downscaled to "
                          f"{max(1, round(wd * w.scale))}x{max(1, round(h * w.scale))} for reading.")
    w.bgr = illumination.resize_by(bgr, w.scale)
    w.rgb = w.photo_rgb = cv2.cvtColor(w.bgr, cv2.COLOR_BGR2RGB)
    return w.rgb


def stage_grey(w: Work) -> np.ndarray:
    w.grey = illumination.to_grey(w.bgr)
    return w.grey


def stage_background(w: Work) -> np.ndarray:
    w.background = illumination.estimate_background(w.grey)
    return w.background


def stage_flatten(w: Work) -> np.ndarray:
    return _flatten(w, lambda: None)


def stage_flatten_learned(w: Work) -> np.ndarray:
    # The ink network has marked the strokes already, whatever their polarity: the polarity is
    # whether they are darker or lighter than the paper around them, not a guess from the photo.
    return _flatten(w, lambda: illumination.polarity_of_ink(w.grey, w.binary))


def _flatten(w: Work, found: Callable[[], str | None]) -> np.ndarray:
    """The flattened ink (``w.ink``) in the polarity chosen, or, for "auto", the one ``found()``
    gives (None: none found), else the guess from the whole photo."""
    polarity = w.options.polarity
    if polarity == "auto":
        polarity = found() or illumination.detect_polarity(w.grey, w.background)
    w.polarity = polarity
    w.ink = illumination.ink_map(w.grey, w.background, w.polarity)
    return w.ink


def stage_binarise(w: Work) -> np.ndarray:
    high = binarise.ink_threshold(w.ink)
    h, wd = w.ink.shape
    # Faint grid or ruled paper binarises as dashes and crossings, none of them long
    # enough for stage_clean to see a line: find the lines in the fainter ink, where
    # they are whole, and take their fragments out now.
    w.binary = lines.remove_faint_lines(binarise.binarise_at(w.ink, high), w.ink, high, 0.5 * wd, 0.5 * h)
    return mask_to_image(w.binary)


def stage_clean(w: Work) -> np.ndarray:
    h, wd = w.binary.shape
    mask = w.binary
    labels, stats = binarise.components(mask)
    # Ruled and grid lines cross the whole page: remove them first, since they
    # join everything they touch into one component. A digit's stroke is never
    # that long, not even a "1" filling a single-digit crop from top to bottom.
    if (stats[1:, cv2.CC_STAT_WIDTH] >= 0.6 * wd).any() or (stats[1:, cv2.CC_STAT_HEIGHT] >= 0.9 * h).any():
        mask, _ = lines.remove_long_lines(mask, 0.6 * wd, 0.9 * h)
        labels, stats = binarise.components(mask)
    # Then lines much longer than a digit is tall: underlines, table borders.
    digit_h = bl.typical_height_of(stats[1:, cv2.CC_STAT_HEIGHT].tolist()) or h
    if (stats[1:, cv2.CC_STAT_WIDTH:cv2.CC_STAT_HEIGHT + 1] >= 2.2 * digit_h).any():
        mask, _ = lines.remove_long_lines(mask, 2.2 * digit_h, 2.2 * digit_h)
        labels, stats = binarise.components(mask)
    # Faint lines that binarising grew from the digits they cross: hairlines beside the pen.
    trimmed = binarise.trim_hairlines(mask, binarise.stroke_width(mask), 0.5 * digit_h)
    if trimmed is not mask:
        mask = trimmed
        labels, stats = binarise.components(mask)
    w.clean = binarise.drop_specks_and_edges(labels, stats, speck_area(h, wd))
    return mask_to_image(w.clean)


def speck_area(h: int, wd: int) -> int:
    """Components of fewer pixels than this in an (h, wd) mask are specks, not ink worth reading."""
    return max(6, int(0.0002 * h * wd))


def stage_learned_ink(w: Work) -> np.ndarray:
    # The network marks digit ink only: ruled and grid lines, boxes, separators, shadows
    # and paper edges stay out of the mask, so no line removal follows. The flattened
    # ink (w.ink) still gives the strokes their strength when a digit is normalised.
    if w.level is None:
        w.ink_probability, w.ink_scale = ink_net.ink_probability(w.bgr)
    else:
        # Turned level, the photo is read again (at the first pass's scale: the canvas grows, its
        # digits do not) and the two views are averaged, the first's map turned with the photo and
        # nothing outside it. Either view alone sees things the other does not: on the turned
        # canvas the network took paper corners and the streaks of the uncovered corners for strokes.
        h, wd = w.bgr.shape[:2]
        turned = geometry.turn(w.ink_probability, w.level, (wd, h), fill=0.0)
        again, _ = ink_net.ink_probability(w.bgr, scale=w.ink_scale)
        w.ink_probability = (turned + again) / 2
    w.binary = ink_net.ink_mask(w.ink_probability)
    return (w.ink_probability * 255 + 0.5).astype(np.uint8)


def stage_clean_learned(w: Work) -> np.ndarray:
    h, wd = w.binary.shape
    labels, stats = binarise.components(w.binary)
    w.clean = binarise.drop_specks_and_edges(labels, stats, speck_area(h, wd))
    return mask_to_image(w.clean)


def stage_boxes(w: Work) -> np.ndarray:
    blobs = bl.drop_tall_frame_marks(bl.find_blobs(w.clean), *w.clean.shape)
    most = MAX_LEARNED_MARKS if w.options.ink == "learned" else MAX_MARKS
    if len(blobs) > most:
        raise WorkBudgetExceeded(f"{len(blobs)} marks, more than {most}")
    w.digit_height = bl.typical_height(blobs)
    blobs = merge.merge_broken_strokes(blobs, w.digit_height, w.ink, w.classify)
    w.digit_height = bl.typical_height(blobs)
    min_h = w.options.min_digit_height * w.scale if w.options.min_digit_height else 0
    blobs = bl.drop_hairlines(bl.drop_separators(blobs, w.digit_height, min_h), w.digit_height)
    # Cutting touching marks apart is the costly part; a photo whose marks fall into more rows than
    # a number has is noise or a page of text, and is not worth it.
    if len(rows.group_rows(blobs, w.digit_height)) > MAX_ROWS:
        raise WorkBudgetExceeded(f"marks in more than {MAX_ROWS} rows")
    digit_width = split.typical_width(blobs, w.digit_height)
    confidence = split.one_digit_confidence(blobs, w.ink, w.digit_height, digit_width, w.classify)
    pieces: list[bl.Blob] = []
    for b, sure in zip(blobs, confidence):
        pieces += split.split_touching(b, w.ink, w.digit_height, digit_width, w.classify, sure)
    if len(pieces) > MAX_DIGITS:
        w.warnings.append(f"Found {len(pieces)} marks; reading only the {MAX_DIGITS} largest.")
        pieces = sorted(pieces, key=lambda b: b.area, reverse=True)[:MAX_DIGITS]
    w.blobs = [b for row in rows.drop_frame_rows(rows.group_rows(pieces, w.digit_height), *w.clean.shape) for b in row]
    w.left_out = left_out_marks(w.binary, w.blobs, w.digit_height)
    return draw_candidates(w.rgb, w.blobs, w.left_out)


def stage_level(w: Work) -> np.ndarray:
    slope = geometry.line_slope(_blob_rows(w.blobs), w.digit_height) if w.options.level else None
    if slope is not None and abs(slope) >= geometry.LEVEL_FROM_DEG:
        h, wd = w.bgr.shape[:2]
        w.level, size = geometry.level_matrix(slope, h, wd)
        w.bgr = geometry.turn(w.bgr, w.level, size)
        w.rgb = cv2.cvtColor(w.bgr, cv2.COLOR_BGR2RGB)
        # Everything from the grey image to the rows again, on the level photo: the ink stages
        # see the digits upright, and the rows and their crops run along the line.
        plan = LEARNED_STAGES if w.options.ink == "learned" else STAGES
        last = [name for name, _ in plan].index(BOXES_STAGE)
        for _, stage in plan[1:last + 1]:
            stage(w)
    return draw_candidates(w.rgb, w.blobs, w.left_out)


def stage_mnist(w: Work) -> np.ndarray:
    if not w.blobs:
        w.probs = np.zeros((0, 10), np.float32)
        return np.zeros((28, 28), np.uint8)
    # The final answer is worth the three-stroke-width vote; the many candidate
    # pieces weighed while splitting are not (same choices, a third of the time).
    _, w.probs = w.classify(mnist.normalised(w.blobs, w.ink), stroke_variants=True)
    return montage([b.mnist for b in w.blobs])


def _rows_of(blobs: list[bl.Blob]) -> list[list[int]]:
    """Indices of ``blobs`` by row, rows in order."""
    by_row: dict[int, list[int]] = {}
    for i, b in enumerate(blobs):
        by_row.setdefault(b.row, []).append(i)
    return [by_row[r] for r in sorted(by_row)]


def _blob_rows(blobs: list[bl.Blob]) -> list[list[bl.Blob]]:
    """``blobs`` by row, rows in order."""
    return [[blobs[i] for i in row] for row in _rows_of(blobs)]


def stage_sequence(w: Work) -> np.ndarray:
    rows_ = _blob_rows(w.blobs)
    w.sequences = sequence.read_rows(rows_, w.grey, w.polarity) if rows_ else []
    return sequence.heatmap(w.sequences)


def stage_fuse(w: Work) -> np.ndarray:
    blobs, probs = [], []
    for indices, seq in zip(_rows_of(w.blobs), w.sequences):
        seg_probs = w.probs[indices]
        x0, y0, x1, y1 = seq.box
        in_row = [b for b in w.left_out if x0 <= b[0] + b[2] / 2 <= x1 and y0 <= b[1] + b[3] / 2 <= y1]
        if w.options.reader == "sequence":
            which, chosen, other = "sequence", sequence.sequence_probs(seq), None
        else:
            which, chosen, other, fusion = sequence.fuse_row(seg_probs, seq, len(in_row))
            w.fusions.append(fusion)
        if which == "sequence":
            row_blobs = sequence.sequence_blobs(seq, w.clean, [w.blobs[i] for i in indices])
            if row_blobs:
                mnist.normalised(row_blobs, w.ink)
            # The whole-row reading covers the row's ink: marks left out of it were read, or not digits.
            w.left_out = [b for b in w.left_out if b not in in_row]
        else:
            row_blobs = [w.blobs[i] for i in indices]
        if other is not None:
            where = f" on row {seq.row + 1}" if len(w.sequences) > 1 else ""
            w.warnings.append(f"The two readers disagree{where}: digit by digit it reads "
                              f"{sequence.digits_text(seg_probs) or 'nothing'}, as a whole row "
                              f"{seq.read.text or 'nothing'}; {sequence.digits_text(chosen) or 'nothing'} is shown. "
                              "Check the number.")
        blobs += row_blobs
        probs.append(chosen)
    w.blobs = blobs
    w.probs = np.concatenate(probs) if probs else np.zeros((0, 10), np.float32)
    return draw_candidates(w.rgb, w.blobs, w.left_out)


BOXES_STAGE = "7. Digit boxes and rows"
STAGES: list[tuple[str, Callable[[Work], np.ndarray]]] = [
    ("1. Photo (upright, working size)", stage_decode),
    ("2. Grey", stage_grey),
    ("3. Paper background (estimated light)", stage_background),
    ("4. Ink, light flattened (MNIST polarity)", stage_flatten),
    ("5. Binarised", stage_binarise),
    ("6. Cleaned (lines, specks, edges removed)", stage_clean),
    (BOXES_STAGE, stage_boxes),
    ("8. Turned level (where the digits run at a slope)", stage_level),
    ("9. MNIST-style 28x28 digits", stage_mnist),
]

#: Run after either ink path when the sequence reader is on (``ReadOptions.reader``).
SEQUENCE_STAGES: list[tuple[str, Callable[[Work], np.ndarray]]] = [
    ("10. Sequence reader: each row and its digit probabilities (0-9, blank)", stage_sequence),
    ("11. Both readers fused", stage_fuse),
]


LEARNED_STAGES: list[tuple[str, Callable[[Work], np.ndarray]]] = STAGES[:3] + [
    ("4. Ink probability (learned)", stage_learned_ink),
    ("5. Ink, light flattened (polarity of the learned ink)", stage_flatten_learned),
    ("6. Cleaned (specks, edges removed)", stage_clean_learned),
] + STAGES[6:]


def run_pipeline(image, options: ReadOptions, classify: bl.Classify) -> PipelineResult:
    """Run every stage on ``image``; ValueError if it is not a readable image.

    ``classify(digits, stroke_variants=False) -> (labels, probs)`` is
    ``Recognizer.classify``, or a ``BudgetedClassify`` whose budget this reading shares.
    """
    # A caller reading one photo more than once (recognizer's two ink stages) passes one budget for all.
    budget = classify if isinstance(classify, BudgetedClassify) else BudgetedClassify(classify)
    work = Work(source=image, options=options, classify=budget)
    stages = []
    plan = LEARNED_STAGES if options.ink == "learned" else STAGES
    if options.reader != "segmenter" and line_net.line_net_available():
        plan = plan + SEQUENCE_STAGES
    try:
        for name, stage in plan:
            stages.append((name, stage(work)))
    except WorkBudgetExceeded:
        # No digits, so no marks left out beside them either (their warning names digits).
        work.blobs, work.probs, work.left_out = [], np.zeros((0, 10), np.float32), []
        work.warnings.append(TOO_MUCH_WORK)
    if work.polarity == "light" and options.polarity == "auto":
        work.warnings.append("Light strokes on a dark background were detected (MNIST polarity).")
    digits = [
        FoundDigit(
            box_original=_to_original(b.box, work),
            mnist=b.mnist,
            row=b.row,
        )
        for b in work.blobs
    ]
    left_out = [_to_original(box, work) for box in work.left_out]
    warnings = list(dict.fromkeys(work.warnings))  # a stage run twice (stage_level) says it once
    return PipelineResult(digits, work.probs, stages, warnings, work.photo_rgb, work.scale, left_out, work.fusions,
                          work.polarity)


def _to_original(box: tuple[int, int, int, int], work: Work) -> tuple[int, int, int, int]:
    """A box in working px (turned, if the photo was turned level) in the original image's px."""
    if work.level is not None:
        box = geometry.box_back(box, work.level, *work.photo_rgb.shape[:2])
    scale = work.scale
    x, y, w, h = box
    return (int(round(x / scale)), int(round(y / scale)), max(1, int(round(w / scale))), max(1, int(round(h / scale))))

