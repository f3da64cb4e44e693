"""The sequence reader inside the pipeline: each row read whole, and fused with the segmenter.

``read_rows`` crops every row the segmenter found (``row_crop``) from the grey
photo and reads each with ``line_net``. ``fuse_row`` then decides,
row by row, between the segmenter's digits (one classification per cut-out
digit) and the sequence reader's (the whole row at once, which needs no cuts:
touching and joined digits, separators):

- both read the same digits: the segmenter's boxes are kept and each digit's
  confidence is the larger of the two readers';
- they differ: each reading is weighed by both readers. The sequence reader scores the
  segmenter's digits as it scores its own: the CTC probability that the row reads exactly
  those digits (``line_net.text_log_likelihood``). The sequence reader's reading is shown
  where ln(its CTC probability / the segmenter's digits' CTC probability) + ln(its
  confidence / the segmenter's confidence) is over ``SEQUENCE_LOG_MARGIN``
  (``RowFusion.sequence_margin``, ``prefer_sequence``), else the segmenter's; a warning
  names the other reading, and each digit of the shown reading that the other does not
  share keeps at most ``DISAGREE_CAP`` confidence.

The margin was measured with ``python -m digitlib.fusion_fit --choice rows --pages 800``
on 681 photos of the two training generators (``digitlib.synth`` and ``digitlib.ink_pages``,
MNIST *training* digits; the benchmarks' pages were not used), each read with either ink
stage. With the threshold ink, then the learned ink, the margin 5 reads 481 and 536 of them
exactly (margins 4-6: 479-481 and 536); the rule it replaced (the sequence reader where its
confidence was 1.5 times the segmenter's) read 469 and 524, the higher confidence 471 and
521, the segmenter always 451 and 491, the sequence reader always 451 and 510 (BENCHMARKS.md,
*The readers' fusion weighs each reading by both readers*). The cap is the share of rows the
readers disagree on that the shown reading got right when it was set (23 %).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import cv2
import numpy as np

from . import line_net
from .blobs import Blob
from .coverage import LEFT_OUT_PENALTY

#: Confidence a digit keeps at most when the two readers disagree on its row (see the module doc).
DISAGREE_CAP = 0.25
#: ln of how much likelier, by both readers, the sequence reader's reading of a row must be than
#: the segmenter's to be shown (``RowFusion.sequence_margin``; the module doc says how it was set).
SEQUENCE_LOG_MARGIN = 5.0


@dataclass
class RowFusion:
    """One row's two readings and what the fusion rule weighs them by."""

    segmenter: str
    segmenter_confidence: float  # the product of its digits' probabilities, LEFT_OUT_PENALTY per mark left out
    sequence: str
    sequence_confidence: float  # the product of its digits' confidences
    segmenter_likelihood: float  # ln P(the segmenter's digits | row) by the sequence reader's CTC output
    sequence_likelihood: float  # ln P(its own digits | row), the same way

    def sequence_margin(self) -> float:
        """ln of how much likelier the sequence reader's reading is: the CTC ratio of the two
        texts times the ratio of the two confidences (each floored at 1e-6; inf where CTC rules
        the segmenter's digits out)."""
        if self.segmenter_likelihood == -math.inf:
            return math.inf
        return (self.sequence_likelihood - self.segmenter_likelihood
                + math.log(max(self.sequence_confidence, 1e-6)) - math.log(max(self.segmenter_confidence, 1e-6)))


def prefer_sequence(fusion: RowFusion, margin: float = SEQUENCE_LOG_MARGIN) -> bool:
    """Whether a row the readers disagree on is shown as the sequence reader read it."""
    return fusion.sequence_margin() > margin


@dataclass
class RowSequence:
    """One row as the sequence reader saw it."""

    row: int
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the crop, working px
    input: np.ndarray  # float32 (32, W): what the network read
    read: line_net.RowDigits


