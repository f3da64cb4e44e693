"""The sequence reader: its input, its CTC decoding, its training rows and training, and the shipped
network on rows written with MNIST *test* digits (joined zeros, separators, where its boxes lie)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from digitlib import line_rows, line_training
from digitlib.reading import line_net
from digitlib.reading.result import ReadOptions
from digitlib.synth import digit_coverage, paste_max, scale_glyph, separator_glyph


def write_number(text: str, digits, overlap: float, seed: int, digit_h: int = 60,
                 size: tuple[int, int] = (480, 640)) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A BGR uint8 page with ``text`` written in one row with MNIST digits; ``overlap`` (in digit
    heights) > 0 makes neighbours touch. "." "," and "-" in ``text`` are drawn as separators.
    Returns the page and each digit's ink columns [x0, x1)."""
    rng = np.random.default_rng(seed)
    images, labels = np.asarray(digits.images), np.asarray(digits.labels)
    cover = np.zeros(size, np.float32)
    x, spans = 80.0, []
    for ch in text:
        if ch in ".,-":
            mark = separator_glyph(ch, digit_h, stroke_px=digit_h * 0.09)
            paste_max(cover, mark, round(x + 0.1 * digit_h), size[0] // 2 - digit_h // 2)
            x += mark.shape[1] + 0.3 * digit_h
            continue
        glyph = scale_glyph(digit_coverage(images[rng.choice(np.flatnonzero(labels == int(ch)))]), digit_h, 0.6)
        paste_max(cover, glyph, round(x), size[0] // 2 - glyph.shape[0] // 2)
        spans.append((round(x), round(x) + glyph.shape[1]))
        x += glyph.shape[1] - overlap * digit_h
    page = (235 - 200 * cover).astype(np.uint8)
    return cv2.cvtColor(page, cv2.COLOR_GRAY2BGR), spans


# ---------------------------------------------------------------- input and decoding


def test_row_input_is_32_px_ink_bright_whatever_the_polarity():
    crop = np.full((64, 200), 220, np.uint8)
    cv2.line(crop, (50, 10), (50, 54), 30, 5)  # a dark "1" on light paper
    dark = line_net.row_input(crop, "dark")
    light = line_net.row_input(255 - crop, "light")
    for x in (dark, light):
        assert x.dtype == np.float32 and x.shape == (32, 100)
        assert x[:, 25].max() > 0.9 and x[:, 60:].max() < 0.1  # the stroke bright, the paper dark
    with pytest.raises(ValueError):
        line_net.row_input(np.zeros((0, 5), np.uint8), "dark")


def _log_probs(path: list[int]) -> np.ndarray:
    out = np.full((len(path), 11), 0.01 / 10, np.float32)
    out[np.arange(len(path)), path] = 0.99
    return np.log(out)


def test_decode_merges_runs_keeps_doubles_split_by_blanks_and_spans_cover_the_steps():
    B = line_net.BLANK
    read = line_net.decode(_log_probs([B, 1, 1, B, 0, B, 0, 0, B, B]), width=40)
    assert read.text == "100"
    assert all(abs(c - 0.99) < 1e-3 for c in read.confidences)
    assert [a < b for a, b in read.spans] == [True] * 3
    centres = [(a + b) / 2 for a, b in read.spans]
    assert centres == sorted(centres) and read.spans[-1][1] <= 40
    # A digit's centre is where its run fired (x4 input columns), moved right by FIRING_OFFSET
    # (CTC fires early); its span reaches halfway to the neighbours' centres.
    assert read.centres[0] == pytest.approx(2 * 4 + line_net.FIRING_OFFSET)
    assert read.spans[0][1] == int((read.centres[0] + read.centres[1]) / 2)
    assert line_net.decode(_log_probs([B, B, B]), width=12).text == ""


def test_read_inputs_reads_rows_of_different_widths_as_one_at_a_time():
    torch.manual_seed(0)
    model = line_net.LineNet().eval()
    rng = np.random.default_rng(0)
    inputs = [rng.random((32, w)).astype(np.float32) for w in (17, 64, 250)]
    batch = line_net.read_inputs(inputs, model)
    for x, together in zip(inputs, batch):
        alone = line_net.read_inputs([x], model)[0]
        assert together.probs.shape == alone.probs.shape == (-(-x.shape[1] // 4), 11)
        assert together.text == alone.text and np.allclose(together.probs, alone.probs, atol=1e-6)


# ---------------------------------------------------------------- training rows and training


def test_training_rows_are_seeded_and_say_what_is_written(train_digits):
    by_label = line_rows.index_by_label(train_digits)
    first = [line_rows.make_row(np.random.default_rng(5), train_digits, by_label) for _ in range(2)]
    assert np.array_equal(first[0][0], first[1][0]) and first[0][1] == first[1][1]
    rng = np.random.default_rng(1)
    rows = [line_rows.make_row(rng, train_digits, by_label) for _ in range(120)]
    for grey, text, polarity in rows:
        assert grey.dtype == np.uint8 and grey.ndim == 2 and min(grey.shape) >= 8
        assert set(text) <= set("0123456789") and len(text) <= line_rows.MAX_DIGITS
        assert polarity in ("dark", "light")
        if text:  # long enough to hold its digits at the network's stride
            assert line_net.row_input(grey, polarity).shape[1] // line_net.STRIDE >= 2 * len(text)
    lengths = [len(t) for _, t, _ in rows]
    assert min(lengths) <= 1 and max(lengths) >= 9
    assert sum(p == "light" for _, _, p in rows) >= 3


def test_train_lines_runs_and_writes_weights_that_load_safely(tmp_path, data_dir):
    cfg = line_training.LineTrainConfig(steps=3, batch_size=4, val_rows=6, log_every=1)
    lines = []
    result = line_training.train_lines(cfg, tmp_path / "line.pt", data_dir=data_dir, download=False, log=lines.append)
    assert result.path.is_file() and len(result.history) == 3 and 0.0 <= result.val_exact <= 1.0
    model = line_net.load_line_net(result.path)  # torch.load(..., weights_only=True) inside
    assert sum(p.numel() for p in model.parameters()) == result.params
    saved = torch.load(result.path, weights_only=True)
    assert saved["info"]["config"]["steps"] == 3 and any("val_exact" in line for line in lines)


def test_a_second_round_goes_on_from_given_weights_and_keeps_how_they_were_made(tmp_path, data_dir):
    first = line_training.train_lines(line_training.LineTrainConfig(steps=2, batch_size=4, val_rows=4, widths=(8, 8, 16, 16),
                                                                     hidden=16, log_every=1),
                                      tmp_path / "first.pt", data_dir=data_dir, download=False, log=lambda line: None)
    before = {k: p.detach() for k, p in line_net.load_line_net(first.path).named_parameters()}
    # The architecture comes from the weights, not from the (default, larger) widths of the config.
    cfg = line_training.LineTrainConfig(seed=2, steps=2, batch_size=4, val_rows=4, lr=1e-6, log_every=1,
                                        init_from=str(first.path))
    second = line_training.train_lines(cfg, tmp_path / "second.pt", data_dir=data_dir, download=False, log=lambda line: None)
    assert second.params == first.params
    after = {k: p.detach() for k, p in line_net.load_line_net(second.path).named_parameters()}
    # Two steps at a learning rate of 1e-6 move no weight far (batch norm's running statistics
    # move anyway, so they are not compared): it went on from the first round.
    assert max(float((after[k] - before[k]).abs().max()) for k in before) < 1e-3
    info = torch.load(second.path, weights_only=True)["info"]
    assert info["config"]["init_from"] == str(first.path) and info["started_from"]["config"]["steps"] == 2
    with pytest.raises(FileNotFoundError):
        line_training.train_lines(line_training.LineTrainConfig(steps=1, init_from=str(tmp_path / "none.pt")),
                                  tmp_path / "third.pt", data_dir=data_dir, download=False)


# ---------------------------------------------------------------- the shipped network


def test_shipped_weights_are_small_and_the_network_fits_the_issue():
    assert line_net.WEIGHTS.stat().st_size <= 8 * 1024 * 1024
    model = line_net.load_line_net()
    assert sum(p.numel() for p in model.parameters()) <= 2_000_000 and not model.training


@pytest.mark.parametrize("text", ["1000", "20000", "3450", "100200"])
def test_joined_zeros_are_read_right(recognizer, test_digits, text):
    right = 0
    for seed in range(4):
        page, _ = write_number(text, test_digits, overlap=0.18, seed=seed)
        right += recognizer.read(page).text == text
    assert right >= 3, f"{text} written joined: read right {right} of 4 times"


@pytest.mark.parametrize("written, digits", [("1.500", "1500"), ("20,000", "20000"), ("12-34", "1234")])
def test_separators_are_not_read(recognizer, test_digits, written, digits):
    right = sum(recognizer.read(write_number(written, test_digits, 0.0, seed)[0], ReadOptions(reader="sequence")).text
                == digits for seed in range(4))
    assert right >= 3, f"{written}: read as {digits} {right} of 4 times"


@pytest.mark.parametrize("text, overlap", [("507281", 0.0), ("1000", 0.18), ("20000", 0.18)])
def test_each_digit_box_from_the_alignment_lies_over_its_digit(recognizer, test_digits, text, overlap):
    for seed in range(3):
        page, spans = write_number(text, test_digits, overlap=overlap, seed=seed)
        reading = recognizer.read(page, ReadOptions(reader="sequence"))
        assert reading.text == text
        for d, (x0, x1) in zip(reading.digits, spans):
            centre = d.box[0] + d.box[2] / 2
            assert x0 <= centre <= x1, f"digit {d.label}: box {d.box} outside its ink {x0}-{x1}"
            assert d.image.shape == (28, 28) and d.image.max() > 100
