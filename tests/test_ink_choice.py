"""ReadOptions(ink="auto"): both ink stages read every photo, the surer reading is kept, and a
disagreement is named (``recognizer.choose_ink``)."""

from __future__ import annotations

import math

import pytest

import numpy as np

from digitlib import ink_pages
from digitlib.reading.result import DigitReading, Reading, ReadOptions
from digitlib.reading.coverage import LEFT_OUT_PENALTY
from digitlib.recognizer import INK_DISAGREE_CAP, choose_ink, digits_left_out
from tests.support import read_sample_labels
from tests.test_ink_net import _page_with_a_line_and_a_shadow


def _reading(text: str, confidence: float, stage: str) -> Reading:
    digits = [DigitReading(int(ch), 0.99, [(int(ch), 0.99)], (10 * i, 0, 10, 20), np.zeros((28, 28), np.uint8))
              for i, ch in enumerate(text)]
    return Reading(text=text, digits=digits, confidence=confidence, warnings=[], stages=[(stage, None)])


def test_where_the_ink_stages_agree_the_surer_reading_is_kept_as_sure_as_both_together():
    kept = choose_ink(_reading("3450", 0.4, "threshold"), _reading("3450", 0.9, "learned"))
    assert kept.stages[0][0] == "learned" and not kept.warnings
    assert kept.confidence == pytest.approx(0.6)  # (0.4 * 0.9) ** 0.5: the unsure stage keeps it below 0.9


@pytest.mark.parametrize("threshold, learned, shown", [(0.3, 0.95, "learned"), (0.45, 0.2, "threshold")])
def test_where_they_disagree_the_surer_is_shown_capped_and_the_other_named(threshold, learned, shown):
    kept = choose_ink(_reading("3451", threshold, "threshold"), _reading("3450", learned, "learned"))
    assert kept.stages[0][0] == shown
    assert kept.confidence == pytest.approx(min(max(threshold, learned), INK_DISAGREE_CAP))
    assert kept.warnings == [f"The two ink stages disagree: with the threshold it reads 3451, with the learned ink "
                             f"3450; {kept.text} is shown. Check the number."]
    # Only a digit the other reading lacks (the last) is capped; the shared ones keep theirs.
    assert [d.confidence for d in kept.digits] == [0.99, 0.99, 0.99, INK_DISAGREE_CAP]


def test_a_threshold_reading_that_leaves_out_a_digit_the_ink_network_found_is_less_sure():
    # The learned reading's "0" lies where the threshold reading has no digit: a digit-sized mark
    # left out, so the threshold's 0.45 counts as 0.45 * LEFT_OUT_PENALTY (0.135), under the 0.2.
    assert LEFT_OUT_PENALTY * 0.45 < 0.2 < 0.45
    threshold, learned = _reading("345", 0.45, "threshold"), _reading("3450", 0.2, "learned")
    assert digits_left_out(threshold, learned) == 1 and digits_left_out(learned, threshold) == 0
    kept = choose_ink(threshold, learned)
    assert kept.stages[0][0] == "learned" and kept.confidence == pytest.approx(0.2)
    # Where the threshold reading covers that digit too, its own confidence stands.
    assert choose_ink(_reading("3451", 0.45, "threshold"), learned).stages[0][0] == "threshold"


def test_a_hard_shadow_across_a_number_keeps_every_digit(recognizer, test_digits):
    photo = _page_with_a_line_and_a_shadow(test_digits)[0]  # "3074", its last digit in a hard shadow
    # The threshold stage's cuts alone: the shadow's edge costs them a digit (the sequence reader,
    # reading the row whole, has it, and the readers' fusion takes it).
    threshold = recognizer.read(photo, ReadOptions(ink="threshold", reader="segmenter"))
    assert threshold.text != "3074"
    reading = recognizer.read(photo)
    assert reading.text == "3074"
    assert any("learned" in name for name, _ in reading.stages)


def test_a_sure_photo_is_read_by_both_stages_and_stays_sure_where_they_agree(recognizer):
    path, label, _ = next(s for s in read_sample_labels() if "webcam" in str(s[0]))
    learned = recognizer.read(path, ReadOptions(ink="learned"))
    threshold = recognizer.read(path, ReadOptions(ink="threshold"))
    reading = recognizer.read(path)
    assert reading.text == learned.text == threshold.text == label
    assert reading.confidence == pytest.approx((learned.confidence * threshold.confidence) ** 0.5)
    assert reading.confidence >= 0.9 and not any("disagree" in w for w in reading.warnings)


