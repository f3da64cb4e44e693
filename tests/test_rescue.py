"""Rescuing a misread photo (digitlib.rescue): turning and cropping before reading, and
editing the digit boxes after, on real webcam photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitlib import rescue
from digitlib.reading.result import ReadOptions


@pytest.fixture(scope="module")
def photo_3450(samples_dir) -> bytes:
    return (samples_dir / "webcam-3450.png").read_bytes()


def test_rotate_quarter_turns_clockwise():
    image = np.arange(6, dtype=np.uint8).reshape(2, 3)  # [[0 1 2], [3 4 5]]
    assert rescue.rotate_quarter(image, 1).tolist() == [[3, 0], [4, 1], [5, 2]]
    assert rescue.rotate_quarter(image, -1).tolist() == rescue.rotate_quarter(image, 3).tolist()
    assert (rescue.rotate_quarter(image, 4) == image).all()
    assert rescue.rotate_quarter(np.zeros((2, 3, 3), np.uint8), 1).shape == (3, 2, 3)


def test_crop_margins_in_percent():
    image = np.zeros((100, 200, 3), np.uint8)
    assert rescue.crop_margins(image, (10, 20, 30, 0)).shape == (80, 120, 3)
    assert rescue.crop_margins(image, (0, 0, 0, 0)).shape == image.shape
    assert rescue.crop_margins(np.zeros((1, 1), np.uint8), (45, 45, 45, 45)).shape == (1, 1)  # never empty
    with pytest.raises(ValueError, match="0-45"):
        rescue.crop_margins(image, (50, 0, 0, 0))


def test_prepare_photo_turns_then_crops(photo_3450):
    bgr, notes = rescue.prepare_photo(photo_3450, 1, (0, 25, 0, 0))
    assert bgr.shape == (480, 480, 3) and notes == []  # 640 x 480 turned is 480 x 640; a quarter off the top
    with pytest.raises(ValueError):
        rescue.prepare_photo(b"not an image")


def test_a_sideways_photo_reads_once_turned(recognizer, samples_dir):
    upright = cv2.imread(str(samples_dir / "webcam-3450.png"))
    sideways = cv2.imencode(".png", cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE))[1].tobytes()
    assert recognizer.read(sideways).text != "3450"
    assert recognizer.read(rescue.prepare_photo(sideways, 1)[0]).text == "3450"


def test_a_dropped_digit_added_back_from_its_box(recognizer, photo_3450):
    # Digits under 130 px are ignored: the 0 (125 px tall) is dropped, as a reader might drop it. (The
    # segmenter alone: the sequence reader reads the row whole and may see the cut-off 0 at its edge.)
    dropped = recognizer.read(photo_3450, ReadOptions(ink="threshold", min_digit_height=130, reader="segmenter"))
    assert dropped.text == "345"
    # The reader noticed a digit-sized mark it left out: the suggested box starts on it, the 5's size.
    assert any("was left out" in w for w in dropped.warnings) and len(dropped.left_out) == 1
    box = rescue.suggest_box(dropped)
    assert box[:2] == (513, 153) and box[2:] == dropped.digits[-1].box[2:]
    assert rescue.edit_reading(dropped, recognizer.classify, added=[box]).text == "3450"
    fixed = rescue.edit_reading(dropped, recognizer.classify, added=[(513, 150, 105, 130)])
    assert fixed.text == "3450" and fixed.digits[3].label == 0 and fixed.digits[3].confidence > 0.9
    assert [d.row for d in fixed.digits] == [0, 0, 0, 0]
    assert fixed.digits[3].image.shape == (28, 28) and fixed.digits[3].image.dtype == np.uint8
    # The boxes are checked now: no "left out" or "readers disagree" note stays, only unsure digits.
    assert fixed.warnings == rescue.uncertain_warnings(fixed.digits) and fixed.left_out == []
    assert dropped.text == "345"  # a new reading; the old one is untouched
    # Delete a box, and add one before the first digit: digits stay in reading order.
    moved = rescue.edit_reading(fixed, recognizer.classify, removed=[0], added=[(45, 125, 125, 165)])
    assert moved.text == "3450"


def test_without_a_left_out_mark_the_suggestion_is_right_of_the_last_digit(recognizer, photo_3450):
    reading = recognizer.read(photo_3450)
    without_0 = rescue.edit_reading(reading, recognizer.classify, removed=[3])  # edits drop left-out notes
    box = rescue.suggest_box(without_0)
    five = without_0.digits[-1].box
    assert box[0] > five[0] + five[2] and box[2:] == five[2:]


def test_added_box_without_ink_is_refused(recognizer, photo_3450):
    reading = recognizer.read(photo_3450)
    with pytest.raises(ValueError, match="no ink"):
        rescue.edit_reading(reading, recognizer.classify, added=[(5, 400, 30, 30)])  # plain paper
    with pytest.raises(ValueError, match="not inside"):
        rescue.digit_from_box(reading.image, (700, 10, 50, 50))


def test_two_rows_keep_their_rows(recognizer, samples_dir):
    from digitlib.app_support import list_samples

    sample = next(s for s in list_samples() if "\n" in s.label)
    reading = recognizer.read(sample.path)
    assert len(reading.rows) == 2
    last = reading.digits[-1]
    box = tuple(round(v * reading.scale) for v in last.box)
    without = rescue.edit_reading(reading, recognizer.classify, removed=[len(reading.digits) - 1])
    back = rescue.edit_reading(without, recognizer.classify, added=[box])
    assert back.text == reading.text


def test_mark_box_draws_only_the_outline():
    out = rescue.mark_box(np.zeros((100, 100, 3), np.uint8), (20, 20, 40, 40))
    assert (out[20, 20:30] == rescue.PENDING_COLOUR).all(axis=1).any()
    assert (out[40, 40] == 0).all()  # inside stays as it was


def test_a_box_added_to_a_photo_of_paper_on_a_dark_desk_is_cut_in_the_polarity_it_was_read_in(recognizer, test_digits):
    # The whole photo's guess takes the light paper for a light stroke; the reading knows better
    # (Reading.polarity, from the learned ink), and a box the user adds is cut as the photo was read.
    from tests.test_read import paper_on_a_dark_desk

    photo = paper_on_a_dark_desk(test_digits, "3450")
    reading = recognizer.read(photo)
    assert reading.text == "3450" and reading.polarity == "dark"
    box = tuple(round(v * reading.scale) for v in reading.digits[1].box)
    assert rescue.box_polarity(reading) == "dark" and rescue.box_polarity(reading, "light") == "light"
    without = rescue.edit_reading(reading, recognizer.classify, removed=[1])
    assert without.text == "350"
    assert rescue.edit_reading(without, recognizer.classify, added=[box]).text == "3450"
    # Cut in the whole photo's guess, the same box is an outline of the "4", not a "4".
    guessed = rescue.edit_reading(without, recognizer.classify, added=[box], polarity="light")
    assert guessed.text != "3450"
