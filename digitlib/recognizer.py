"""``Recognizer``: the package's front door. ``classify`` 28x28 digits, ``read`` whole photos."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from .checkpoint import load_model
from .formatting import one_line
from .model import digit_probabilities, fuse_for_inference
from .reading.coverage import LEFT_OUT_PENALTY
from .reading.decode import load_image
from .reading.pipeline import TOO_MUCH_WORK, BudgetedClassify, run_pipeline
from .reading.result import DigitReading, Reading, ReadOptions

_STROKE_KERNEL = np.ones((2, 2), np.uint8)
VOTE_BELOW = 0.9  # Recognizer.classify's stroke-width vote is held for digits less sure than this


def stroke_width_variants(digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A thinner (grey erosion) and a thicker (grey dilation) copy of uint8 (N, 28, 28) digits."""
    thinner = np.stack([cv2.erode(d, _STROKE_KERNEL) for d in digits])
    thicker = np.stack([cv2.dilate(d, _STROKE_KERNEL) for d in digits])
    return thinner, thicker


def top3(probs: np.ndarray) -> list[list[tuple[int, float]]]:
    """float32 (N, 10) probabilities -> each row's best three (label, probability), best first."""
    order = np.argsort(-probs, axis=1)[:, :3]
    return [[(int(j), float(p[j])) for j in row] for row, p in zip(order, probs)]


def uncertain_warning(number: int, digit: DigitReading) -> str:
    """The warning for digit ``number`` (1-based, reading order) read with too little confidence."""
    alt = digit.top3[1]
    return (f"Digit {number} is uncertain: read as {digit.label} ({digit.confidence:.0%}), "
            f"maybe {alt[0]} ({alt[1]:.0%}).")


def left_out_warning(box: tuple[int, int, int, int], digits: list[DigitReading]) -> str:
    """Where a left-out mark (x, y, w, h, original px) lies, in words: "before digit 1",
    "between digits 2 and 3", "after digit 4" of the row it lies in (with no digits read, where
    in the photo)."""
    x, y, w, h = box
    if not digits:  # the rows it lay beside were read as holding no digit at all
        return (f"A mark the size of a digit (at x={x}, y={y} px) was not read: a digit may be missing. "
                "Check the photo, or crop it closer to the number.")
    centre = x + w / 2
    row = min({d.row for d in digits}, key=lambda r: min(abs(d.box[1] + d.box[3] / 2 - (y + h / 2))
                                                           for d in digits if d.row == r))
    numbered = [(i, d) for i, d in enumerate(digits, 1) if d.row == row]
    before = [i for i, d in numbered if d.box[0] + d.box[2] / 2 < centre]
    if not before:
        where = f"before digit {numbered[0][0]}"
    elif before[-1] == numbered[-1][0]:
        where = f"after digit {before[-1]}"
    else:
        where = f"between digits {before[-1]} and {before[-1] + 1}"
    return (f"A mark the size of a digit {where} (at x={x}, y={y} px) was left out of the reading: "
            "a digit may be missing. Check the number, or crop the photo closer.")


#: The learned stage's reading is shown over the threshold stage's only where it is at least
#: this sure: below it a reading is a guess (the app shows no number below it either), and the
#: network finds digit-like ink in pure noise, at confidences of about 1e-6.
INK_REPLACE_FROM = 0.10
#: Where the two ink stages read different numbers, the reading shown was exact 81 times in 231
#: on those photos (35 %; with earlier ink networks 76 in 204 and 80 in 197): its confidence is
#: capped below that.
INK_DISAGREE_CAP = 0.25


def prefer_learned(threshold_confidence: float, learned_confidence: float) -> bool:
    """Whether a photo read by both ink stages is shown as the learned stage read it, rather than the threshold stage."""
    return learned_confidence > threshold_confidence and learned_confidence >= INK_REPLACE_FROM


def agreed_confidence(threshold_confidence: float, learned_confidence: float) -> float:
    """The confidence of a number both ink stages read: the geometric mean of theirs."""
    return float(np.sqrt(threshold_confidence * learned_confidence))


def shown_ink(threshold_text: str, threshold_confidence: float, learned_text: str,
              learned_confidence: float) -> tuple[bool, float]:
    """Of a photo's two readings (text, confidence), whether the learned one is shown, and the
    confidence shown: the geometric mean where both read the same number, else the shown
    reading's own, at most ``INK_DISAGREE_CAP`` (``choose_ink``; ``fusion_fit`` weighs the rule by it)."""
    learned_kept = prefer_learned(threshold_confidence, learned_confidence)
    if threshold_text == learned_text:
        return learned_kept, agreed_confidence(threshold_confidence, learned_confidence)
    return learned_kept, min(learned_confidence if learned_kept else threshold_confidence, INK_DISAGREE_CAP)