def row_crop(blobs: list[Blob], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in an image of ``shape`` (H, W): the row's digits with
    ``line_net.CROP_SIDE`` digit heights beside them and a quarter height above and below
    (at least ``line_net.CROP_HALF_HEIGHT`` heights either side of the centre line), as the
    training rows of ``digitlib.line_rows`` are framed."""
    h_img, w_img = shape
    digit_h = float(np.median([b.h for b in blobs]))
    top, bottom = min(b.y for b in blobs), max(b.y + b.h for b in blobs)
    centre = float(np.median([b.cy for b in blobs]))
    y0 = min(top - 0.25 * digit_h, centre - line_net.CROP_HALF_HEIGHT * digit_h)
    y1 = max(bottom + 0.25 * digit_h, centre + line_net.CROP_HALF_HEIGHT * digit_h)
    x0 = min(b.x for b in blobs) - line_net.CROP_SIDE * digit_h
    x1 = max(b.x + b.w for b in blobs) + line_net.CROP_SIDE * digit_h
    return (max(0, int(x0)), max(0, int(y0)), min(w_img, int(np.ceil(x1))), min(h_img, int(np.ceil(y1))))


def read_rows(rows: list[list[Blob]], grey: np.ndarray, polarity: str,
              model: line_net.LineNet | None = None) -> list[RowSequence]:
    """Read each row of blobs (working px) from the grey uint8 (H, W) photo."""
    boxes = [row_crop(row, grey.shape) for row in rows]
    inputs = [line_net.row_input(grey[y0:y1, x0:x1], polarity) for x0, y0, x1, y1 in boxes]
    reads = line_net.read_inputs(inputs, model)
    return [RowSequence(row[0].row, box, x, r) for row, box, x, r in zip(rows, boxes, inputs, reads)]


def sequence_blobs(seq: RowSequence, mask: np.ndarray, row_blobs: list[Blob]) -> list[Blob]:
    """One Blob per digit the sequence reader read. Where the segmenter cut the row into as many
    pieces, they are those pieces, in order. Else, where one of the segmenter's ``row_blobs``
    is centred inside the digit's CTC span, it is that blob (the nearest to where CTC fired):
    its box and mask are the cut digit's. Otherwise (digits the segmenter merged or dropped) the
    box is the ``mask``'s ink (bool (H, W), the cleaned ink) inside the span; the whole crop's
    height where the mask is empty there."""
    x0, y0, x1, y1 = seq.box
    per_px = (x1 - x0) / seq.input.shape[1]
    if len(row_blobs) == len(seq.read.text):  # as many pieces as digits: they pair up in order
        return list(row_blobs)
    used: set[int] = set()
    out = []
    for (a, b), centre in zip(seq.read.spans, seq.read.centres):
        left = x0 + int(a * per_px)
        right = max(left + 1, min(x1, x0 + int(np.ceil(b * per_px))))
        inside = [i for i, blob in enumerate(row_blobs) if i not in used and left <= blob.cx < right]
        if inside:
            best = min(inside, key=lambda i: abs(row_blobs[i].cx - (x0 + centre * per_px)))
            used.add(best)
            out.append(row_blobs[best])
            continue
        region = mask[y0:y1, left:right]
        cols, rows = np.flatnonzero(region.any(0)), np.flatnonzero(region.any(1))
        if cols.size and rows.size:
            bx, by = left + int(cols[0]), y0 + int(rows[0])
            bw, bh = int(cols[-1] - cols[0]) + 1, int(rows[-1] - rows[0]) + 1
            piece = mask[by : by + bh, bx : bx + bw].copy()
        else:
            bx, by, bw, bh = left, y0, right - left, y1 - y0
            piece = np.ones((bh, bw), bool)
        out.append(Blob(bx, by, bw, bh, piece, row=seq.row))
    return out


def sequence_probs(seq: RowSequence) -> np.ndarray:
    """float32 (N, 10): for each digit read, the ten digits' probabilities at its surest step."""
    out = np.zeros((len(seq.read.text), 10), np.float32)
    best = seq.read.probs.argmax(1)
    step = 0
    for i, ch in enumerate(seq.read.text):
        k = int(ch)
        steps = np.flatnonzero(best == k)
        steps = steps[steps >= step] if (steps >= step).any() else steps
        t = int(steps[np.argmax(seq.read.probs[steps, k])]) if steps.size else 0
        out[i] = seq.read.probs[t, :10]
        step = t + 1
    return out


def digits_text(probs: np.ndarray) -> str:
    """The digits float32 (N, 10) probabilities read, as text: each row's likeliest digit."""
    return "".join(str(int(k)) for k in probs.argmax(1))


def row_fusion(seg_probs: np.ndarray, seq: RowSequence, left_out: int = 0) -> RowFusion:
    """What ``fuse_row`` weighs for a row: the segmenter's float32 (N, 10) probabilities and the
    sequence reading ``seq``, each reading's confidence and its CTC log-likelihood. ``left_out``:
    digit-sized marks in the row the segmenter left out; each costs its confidence
    ``LEFT_OUT_PENALTY``, as it costs the segmenter's reading alone."""
    seg_text = digits_text(seg_probs)
    seg_conf = float(np.prod(seg_probs.max(1))) * LEFT_OUT_PENALTY ** left_out if len(seg_probs) else 0.0
    seq_conf = float(np.prod(seq.read.confidences)) if seq.read.text else 0.0
    seq_likelihood = line_net.text_log_likelihood(seq.read.probs, seq.read.text)
    # Most rows are read alike by both: one CTC pass gives both likelihoods.
    seg_likelihood = seq_likelihood if seg_text == seq.read.text else line_net.text_log_likelihood(seq.read.probs, seg_text)
    return RowFusion(seg_text, seg_conf, seq.read.text, seq_conf, seg_likelihood, seq_likelihood)


def fuse_row(seg_probs: np.ndarray, seq: RowSequence, left_out: int = 0) -> tuple[str, np.ndarray, str | None, RowFusion]:
    """Choose between the segmenter's float32 (N, 10) probabilities for a row and its
    sequence reading. Returns (which: "agree", "segmenter" or "sequence", the chosen
    digits' probabilities (float32 (M, 10), confidences adjusted as the module doc says),
    the other reader's text when they disagree, else None, and what the rule weighed
    (``row_fusion``; ``left_out`` as there))."""
    fusion = row_fusion(seg_probs, seq, left_out)
    seq_probs = sequence_probs(seq)
    if fusion.segmenter == fusion.sequence:
        fused = seg_probs.copy()
        idx = np.arange(len(fused)), seg_probs.argmax(1)
        fused[idx] = np.maximum(seg_probs[idx], seq_probs[idx])
        return "agree", fused, None, fusion
    if prefer_sequence(fusion):
        which, chosen, chosen_text, other = "sequence", seq_probs, fusion.sequence, fusion.segmenter
    else:
        which, chosen, chosen_text, other = "segmenter", seg_probs, fusion.segmenter, fusion.sequence
    return which, cap_differences(chosen, chosen_text, other), other, fusion


def cap_differences(probs: np.ndarray, text: str, other: str) -> np.ndarray:
    """Copy of float32 (N, 10) ``probs`` of the digits ``text`` in which each digit that the
    ``other`` reading does not share (``difflib``'s opcodes) keeps at most ``DISAGREE_CAP``.
    Where ``other`` only has more digits, the digit beside the first place it has more is
    capped. The probability taken from a digit goes first to the digit ``other`` reads in its
    place, then evenly to the other nine, each kept under the cap, so the row still sums as
    before (the doubt is about which digit, not about whether it is one) and the shown digit
    stays the likeliest (where another digit already has more than the cap, the cap is just
    above it)."""
    capped = probs.copy()
    if not len(capped):
        return capped
    opcodes = difflib.SequenceMatcher(None, text, other, autojunk=False).get_opcodes()
    instead: dict[int, int | None] = {}
    for op, a0, a1, b0, b1 in opcodes:
        if op == "replace":
            for k, i in enumerate(range(a0, a1)):
                instead[i] = int(other[b0 + k]) if b0 + k < b1 else None
        elif op == "delete":
            instead.update({i: None for i in range(a0, a1)})
    if not instead:  # other has extra digits only: doubt the digit where they go
        first = next(a0 for op, a0, _, _, _ in opcodes if op == "insert")
        instead[min(first, len(text) - 1)] = None
    for i, alternative in instead.items():
        k = int(probs[i].argmax())
        # A runner-up already over DISAGREE_CAP sets the cap just above it: the shown digit stays the likeliest.
        cap = max(DISAGREE_CAP, float(np.delete(capped[i], k).max()) + 1e-3)
        excess = float(capped[i, k] - cap)
        if excess <= 0:
            continue
        capped[i, k] = cap
        # Every other digit stays below the cap, so the shown digit stays the best.
        room = np.maximum(0.0, cap - 1e-3 - capped[i])
        room[k] = 0.0
        if alternative is not None and alternative != k:
            give = min(excess, float(room[alternative]))
            capped[i, alternative] += give
            room[alternative] -= give
            excess -= give
        while excess > 1e-7 and room.sum() > 1e-7:  # the rest spread evenly, as far as there is room
            add = np.minimum(room, excess / np.count_nonzero(room > 1e-9))
            capped[i] += add
            room -= add
            excess -= float(add.sum())
    return capped


# Viridis as an RGB lookup table, built once: cv2.applyColorMap rebuilds its table on every call
# (about 9 ms, a tenth of a webcam photo's reading).
VIRIDIS_RGB = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_VIRIDIS)[:, 0, ::-1].copy()


