"""What a reading asks for and what it gives back: ``ReadOptions``, ``Reading``, ``DigitReading``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .draw import draw_boxes

#: A digit less sure than this is flagged: a warning, an orange box, a highlight in the app.
UNCERTAIN_BELOW = 0.80


@dataclass
class ReadOptions:
    """The few knobs that rescue a bad photo; the defaults suit most photos and scans.

    polarity: "auto", "dark" (dark ink on light paper) or "light" (light strokes
    on a dark background, like MNIST); "auto": the learned ink stage takes it from its own mask
    (``illumination.polarity_of_ink``), the threshold stage guesses it from the whole photo. ink: "learned" (the ink network marks the digit
    ink, ``reading.ink_net``), "threshold" (a threshold on the flattened ink, then
    line, speck and edge removal) or "auto" (both: the learned stage first, then the
    threshold one, the surer reading shown: ``recognizer.choose_ink``). min_digit_height:
    ignore marks shorter than this many pixels of the working image (0: automatic). max_side: larger images
    are downscaled so their longer side is this many pixels. uncertain_below: a
    digit whose confidence is lower gets a warning. reader: "segmenter" (each digit
    cut out and classified), "sequence" (each row read whole by ``reading.line_net``)
    or "fused" (both, row by row, see ``reading.sequence``). level: a number that runs
    at a slope of 10 to 30 degrees is turned level before it is cut and read
    (``reading.geometry``); False reads the photo as it is.
    """

    polarity: str = "auto"
    ink: str = "auto"
    min_digit_height: int = 0
    max_side: int = 1600
    uncertain_below: float = UNCERTAIN_BELOW
    reader: str = "fused"
    level: bool = True

    def __post_init__(self) -> None:
        if self.ink not in ("auto", "learned", "threshold"):
            raise ValueError(f"ink must be 'auto', 'learned' or 'threshold', not {self.ink!r}")
        if self.reader not in ("fused", "segmenter", "sequence"):
            raise ValueError(f"reader must be 'fused', 'segmenter' or 'sequence', not {self.reader!r}")
        if self.polarity not in ("auto", "dark", "light"):
            raise ValueError(f"polarity must be 'auto', 'dark' or 'light', not {self.polarity!r}")
        if self.min_digit_height < 0 or self.max_side < 64:
            raise ValueError("min_digit_height must be >= 0 and max_side >= 64")


@dataclass
class DigitReading:
    """One digit found in the image."""

    label: int
    confidence: float  # probability that this is one digit and it is ``label``
    top3: list[tuple[int, float]]  # best three (label, probability), best first
    box: tuple[int, int, int, int]  # (x, y, width, height) in the original image's pixels
    image: np.ndarray  # uint8 (28, 28), MNIST polarity: what the classifier saw
    row: int = 0  # index of the text row the digit belongs to, top to bottom


@dataclass
class Reading:
    """The result of ``Recognizer.read``."""

    text: str  # digits left to right; rows joined by "\n"; "" when none
    digits: list[DigitReading]
    # product of the digits' confidences, lowered for ink left out, capped where the two ink stages
    # disagree (0.0 when there are none)
    confidence: float
    warnings: list[str]
    stages: list[tuple[str, np.ndarray]]  # (name, uint8 image) of every step, in order
    image: np.ndarray | None = None  # the decoded photo, RGB uint8, at working size
    scale: float = 1.0  # working size / original size
    seconds: float = 0.0
    # (x, y, w, h), original px: digit-sized marks in the number's rows that no digit covers (each
    # lowered the confidence and has a warning saying where)
    left_out: list[tuple[int, int, int, int]] = field(default_factory=list)
    polarity: str = "dark"  # the ink read: "dark" on light paper, or "light" on a dark ground

    @property
    def rows(self) -> list[str]:
        return self.text.split("\n") if self.text else []

    def annotated(self) -> np.ndarray:
        """The photo (RGB uint8, working size) with each digit's box and label drawn on it."""
        if self.image is None:
            raise ValueError("this reading has no image to draw on")
        return draw_boxes(self.image, self.digits, UNCERTAIN_BELOW, self.scale)
