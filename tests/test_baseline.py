"""The article's reader (SeedBaseline) and the benchmark harness that compares it with ours."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from digitlib import bench, bench_train
from digitlib.baselines import SeedBaseline
from digitlib.baselines import seed
from digitlib.checkpoint import SHIPPED_SEEDNET, load_model
from digitlib.data import load_mnist
from digitlib.model import SeedNet
from digitlib.evaluation import evaluate


@pytest.fixture(scope="module")
def baseline() -> SeedBaseline:
    return SeedBaseline()


@pytest.fixture(scope="module")
def test_split(data_dir):
    return load_mnist(train=False, root=data_dir, download=False)


def _drawn_number(test_split, text: str, height: int = 120, gap: int = 30) -> np.ndarray:
    """BGR uint8 (480, 800, 3): ``text`` in MNIST test digits, dark on white, large and widely spaced,
    as the article asks its users to write."""
    page = np.full((480, 800), 255, np.uint8)
    labels = test_split.labels.numpy()
    x = 60
    for ch in text:
        digit = test_split.images.numpy()[np.flatnonzero(labels == int(ch))[0]]
        rows, cols = np.flatnonzero(digit.max(1) > 40), np.flatnonzero(digit.max(0) > 40)
        digit = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        width = max(1, round(digit.shape[1] * height / digit.shape[0]))
        glyph = cv2.resize(digit, (width, height), interpolation=cv2.INTER_LINEAR)
        region = page[180 : 180 + height, x : x + width]
        np.minimum(region, 255 - glyph, out=region)
        x += width + gap
    return cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)


# ---- the shipped SeedNet weights ------------------------------------------


def test_seednet_weights_are_plain_data_and_a_trained_seednet(test_split):
    payload = torch.load(SHIPPED_SEEDNET, map_location="cpu", weights_only=True)
    assert payload["arch"] == "seednet" and payload["finished"] is True
    assert payload["train_args"]["lr"] == 0.01 and payload["train_args"]["momentum"] == 0.5  # the article's recipe
    loaded = load_model(SHIPPED_SEEDNET)
    assert isinstance(loaded.model, SeedNet)
    assert (loaded.mean, loaded.std) == (0.1307, 0.3081)
    first = type(test_split)(test_split.images[:2000], test_split.labels[:2000])
    _, accuracy, _, _ = evaluate(loaded.model, first, "cpu", loaded.mean, loaded.std)
    assert accuracy > 0.95


# ---- the steps of the method ----------------------------------------------


def test_ink_is_darker_than_70():
    grey = np.array([[0, 69, 70, 71, 255]], np.uint8)
    assert seed.ink_mask(grey).tolist() == [[True, True, False, False, False]]


def test_column_split_gives_one_piece_per_blob_each_cropped_to_its_ink():
    ink = np.zeros((60, 100), bool)
    ink[10:50, 5:20] = True
    ink[20:40, 30:45] = True
    ink[5:55, 60:90] = True
    ink[30, 45:60] = True  # a one-pixel bridge: fewer than 2 ink pixels a column, still a gap
    pieces = seed.split_columns(ink)
    assert [p.shape for p in pieces] == [(40, 15), (20, 15), (50, 30)]
    assert all(p.all() for p in pieces)

    ink[31, 45:60] = True  # a two-pixel bridge joins the last two blobs
    assert len(seed.split_columns(ink)) == 2


def test_margin_crop_keeps_just_the_ink():
    ink = np.zeros((50, 80), bool)
    ink[10:20, 30:35] = True
    ink[25, 60] = True
    assert seed.crop_to_ink(ink).shape == (16, 31)
    assert seed.crop_to_ink(np.zeros((5, 5), bool)).size == 0


def test_piece_becomes_a_white_digit_on_black_padded_square():
    piece = np.ones((100, 40), bool)  # a tall bar of ink
    mnist = seed.piece_to_mnist(piece)
    assert mnist.shape == (28, 28) and mnist.dtype == np.uint8
    # Padded 50 px to 140x200, then squared to 200x200: the bar fills the middle half of the height.
    assert mnist[14, 14] == 255 and mnist[:6].max() == 0 and mnist[:, :9].max() == 0
    assert mnist[8:20, 14].min() == 255


# ---- whole images -----------------------------------------------------------


def test_reads_well_spaced_dark_digits_on_white(baseline, test_split):
    numbers = ["357", "2049", "16", "8135", "790", "4682", "5310", "97", "624", "1078"]
    correct = sum(baseline.read_text(_drawn_number(test_split, n)) == n for n in numbers)
    assert correct >= 5


def test_reads_a_clear_webcam_sample(baseline, samples_dir):
    assert baseline.read_text(cv2.imread(str(samples_dir / "webcam-0869.png"))) == "0869"


def test_white_on_black_is_read_as_garbage(baseline, samples_dir):
    # The documented weakness: with dark ink assumed, the black background is all "ink".
    image = cv2.imread(str(samples_dir / "inverted-012345678.png"))
    assert baseline.read_text(image) != "012345678"


def test_accepts_grey_and_rejects_non_images(baseline, test_split):
    grey = cv2.cvtColor(_drawn_number(test_split, "357"), cv2.COLOR_BGR2GRAY)
    assert baseline.read_text(grey) == baseline.read_text(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    assert baseline.read_text(np.full((40, 40), 255, np.uint8)) == ""
    with pytest.raises(ValueError):
        baseline.read_text(np.zeros((4, 4), np.float32))


# ---- the benchmark harness ---------------------------------------------------


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("", "", 0), ("123", "123", 0), ("123", "", 3), ("", "12", 2),
    ("12345", "1245", 1), ("0869", "0896", 2), ("1285", "7285", 1), ("kitten", "sitting", 3),
])
def test_edit_distance(a, b, distance):
    assert bench.edit_distance(a, b) == distance == bench.edit_distance(b, a)


def test_digit_accuracy_and_scores():
    assert bench.digit_accuracy("0869", "0869") == 1.0
    assert bench.digit_accuracy("0896", "0869") == 0.5
    assert bench.digit_accuracy("12345678", "1") == 0.0  # floored, not negative
    s = bench.score(["0869", None, "12"], ["0869", "1285", "13"], [0.010, 0.020, 0.030])
    assert s.n == 3 and s.crashes == 1
    assert s.exact == pytest.approx(1 / 3)
    assert s.digit_accuracy == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert s.median_ms == pytest.approx(20.0)


def test_a_crashing_reader_is_counted_not_raised():
    images = [np.zeros((4, 4), np.uint8)] * 3

    def flaky(image):
        raise RuntimeError("boom")

    texts, seconds, first_error = bench.run_readers({"ok": lambda image: "1", "flaky": flaky}, images)
    assert texts == {"ok": ["1"] * 3, "flaky": [None] * 3}
    assert len(seconds["flaky"]) == 3 and first_error == {"flaky": "RuntimeError: boom"}


def test_read_bench_runs_end_to_end(data_dir, samples_dir, capsys):
    # SeedNet stands in for our model here, so the harness is tested without the shipped default model.
    rc = bench.main(["read", "--samples", str(samples_dir), "--suites", "clean,holdout-hard", "--n", "2", "--no-noise",
                     "--data", str(data_dir), "--model", str(SHIPPED_SEEDNET)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "| samples (all) | 25 | seed baseline |" in out
    assert "| synthetic clean (seed 0) | 2 | ours |" in out
    assert "| holdout-hard (seed 0) | 2 | seed baseline |" in out
    assert "| **>= 0.9** |" in out  # the reliability table
    assert "median time seed baseline / ours" in out


def test_time_to_reach_and_train_tables():
    epochs = [(1, 0.97, 30.0), (2, 0.991, 61.0), (3, 0.993, 90.0)]
    assert bench_train.time_to_reach(epochs, 0.99) == (2, 61.0)
    assert bench_train.time_to_reach(epochs, 0.995) is None
    table = bench_train.train_tables([bench_train.TrainRun("article", 1, epochs[:1], 40.0, 70.0),
                                bench_train.TrainRun("best", 1, epochs, 100.0, 190.0)])
    assert "| article | 1 | 97.00% |  |  | 30.0 | 40.0 | 70.0 | not reached | not reached |" in table
    assert "| best | 1 | 97.00% | 99.10% | 99.30% | 90.0 | 100.0 | 190.0 | 61.0 s (epoch 2) | 61.0 s (epoch 2) |" in table
    assert "| best | 1 | 99.30% (99.30%-99.30%) | 90.0 | 61.0 s (1/1 runs) | 61.0 s (1/1 runs) |" in table