def heatmap(rows: list[RowSequence], zoom: int = 2) -> np.ndarray:
    """RGB uint8 image: each row's input (what the reader saw) over its per-step
    probabilities (one band per digit 0-9, then the blank; bright = likely), rows stacked."""
    parts = []
    for seq in rows:
        crop = (seq.input * 255).astype(np.uint8)
        probs = (seq.read.probs.T * 255).astype(np.uint8)  # (11, T)
        band = cv2.resize(probs, (crop.shape[1], 11 * 6), interpolation=cv2.INTER_NEAREST)
        strip = np.vstack([crop, np.full((2, crop.shape[1]), 90, np.uint8), band])
        strip = cv2.resize(strip, (strip.shape[1] * zoom, strip.shape[0] * zoom), interpolation=cv2.INTER_NEAREST)
        coloured = VIRIDIS_RGB[strip]
        coloured[: crop.shape[0] * zoom] = np.repeat(strip[: crop.shape[0] * zoom, :, None], 3, axis=2)
        parts.append(coloured)
    if not parts:
        return np.zeros((32, 32, 3), np.uint8)
    width = max(p.shape[1] for p in parts)
    padded = [np.pad(p, ((0, 8), (0, width - p.shape[1]), (0, 0)), constant_values=245) for p in parts]
    return np.vstack(padded)