def digits_left_out(reading: Reading, found: Reading) -> int:
    """How many digits of ``found`` lie (their box's centre) in no digit box of ``reading``: digits
    another reading of the same photo found that this one leaves out."""
    boxes = [d.box for d in reading.digits]
    return sum(not any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in boxes)
               for cx, cy in ((d.box[0] + d.box[2] / 2, d.box[1] + d.box[3] / 2) for d in found.digits))


def weighed_threshold_confidence(confidence: float, left_out: int) -> float:
    """The threshold reading's confidence as ``choose_ink`` weighs it, given how many digits of the
    learned reading it leaves out (``digits_left_out``): the ink network marks digit ink only, so
    each is a mark of the size of a digit left out, and lowers the reading as one does."""
    return confidence * LEFT_OUT_PENALTY ** left_out


def choose_ink(threshold: Reading, learned: Reading) -> Reading:
    """The surer of one photo's two readings, by the threshold and the learned ink stage; the
    learned one must be at least ``INK_REPLACE_FROM`` sure, and the threshold one's confidence is
    lowered for each digit of the learned reading it leaves out (``weighed_threshold_confidence``).

    ``ReadOptions(ink="auto")`` reads every photo with both, the learned one first (a photo it
    finds too many marks in is not read again). On 682 photos from the training generators
    (``python -m digitlib.fusion_fit --choice ink``, BENCHMARKS.md; measured again late on
    2026-12-03 with the ink network trained in one round on scenes with notes) that reads 508
    exactly (504 with the threshold reading as sure as it is; the threshold stage alone 446; the
    learned stage alone 510, but it misreads 10 of the 25 sample photos, drawings with a thin pen
    among them, that this rule reads right), and its readings at 0.9 or more are exact 98.0 % of
    the time (342 of 349). Reading a photo a second time only where the first reading is under
    0.5 would read 508 exactly too, in 228 of 682 photos twice, but at 0.9 or more only 96.0 %
    exactly (the threshold stage first: 503 and 95.1 %): the other stage is the check that finds
    the confident mistakes.

    Where the two read the same number, its confidence is the geometric mean of theirs (on the
    training generators' photos, such numbers were exact 427 times in 451; the mean put 349 of
    them at 0.9 or more, 7 of those wrong). Where their numbers differ, the kept reading's
    confidence is at most ``INK_DISAGREE_CAP``, and so is each of its digits the other reading
    does not share; a warning names the other reading.
    """
    threshold = dataclasses.replace(threshold, confidence=weighed_threshold_confidence(
        threshold.confidence, digits_left_out(threshold, learned)))
    learned_kept, confidence = shown_ink(threshold.text, threshold.confidence, learned.text, learned.confidence)
    kept, other = (learned, threshold) if learned_kept else (threshold, learned)
    if kept.text == other.text:
        return dataclasses.replace(kept, confidence=confidence)
    # The digits the other reading does not share (its text aligned with this one's) are capped too.
    shared: set[int] = set()
    for start, _, size in difflib.SequenceMatcher(None, kept.text.replace("\n", ""), other.text.replace("\n", ""),
                                                   autojunk=False).get_matching_blocks():
        shared.update(range(start, start + size))
    digits = [d if i in shared else dataclasses.replace(d, confidence=min(d.confidence, INK_DISAGREE_CAP))
              for i, d in enumerate(kept.digits)]
    return dataclasses.replace(kept, digits=digits, confidence=confidence, warnings=[
        *kept.warnings,
        f"The two ink stages disagree: with the threshold it reads {one_line(threshold.text) or 'nothing'}, with "
        f"the learned ink {one_line(learned.text) or 'nothing'}; {one_line(kept.text) or 'nothing'} is shown. "
        "Check the number."])


