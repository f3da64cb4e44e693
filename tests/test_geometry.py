"""reading.geometry: a number's slope measured from its marks, the photo turned level, boxes mapped back."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib import ink_pages
from digitlib.reading import geometry, rows
from digitlib.reading.blobs import Blob
from digitlib.reading.result import ReadOptions
from digitlib.synth import make_image


def _marks_on_line(slope_deg: float, count: int, height: int = 40, spacing: float = 1.1, top: float = 200) -> list[Blob]:
    """``count`` digit-sized marks whose centres run at ``slope_deg`` (image rows grow downwards)."""
    rng = np.random.default_rng(count)
    out = []
    for i in range(count):
        h = int(height * rng.uniform(0.85, 1.1))  # handwriting: digits of slightly different heights
        cx = 100 + i * spacing * height
        cy = top + (cx - 100) * np.tan(np.radians(slope_deg)) + rng.uniform(-2, 2)
        out.append(Blob(int(cx - 12), int(cy - h / 2), 24, h, np.ones((h, 24), bool)))
    return out


@pytest.mark.parametrize("slope", [-28.0, -12.0, 0.0, 7.0, 25.0])
def test_the_slope_of_a_line_of_marks_is_measured(slope):
    assert geometry.line_slope(rows.group_rows(_marks_on_line(slope, 6), 40), 40) == pytest.approx(slope, abs=2.5)


def test_a_wavy_line_whose_pairs_agree_on_nothing_is_not_turned():
    # "2354" written level on grid paper, its 3 low and its 5 high (a training-generator photo):
    # its neighbours' slopes were 13, -24 and -0.5 degrees, and the first of them turned the photo.
    centres = [(249.0, 261.5, 73), (362.5, 287.5, 71), (457.5, 245.0, 76), (569.0, 244.0, 78)]
    marks = [Blob(int(cx - 20), int(cy - h / 2), 40, h, np.ones((h, 40), bool)) for cx, cy, h in centres]
    grouped = rows.group_rows(marks, 74.5)
    assert len(grouped) == 1
    slope = geometry.line_slope(grouped, 74.5)
    assert slope is None or abs(slope) < geometry.LEVEL_FROM_DEG


def test_two_rows_one_above_the_other_are_level_not_steep():
    # Pairs of marks from different rows are steep; they must not outvote the rows themselves.
    blobs = _marks_on_line(0.0, 5, top=200) + _marks_on_line(0.0, 5, top=260)
    assert geometry.line_slope(rows.group_rows(blobs, 40), 40) == pytest.approx(0.0, abs=2.5)


def test_too_few_marks_or_marks_of_other_sizes_give_no_slope():
    assert geometry.line_slope([_marks_on_line(20.0, 1)], 40) is None
    assert geometry.line_slope([], 40) is None
    tall_frame = Blob(0, 0, 5, 400, np.ones((400, 5), bool))  # a frame's edge is no digit
    assert geometry.line_slope([_marks_on_line(20.0, 1) + [tall_frame]], 40) is None


def test_a_box_in_the_turned_image_maps_back_over_the_same_ink():
    height, width = 300, 400
    matrix, size = geometry.level_matrix(20.0, height, width)
    image = np.zeros((height, width), np.uint8)
    image[140:160, 190:210] = 255  # a square of ink at the centre-left
    turned = geometry.turn(image, matrix, size)
    ys, xs = np.nonzero(turned > 127)
    box = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    x, y, w, h = geometry.box_back(box, matrix, height, width)
    # The turned square's box, mapped back, holds the square (and a little of its turned corners).
    assert x <= 190 and y <= 140 and x + w >= 210 and y + h >= 160
    assert w <= 40 and h <= 40


def test_turning_keeps_all_of_the_photo():
    height, width = 240, 320
    matrix, (new_w, new_h) = geometry.level_matrix(-25.0, height, width)
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
    moved = corners @ matrix[:, :2].T + matrix[:, 2]
    assert moved.min() >= -1 and moved[:, 0].max() <= new_w + 1 and moved[:, 1].max() <= new_h + 1


def test_a_turned_map_holds_nothing_where_the_turn_uncovers_the_canvas():
    height, width = 240, 320
    matrix, size = geometry.level_matrix(25.0, height, width)
    turned = geometry.turn(np.ones((height, width), np.float32), matrix, size, fill=0.0)
    assert turned.dtype == np.float32 and turned.shape == (size[1], size[0])
    assert turned[size[1] // 2, size[0] // 2] == 1.0 and turned[0, 0] == 0.0 and turned[-1, -1] == 0.0
    assert abs(turned.sum() - height * width) < 0.01 * height * width  # all of the map, nothing added
    # A photo's uncovered corners repeat its edge instead.
    assert geometry.turn(np.full((height, width), 200, np.uint8), matrix, size)[0, 0] == 200


def test_the_learned_ink_of_a_turned_photo_leaves_out_the_corners_the_turn_uncovers(recognizer, train_digits):
    # A training-generator photo (MNIST training digits): "878210" written at a slope across grid
    # paper, a green desk beside it. Turned level, the uncovered corners repeat the edge's grid
    # lines in streaks; the network took such streaks for strokes (and, on the larger canvas, read
    # the digits too small to see: a page like this, "423860" in a hand's shadow, was read "71").
    # The number is read whole, in one row.
    photo, _, text = ink_pages.make_ink_page_with_text(np.random.default_rng((4242, 7)), train_digits, (640, 480), 2.5)
    assert text == "878210"
    reading = recognizer.read(photo, ReadOptions(ink="learned"))
    assert was_turned(reading)
    assert text in reading.text.split("\n"), reading.text


def was_turned(reading) -> bool:
    """Whether the photo was turned level: every reading has the stage, but only a turn gives it
    the larger canvas the turned photo needs."""
    stages = dict(reading.stages)
    turned = next(image for name, image in stages.items() if "Turned level" in name)
    return turned.shape != next(iter(stages.values())).shape


def _turned_page(text: str, degrees: float, seed: int, digits) -> np.ndarray:
    """A clean synthetic photo of ``text`` (MNIST test digits), turned by ``degrees``: the number
    then runs at a slope of ``-degrees``."""
    page = make_image(text, np.random.default_rng(seed), "clean", digits)
    matrix, size = geometry.level_matrix(degrees, *page.shape[:2])
    return geometry.turn(page, matrix, size)


@pytest.mark.parametrize("degrees", [22.0, -25.0])
def test_a_turned_photo_reads_right_as_one_row(recognizer, test_digits, degrees):
    texts = ["3450", "71829", "602413"]
    level = [recognizer.read(_turned_page(t, degrees, seed, test_digits)) for seed, t in enumerate(texts)]
    as_is = [recognizer.read(_turned_page(t, degrees, seed, test_digits), ReadOptions(level=False))
             for seed, t in enumerate(texts)]
    assert sum(r.text == t for r, t in zip(level, texts)) >= 2, [r.text for r in level]
    assert all(len(r.rows) == 1 for r in level), [r.text for r in level]
    # What turning level buys: read as it is, the same photos are read right and sure less often (the
    # rows keep a slanted line together, but the classifier never saw digits turned this far).
    def right_and_sure(readings):
        return sum(r.text == t and r.confidence >= 0.5 for r, t in zip(readings, texts))
    assert right_and_sure(level) > right_and_sure(as_is), [(r.text, r.confidence) for r in level + as_is]
    assert all(was_turned(r) for r in level) and not any(was_turned(r) for r in as_is)


def test_digit_boxes_of_a_turned_photo_lie_over_their_digits(recognizer, test_digits):
    photo = _turned_page("3450", 24.0, 0, test_digits)
    reading = recognizer.read(photo)
    assert reading.text == "3450"
    dark = photo.min(axis=2) < 128  # the digits' ink in the photo as given
    for d in reading.digits:
        x, y, w, h = d.box
        assert dark[y:y + h, x:x + w].sum() > 30, d.box
    # Boxes run down the slope, in reading order, like the digits.
    centres = [(d.box[0] + d.box[2] / 2, d.box[1] + d.box[3] / 2) for d in reading.digits]
    assert all(a[0] < b[0] and a[1] > b[1] for a, b in zip(centres, centres[1:]))
    # The photo shown with the reading is the one given, not the turned one.
    assert reading.image.shape[:2] == pytest.approx(np.array(photo.shape[:2]) * reading.scale, abs=2)


def test_a_level_photo_is_not_turned(recognizer, test_digits):
    photo = make_image("3450", np.random.default_rng(0), "clean", test_digits)
    turned = recognizer.read(photo)
    as_is = recognizer.read(photo, ReadOptions(level=False))
    assert turned.text == as_is.text == "3450"
    assert [d.box for d in turned.digits] == [d.box for d in as_is.digits]


def test_scattered_marks_give_no_slope():
    # Random dots: every slope is as likely as any other, so none is worth turning the photo for.
    rng = np.random.default_rng(5)
    blobs = [Blob(int(x), int(y), 20, 40, np.ones((40, 20), bool)) for x, y in rng.uniform(0, 600, (60, 2))]
    assert geometry.line_slope(rows.group_rows(blobs, 40), 40) is None
