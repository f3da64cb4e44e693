"""Synthetic photos: repeatable, photo-shaped, drawn only from MNIST's test digits."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from digitlib import synth
from digitlib.data import MnistSplit


def _one_digit_split(image: np.ndarray, label: int) -> MnistSplit:
    return MnistSplit(images=torch.from_numpy(image[None].copy()), labels=torch.tensor([label]))


def _ink_crop(photo: np.ndarray) -> np.ndarray:
    """float32 darkness (paper minus pixel) of a photo, cropped to where it is clearly ink."""
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32)
    darkness = np.clip(np.median(grey) - grey, 0, None)
    ys, xs = np.nonzero(darkness > 0.5 * darkness.max())
    return darkness[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of ``a`` with ``b`` resized to ``a``'s shape."""
    b = cv2.resize(b.astype(np.float32), (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_same_seed_gives_the_same_image(test_digits):
    first = synth.make_image("4071", np.random.default_rng(7), "hard", test_digits)
    again = synth.make_image("4071", np.random.default_rng(7), "hard", test_digits)
    assert np.array_equal(first, again)


def test_different_seeds_give_different_images(test_digits):
    a = synth.make_image("4071", np.random.default_rng(1), "clean", test_digits)
    b = synth.make_image("4071", np.random.default_rng(2), "clean", test_digits)
    assert a.shape != b.shape or np.abs(a.astype(int) - b.astype(int)).mean() > 1.0


@pytest.mark.parametrize("suite", synth.SUITES)
def test_images_are_bgr_uint8_photos_of_the_listed_sizes(test_digits, suite):
    sizes = {(h, w) for w, h in synth.PHOTO_SIZES}
    for seed in range(4):
        photo = synth.make_image("31415", np.random.default_rng(seed), suite, test_digits)
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
        assert photo.shape[:2] in sizes
        # Handwriting on paper: a light page with some clearly darker ink.
        grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
        assert np.median(grey) > 120
        assert (grey < np.median(grey) - 40).mean() > 0.001


def test_the_given_digit_is_what_gets_drawn(test_digits):
    labels = test_digits.labels.numpy()
    images = test_digits.images.numpy()
    sevens = np.flatnonzero(labels == 7)[:25]
    chosen, others = sevens[0], sevens[1:]
    split = _one_digit_split(images[chosen], 7)
    target = synth.digit_coverage(images[chosen])

    # With little slant, tilt or stroke change the ink is the digit, scaled (pens are sharper than MNIST).
    plain = dataclasses.replace(synth.CLEAN, slant_deg=(0, 0), rotation_deg=0, stroke_change=(0, 0), row_angle_deg=0)
    coverage = synth.write_rows(["7"], (640, 480), 80.0, split, np.random.default_rng(0), plain)
    ys, xs = np.nonzero(coverage > 0.1)
    assert 70 <= ys.max() - ys.min() + 1 <= 90
    drawn = coverage[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert _correlation(drawn, target) > 0.85
    assert _correlation(drawn, target) > max(_correlation(drawn, synth.digit_coverage(images[j])) for j in others)

    # Through the whole photo pipeline the drawn ink still matches that digit better than other sevens.
    for seed in range(5):
        ink = _ink_crop(synth.make_image("7", np.random.default_rng(seed), "clean", split))
        given = _correlation(ink, target)
        other = [_correlation(ink, synth.digit_coverage(images[j])) for j in others]
        assert given > 0.7 and given > np.median(other) + 0.1, (seed, given, np.median(other))


def test_default_digits_come_from_the_test_split(monkeypatch, tmp_path, test_digits):
    calls = []

    def fake_load_mnist(train, root=None, download=True):
        calls.append((train, root))
        return test_digits

    monkeypatch.setattr(synth, "load_mnist", fake_load_mnist)
    synth._mnist_test_split.cache_clear()
    try:
        synth.make_image("12", np.random.default_rng(0))
        synth.make_suite("hard", 2, root=tmp_path)
    finally:
        synth._mnist_test_split.cache_clear()
    assert calls and all(train is False for train, _ in calls)
    assert any(root == str(tmp_path) for _, root in calls)


def test_a_label_missing_from_the_digits_is_an_error(test_digits):
    one_digit = _one_digit_split(test_digits.images.numpy()[0], int(test_digits.labels[0]))
    assert int(test_digits.labels[0]) != 3
    with pytest.raises(ValueError, match="no '3'"):
        synth.make_image("3", np.random.default_rng(0), "clean", one_digit)


@pytest.mark.parametrize("text", ["", "12a", "1\n\n2", "-5", "1.5"])
def test_text_must_be_digits(test_digits, text):
    with pytest.raises(ValueError):
        synth.make_image(text, np.random.default_rng(0), "clean", test_digits)


def test_unknown_suite_is_an_error(test_digits):
    with pytest.raises(ValueError, match="unknown suite"):
        synth.make_image("1", np.random.default_rng(0), "noisy", test_digits)
    with pytest.raises(ValueError, match="unknown suite"):
        synth.make_suite("noisy", 1)


def test_separators_are_drawn_between_groups_but_not_in_the_label():
    # A ring is one blob however it is scaled, so every extra blob is a separator.
    ring = np.zeros((28, 28), np.uint8)
    cv2.circle(ring, (14, 14), 8, 255, 3)
    split = _one_digit_split(ring, 0)
    always = dataclasses.replace(synth.CLEAN, separator_prob=1.0)
    never = dataclasses.replace(synth.CLEAN, separator_prob=0.0)
    for seed in range(4):
        blobs = []
        for style in (never, always):
            coverage = synth.write_rows(["000000"], (640, 480), 60.0, split, np.random.default_rng(seed), style)
            count, _ = cv2.connectedComponents((coverage > 0.2).astype(np.uint8))
            blobs.append(count - 1)  # minus the background
        assert blobs[0] == 6
        assert 7 <= blobs[1] <= 8  # groups of 2, 3 or 4 from the right: one or two separators


@pytest.mark.parametrize("suite", synth.SUITES)
def test_suites_give_n_labelled_photos_repeatably(data_dir, suite):
    cases = synth.make_suite(suite, 6, seed=3, root=data_dir)
    assert len(cases) == 6
    for photo, label in cases:
        assert photo.dtype == np.uint8 and photo.ndim == 3
        assert label.isdigit() and 1 <= len(label) <= 10  # separators never enter the label
    again = synth.make_suite(suite, 4, seed=3, root=data_dir)
    assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(cases, again))
    other_seed = synth.make_suite(suite, 4, seed=4, root=data_dir)
    assert [c[1] for c in other_seed] != [c[1] for c in cases[:4]]


def test_hard_is_harder_than_clean(data_dir):
    # Same numbers (same seeds), stronger effects: fainter ink against a dimmer, noisier page.
    def ink_contrast(photo: np.ndarray) -> float:
        grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return float(np.percentile(grey, 50) - np.percentile(grey, 0.2))

    clean = [ink_contrast(p) for p, _ in synth.make_suite("clean", 12, root=data_dir)]
    hard = [ink_contrast(p) for p, _ in synth.make_suite("hard", 12, root=data_dir)]
    assert np.median(hard) < np.median(clean)


def test_photo_digits_are_the_pipelines_cuts_of_training_digits_labelled(recognizer, data_dir):
    pages, read_texts = 9, []

    def read(image):
        reading = recognizer.read(image)
        read_texts.append(reading.text)
        return reading

    items = list(synth.photo_digits(read, pages, root=data_dir, download=False))
    assert len(read_texts) == pages
    # Only pages read as one row of the right length give digits: about five a page.
    assert 2 * pages <= len(items) <= 10 * pages
    images = np.stack([img for img, _ in items])
    labels = np.array([lab for _, lab in items])
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    assert labels.min() >= 0 and labels.max() <= 9
    # The labels are the written digits in reading order: the shipped model agrees with nearly all.
    predicted, _ = recognizer.classify(images)
    assert (predicted == labels).mean() >= 0.9
    # The same seed gives the same digits.
    again = list(synth.photo_digits(recognizer.read, pages, root=data_dir, download=False))
    assert all(np.array_equal(a, b) and la == lb for (a, la), (b, lb) in zip(items, again))


def test_photo_digits_command_writes_a_set_that_fine_tuning_reads(tmp_path, data_dir, capsys):
    from digitlib import cli
    from digitlib.digit_sets import load_extra

    out = tmp_path / "photo-digits"
    code = cli.main(["photo-digits", "--out", str(out), "--pages", "6", "--data", str(data_dir), "--no-download"])
    assert code == 0
    train, held_out = load_extra(out)
    assert len(train) + len(held_out) >= 12
    assert "digits from 6 pages" in capsys.readouterr().out
    assert cli.main(["photo-digits", "--out", str(out), "--pages", "0", "--data", str(data_dir)]) == 2