class Recognizer:
    """Reads handwritten numbers with a trained model.

    ``model_path=None`` loads the model that ships with the package.
    """

    def __init__(self, model_path: str | os.PathLike | None = None) -> None:
        self.loaded = load_model(model_path)
        self.model = fuse_for_inference(self.loaded.model).to(memory_format=torch.channels_last)

    @property
    def model_path(self) -> Path:
        return self.loaded.path

    @property
    def meta(self) -> dict:
        return self.loaded.meta

    def classify(self, digits: np.ndarray, stroke_variants: bool = False,
                 memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Classify MNIST-like digits, batched.

        digits: uint8 ``(N, 28, 28)``, white digit on black, MNIST geometry.
        Returns ``labels`` int64 ``(N,)`` and ``probs`` float32 ``(N, 10)``. With a
        model that has the ``NOT_A_DIGIT`` output (the shipped one has), a row sums
        to less than 1: the rest is the chance that the input is not one digit,
        such as two touching digits or part of one.
        ``stroke_variants``: also classify each digit the model is unsure of (top
        probability under ``VOTE_BELOW``) a little thinner and a little thicker,
        and average the three: a pen much bolder or finer than MNIST's then sways
        the answer less. A sure answer hardly ever changes, and most digits are sure.
        ``memo``: a dict that remembers the model's answer for each digit image
        across calls; ``read`` gives each reading one, since its last stage asks
        again about digits the splitting already asked about.
        """
        if not isinstance(digits, np.ndarray):
            raise ValueError(f"digits must be a numpy array, not {type(digits).__name__}")
        if digits.dtype != np.uint8:
            raise ValueError(f"digits must be uint8, not {digits.dtype}")
        if digits.ndim != 3 or digits.shape[1:] != (28, 28):
            raise ValueError(f"digits must have shape (N, 28, 28), not {digits.shape}")
        if len(digits) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 10), dtype=np.float32)
        probs = self._probabilities(digits) if memo is None else self._remembered(digits, memo)
        doubtful = probs.max(1) < VOTE_BELOW if stroke_variants else np.zeros(len(digits), bool)
        if doubtful.any():
            variants = stroke_width_variants(digits[doubtful])
            voted = self._probabilities(np.concatenate(variants)).reshape(len(variants), -1, 10).sum(0)
            probs[doubtful] = (probs[doubtful] + voted) / (len(variants) + 1)
        return probs.argmax(1).astype(np.int64), probs

    def _remembered(self, digits: np.ndarray, memo: dict) -> np.ndarray:
        """``_probabilities``, asking the model only about digits not in ``memo`` (keyed by their bytes)."""
        keys = [d.tobytes() for d in digits]
        new = list({k: i for i, k in enumerate(keys) if k not in memo}.values())
        if new:
            for i, p in zip(new, self._probabilities(digits[new])):
                memo[keys[i]] = p
        return np.stack([memo[k] for k in keys])

    def _probabilities(self, digits: np.ndarray) -> np.ndarray:
        """uint8 (N, 28, 28) -> float32 (N, 10), one batched forward pass."""
        x = torch.from_numpy(np.ascontiguousarray(digits)).float().div_(255.0).unsqueeze_(1)
        x = ((x - self.loaded.mean) / self.loaded.std).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return digit_probabilities(self.model(x)).numpy().astype(np.float32)

    def read(self, image, options: ReadOptions | None = None) -> Reading:
        """Read the number(s) in a photo or scan.

        image: a path, bytes of an encoded image (PNG, JPEG, BMP, TIFF, WebP), or a
        numpy array (grey ``(H, W)``, BGR ``(H, W, 3)`` or BGRA ``(H, W, 4)``).
        Raises ValueError for input that is not a readable image.
        """
        start = time.perf_counter()
        options = options or ReadOptions()
        # Decoded once, however many times it is read: a file object gives its bytes only once.
        image, notes = load_image(image)
        # One budget of classifier work for the photo, however many times it is read.
        classify = BudgetedClassify(functools.partial(self.classify, memo={}))
        if options.ink != "auto":
            reading = self._read(image, options, classify)
        else:
            reading = self._read(image, dataclasses.replace(options, ink="learned"), classify)
            # Too many marks is a texture or a page of text whichever stage finds the ink.
            if TOO_MUCH_WORK not in reading.warnings:
                threshold = self._read(image, dataclasses.replace(options, ink="threshold"), classify)
                reading = choose_ink(threshold, reading)
        reading.warnings[:0] = notes  # the decoder's (a converted 16-bit scan, a turned JPEG, ...)
        reading.seconds = time.perf_counter() - start
        return reading

    def _read(self, image, options: ReadOptions, classify: BudgetedClassify) -> Reading:
        """``read`` with one ink stage ("threshold" or "learned")."""
        result = run_pipeline(image, options, classify)
        digits = []
        for d, probs in zip(result.digits, result.probs):
            best = top3(probs[None])[0]
            digits.append(DigitReading(
                label=best[0][0], confidence=best[0][1], top3=best,
                box=d.box_original, image=d.mnist, row=d.row,
            ))
        rows: dict[int, str] = {}
        for d in digits:
            rows[d.row] = rows.get(d.row, "") + str(d.label)
        text = "\n".join(rows[r] for r in sorted(rows))
        warnings = list(result.warnings)
        if not digits:
            warnings.append("No digits were found in this image.")
        for i, (d, probs) in enumerate(zip(digits, result.probs), 1):
            if d.confidence >= options.uncertain_below:
                continue
            if 1.0 - float(probs.sum()) > 0.5:
                warnings.append(
                    f"Digit {i} may not be one digit (touching digits, or part of one): read as {d.label} "
                    f"({d.confidence:.0%})."
                )
            else:
                warnings.append(uncertain_warning(i, d))
        warnings += [left_out_warning(box, digits) for box in result.left_out]
        confidence = float(np.prod([d.confidence for d in digits])) if digits else 0.0
        # A digit-sized mark the reading left out may be a digit it dropped: the number it gives is
        # then short by one, however sure each digit it kept is.
        confidence *= LEFT_OUT_PENALTY ** len(result.left_out)
        return Reading(
            text=text, digits=digits, confidence=confidence, warnings=warnings,
            stages=result.stages, image=result.image_rgb, scale=result.scale, left_out=result.left_out,
            polarity=result.polarity,
        )