def test_a_confident_mistake_of_one_stage_is_caught_by_the_other(recognizer, train_digits):
    # A training-generator photo (MNIST training digits; a page of ``fusion_fit --choice ink``):
    # "376281" on blurred grid paper, its last four digits in a hard-edged shadow. The threshold
    # stage keeps only the "37" outside the shadow, sure of it (0.996); the ink network reads all
    # six digits, and its reading is shown, capped, with the threshold's named.
    photo, _, text = ink_pages.make_ink_page_with_text(np.random.default_rng((515151, 307)), train_digits, (640, 480), 2.5)
    assert text == "376281"
    threshold = recognizer.read(photo, ReadOptions(ink="threshold"))
    assert threshold.text != text and threshold.confidence >= 0.9
    reading = recognizer.read(photo)
    assert reading.text == text and reading.confidence <= INK_DISAGREE_CAP
    assert any("The two ink stages disagree" in w and "with the threshold it reads 37," in w for w in reading.warnings)


def test_a_thin_drawing_the_ink_network_misreads_is_read_by_the_threshold_stage(recognizer):
    # A "7" drawn large with a thin pen: the ink network leaves out its long straight bar (as it
    # does underlines). Its first rounds read the rest as a "1", sure of it; later weights are not
    # sure of what they read, or find no digit. The threshold stage's "7" is shown, the other named.
    path = next(s[0] for s in read_sample_labels() if "drawn-single-7-thin" in str(s[0]))
    learned = recognizer.read(path, ReadOptions(ink="learned"))
    assert learned.text != "7" and learned.confidence < 0.5
    reading = recognizer.read(path)
    assert reading.text == "7" and reading.confidence <= INK_DISAGREE_CAP
    assert any("The two ink stages disagree" in w for w in reading.warnings)


def test_where_the_stages_disagree_the_surer_reading_is_shown_and_the_other_named(recognizer):
    # An "8" drawn large with a thin pen: the ink network keeps pieces of it that read as "1"s,
    # unsure of one; the threshold stage reads the "8", and its reading is shown.
    path = next(s[0] for s in read_sample_labels() if "drawn-single-8-thin" in str(s[0]))
    learned = recognizer.read(path, ReadOptions(ink="learned"))
    threshold = recognizer.read(path, ReadOptions(ink="threshold"))
    assert learned.confidence < threshold.confidence and learned.text != threshold.text == "8"
    reading = recognizer.read(path)
    assert reading.text == "8" and reading.confidence <= INK_DISAGREE_CAP
    assert any("The two ink stages disagree" in w and "with the threshold it reads 8" in w for w in reading.warnings)
    assert not any("learned" in name for name, _ in reading.stages)  # the threshold stage's stages are shown


def test_the_draw_mode_reads_a_thin_drawing_as_drawn(recognizer):
    # The Recognize page's Draw mode reads its canvas with the threshold stage alone: the ink is
    # exact, and the network's confident mistake above never arises.
    from pages.ui.reader import DRAWING_INK

    path = next(s[0] for s in read_sample_labels() if "drawn-single-7-thin" in str(s[0]))
    reading = recognizer.read(path, ReadOptions(ink=DRAWING_INK))
    assert reading.text == "7" and reading.confidence >= 0.9
    assert not any("disagree" in w for w in reading.warnings)


@pytest.mark.parametrize("threshold, learned", [(("345", 0.99), ("3450", 0.5)), (("345", 0.3), ("3450", 0.95)),
                                                (("3450", 0.9), ("3450", 0.6)), (("", 0.0), ("7", 0.05))])
def test_the_fit_weighs_each_way_of_reading_as_the_recognizer_reads(threshold, learned):
    # fusion_fit.ink_policy_reading is how the rule was chosen: for "both stages, always" it must
    # show what choose_ink shows, and a way that reads once keeps the first stage's reading.
    from digitlib.fusion_fit import PagePair, ink_policy_reading

    by_threshold, by_learned = _reading(threshold[0], threshold[1], "threshold"), _reading(learned[0], learned[1], "learned")
    pair = PagePair("synth", "3450", threshold[0], threshold[1], learned[0], learned[1],
                    digits_left_out(by_threshold, by_learned))
    kept = choose_ink(by_threshold, by_learned)
    text, confidence, twice = ink_policy_reading(pair, "learned", math.inf)
    assert twice and text == kept.text and confidence == pytest.approx(kept.confidence)
    assert ink_policy_reading(pair, "threshold", 0.0) == (threshold[0], threshold[1], False)
