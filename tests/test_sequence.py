"""Fusing the two readers (``digitlib.reading.sequence``): the rule, the crops, the stages, the options."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib.reading import line_net, sequence
from digitlib.reading.blobs import Blob
from digitlib.reading.result import ReadOptions


def one_hot_probs(text: str, sure: float) -> np.ndarray:
    probs = np.full((len(text), 10), (1 - sure) / 10, np.float32)
    probs[np.arange(len(text)), [int(c) for c in text]] = sure
    return probs


def row_reading(text: str, sure: float, last: float | None = None) -> sequence.RowSequence:
    """A RowSequence whose CTC output reads ``text`` at probability ``sure`` (its last digit at
    ``last``, if given), one digit every 3 steps."""
    steps = 3 * len(text) + 1
    probs = np.full((steps, 11), (1 - sure) / 10, np.float32)
    probs[:, line_net.BLANK] = sure
    for i, ch in enumerate(text):
        p = last if last is not None and i == len(text) - 1 else sure
        probs[3 * i + 1] = (1 - p) / 10
        probs[3 * i + 1, int(ch)] = p
    read = line_net.decode(np.log(probs), width=steps * line_net.STRIDE)
    return sequence.RowSequence(0, (0, 0, steps * line_net.STRIDE, 32), np.zeros((32, steps * 4), np.float32), read)


def test_agreeing_readers_keep_the_segmenter_digits_at_the_surer_confidence():
    seg = one_hot_probs("345", 0.7)
    which, probs, other, _ = sequence.fuse_row(seg, row_reading("345", 0.95))
    assert which == "agree" and other is None
    assert probs.argmax(1).tolist() == [3, 4, 5]
    assert np.allclose(probs.max(1), 0.95)


def test_a_dropped_digit_is_taken_from_the_sequence_reader_when_it_is_much_surer():
    seg = one_hot_probs("345", 0.3)  # the segmenter dropped the 0, and is unsure
    which, probs, other, fusion = sequence.fuse_row(seg, row_reading("3450", 0.99))
    assert which == "sequence" and other == "345"
    assert probs.argmax(1).tolist() == [3, 4, 5, 0]
    # Only the digit the other reading lacks is capped: the shared ones keep their confidence.
    assert probs.max(1)[3] == pytest.approx(sequence.DISAGREE_CAP)
    assert np.allclose(probs.max(1)[:3], 0.99)
    # The sequence reader finds "345" about 1000 times less likely than "3450": a blank where it saw a 0 at 0.99.
    assert fusion.sequence_likelihood - fusion.segmenter_likelihood == pytest.approx(np.log(0.99 / 0.001), abs=0.1)
    # Even a sure segmenter loses to that: the sequence reader's CTC output rules its reading out.
    which, _, _, _ = sequence.fuse_row(one_hot_probs("345", 0.9), row_reading("3450", 0.99))
    assert which == "sequence"


def test_a_sure_segmenter_keeps_a_reading_the_sequence_reader_finds_plausible():
    # The sequence reader's fourth digit is a 0 at 0.5 (a blank there at 0.05): "345" is only
    # about 10 times less likely to it, and the segmenter is surer.
    which, probs, other, fusion = sequence.fuse_row(one_hot_probs("345", 0.9), row_reading("3450", 0.99, last=0.5))
    assert which == "segmenter" and other == "3450" and probs.argmax(1).tolist() == [3, 4, 5]
    assert fusion.sequence_margin() < sequence.SEQUENCE_LOG_MARGIN
    assert probs.max(1).min() == pytest.approx(sequence.DISAGREE_CAP)
    # A segmenter far less sure of the same digits gives way.
    which, _, _, _ = sequence.fuse_row(one_hot_probs("345", 0.2), row_reading("3450", 0.99, last=0.5))
    assert which == "sequence"


def test_ctc_likelihood_sums_the_alignments_and_rules_out_what_cannot_fit():
    seq = row_reading("37", 0.9)  # 7 steps: blank 3 blank blank 7 blank blank
    own = line_net.text_log_likelihood(seq.read.probs, "37")
    assert -1.0 < own < 0.0  # near 1: nearly every path through the steps reads "37"
    assert line_net.text_log_likelihood(seq.read.probs, "3") < own - 2  # a blank where the 7 fired
    assert line_net.text_log_likelihood(seq.read.probs, "") < line_net.text_log_likelihood(seq.read.probs, "3")
    assert line_net.text_log_likelihood(seq.read.probs, "3" * 8) == -np.inf  # more digits than steps
    fusion = sequence.RowFusion("3", 0.99, "37", 0.9, -np.inf, own)
    assert fusion.sequence_margin() == np.inf and sequence.prefer_sequence(fusion)


def test_the_doubt_goes_to_the_digit_the_other_reader_saw_and_rows_keep_their_sums():
    probs = one_hot_probs("1234", 0.95)
    capped = sequence.cap_differences(probs, "1234", "1734")
    assert capped[1, 2] == pytest.approx(sequence.DISAGREE_CAP) and capped[1].argmax() == 2
    assert np.argsort(capped[1])[-2] == 7  # the other reader's digit is the runner-up
    assert np.allclose(capped.sum(1), probs.sum(1)) and np.allclose(capped[[0, 2, 3]], probs[[0, 2, 3]])
    # The other reading has one more digit at the end: the last digit is doubted.
    capped = sequence.cap_differences(one_hot_probs("345", 0.95), "345", "3450")
    assert capped.max(1) == pytest.approx([0.95, 0.95, sequence.DISAGREE_CAP]) and capped[2].argmax() == 5
    assert np.allclose(capped.sum(1), 0.95 + 9 * 0.005)


def test_a_runner_up_over_the_cap_never_overtakes_the_shown_digit():
    # A row read "34" where the segmenter read "375": the "4" is doubted, but the sequence reader
    # itself gave 9 nearly as much as 4 (a training-generator photo showed "39" for "34" so).
    probs = np.zeros((2, 10), np.float32)
    probs[0, 3], probs[1, 4], probs[1, 9], probs[1, 7] = 0.9, 0.45, 0.3, 0.1
    capped = sequence.cap_differences(probs, "34", "375")
    assert sequence.digits_text(capped) == "34"
    assert sequence.DISAGREE_CAP < capped[1, 4] < 0.3 + 0.01 and np.allclose(capped.sum(1), probs.sum(1))


def test_row_crop_frames_the_row_as_training_rows_are_framed():
    blobs = [Blob(100 + 50 * i, 200, 30, 40, np.ones((40, 30), bool)) for i in range(3)]
    x0, y0, x1, y1 = sequence.row_crop(blobs, (480, 640))
    assert x0 == pytest.approx(100 - line_net.CROP_SIDE * 40, abs=1) and x1 == pytest.approx(230 + line_net.CROP_SIDE * 40, abs=1)
    assert y1 - y0 == pytest.approx(2 * line_net.CROP_HALF_HEIGHT * 40, abs=2)
    assert sequence.row_crop(blobs, (230, 200)) [2:] == (200, 230)  # clipped to the image


def test_sequence_blobs_box_the_ink_inside_each_span():
    mask = np.zeros((64, 120), bool)
    mask[20:44, 10:22] = True  # digit 1's ink
    mask[18:46, 60:80] = True  # digit 2's ink
    seq = sequence.RowSequence(0, (0, 0, 120, 64), np.zeros((32, 60), np.float32),
                               line_net.RowDigits("17", [0.9, 0.9], [(0, 20), (25, 45)], [8.0, 35.0],
                                                 np.zeros((15, 11), np.float32)))
    first, second = sequence.sequence_blobs(seq, mask, [])  # spans are at 32 px: x2 in the 64 px crop
    assert first.box == (10, 20, 12, 24) and second.box == (60, 18, 20, 28)
    # A segmenter's piece centred in a span is taken whole; the other digit is boxed from the mask.
    piece = Blob(62, 18, 16, 28, np.ones((28, 16), bool))
    first, second = sequence.sequence_blobs(seq, mask, [piece])
    assert first.box == (10, 20, 12, 24) and second.box == piece.box


def test_the_pipeline_shows_the_sequence_stages_and_honours_the_reader_option(recognizer, samples_dir):
    photo = samples_dir / "drawn-12346.png"  # a drawing: the threshold ink stage finds its thin "1"
    fused = recognizer.read(photo, ReadOptions(ink="threshold"))
    names = [n for n, _ in fused.stages]
    assert any("Sequence reader" in n for n in names) and any("fused" in n for n in names)
    heat = dict(fused.stages)[next(n for n in names if "Sequence reader" in n)]
    assert heat.dtype == np.uint8 and heat.ndim == 3 and heat.shape[0] >= 32 + 66
    alone = recognizer.read(photo, ReadOptions(ink="threshold", reader="segmenter"))
    assert not any("Sequence reader" in n for n, _ in alone.stages)
    whole = recognizer.read(photo, ReadOptions(ink="threshold", reader="sequence"))
    assert fused.text == alone.text == whole.text == "12346"
    with pytest.raises(ValueError):
        ReadOptions(reader="both")

