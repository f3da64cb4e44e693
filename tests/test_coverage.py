"""Ink a reading left out, and digits one reading has that another dropped (``digitlib.reading.coverage``)."""

from __future__ import annotations

import numpy as np

from digitlib.ink_pages import make_ink_page_with_text
from digitlib.reading.coverage import COVER_GROW, SURE_DIGIT, covering_reading, dropped_sure_digits
from digitlib.reading.result import ReadOptions
from digitlib.recognizer import digit_boxes

ROW = [(10, 0, 10, 20), (30, 0, 10, 20), (50, 0, 10, 20)]  # three digit boxes side by side


def test_a_sure_digit_with_no_box_over_it_was_dropped():
    assert dropped_sure_digits(ROW, ROW, [0.99] * 3) == 0
    assert dropped_sure_digits(ROW[:2], ROW, [0.99] * 3) == 1  # the third is sure and nothing covers it
    assert dropped_sure_digits(ROW[:2], ROW, [0.99, 0.99, SURE_DIGIT - 0.01]) == 0  # an unsure one does not count
    assert dropped_sure_digits([], ROW, [0.99] * 3) == 3


def test_boxes_a_few_pixels_apart_cover_the_same_digit():
    shifted = [(x + int(COVER_GROW * w) + 4, y, w, h) for x, y, w, h in ROW]  # centres just inside the grown boxes
    assert dropped_sure_digits(ROW, shifted, [0.99] * 3) == 0
    beside = [(x + w, y, w, h) for x, y, w, h in ROW[2:]]  # a whole width to the right: a digit of its own
    assert dropped_sure_digits(ROW, beside, [0.99]) == 1


def test_the_reading_that_dropped_fewer_of_the_others_sure_digits_covers_it():
    three, one = (ROW, [0.99] * 3), (ROW[1:2], [0.99])
    assert covering_reading(three, one) == 0 and covering_reading(one, three) == 1
    assert covering_reading(three, three) is None
    # Each dropped a sure digit of the other: the one that dropped fewer.
    far = [(200, 0, 10, 20)]
    assert covering_reading((ROW[:2] + far, [0.99] * 3), (ROW, [0.99] * 3)) is None  # one each
    assert covering_reading((ROW[:1] + far, [0.99] * 2), (ROW, [0.99] * 3)) == 1
    # Unsure digits give no say: a reading unsure of its digits cannot outvote a sure one.
    assert covering_reading((ROW, [0.5] * 3), one) is None


def test_the_ink_stage_that_kept_every_digit_is_shown_over_a_surer_one_that_lost_most(recognizer, train_digits):
    # A training-generator photo (MNIST training digits, a seed the ink network never trained on):
    # "6119457" small on grid paper beside a cast shadow. The threshold stage loses the digits to the
    # grid and reads one "6" from the shadow, sure of it; the ink network reads all seven.
    photo, _, label = make_ink_page_with_text(np.random.default_rng((4242, 151)), train_digits, (640, 480), 2.5)
    threshold = recognizer.read(photo, ReadOptions(ink="threshold"))
    learned = recognizer.read(photo, ReadOptions(ink="learned"))
    assert label == learned.text == "6119457" and threshold.text != label
    assert threshold.confidence > learned.confidence  # by confidence alone, the threshold stage's would be shown
    assert covering_reading(digit_boxes(threshold), digit_boxes(learned)) == 1
    reading = recognizer.read(photo)
    assert reading.text == label and any("The two ink stages disagree" in w for w in reading.warnings)
