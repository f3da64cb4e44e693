import numpy as np
import pytest

from digitlib import Recognizer
from digitlib.data import load_mnist


def test_shipped_model_scores_at_least_99_5_on_mnist_test(recognizer, data_dir):
    test = load_mnist(False, data_dir, download=False)
    images, labels = test.images.numpy(), test.labels.numpy()
    correct = 0
    for i in range(0, len(images), 2500):
        pred, probs = recognizer.classify(images[i : i + 2500])
        correct += int((pred == labels[i : i + 2500]).sum())
    assert correct / len(images) >= 0.995


def test_classify_contract(recognizer, data_dir):
    test = load_mnist(False, data_dir, download=False)
    labels, probs = recognizer.classify(test.images[:32].numpy())
    assert labels.shape == (32,) and labels.dtype == np.int64
    assert probs.shape == (32, 10) and probs.dtype == np.float32
    # The rest of each row is the chance that it is not one digit: small for MNIST's own.
    assert (probs.sum(1) <= 1.0 + 1e-5).all() and np.median(probs.sum(1)) > 0.99
    assert (labels == probs.argmax(1)).all()
    assert (labels == test.labels[:32].numpy()).mean() > 0.95
    empty_labels, empty_probs = recognizer.classify(np.zeros((0, 28, 28), np.uint8))
    assert empty_labels.shape == (0,) and empty_probs.shape == (0, 10)


def test_stroke_width_vote_only_for_doubtful_digits(recognizer, data_dir):
    from digitlib.recognizer import VOTE_BELOW

    digits = load_mnist(False, data_dir, download=False).images[:200].numpy()
    _, plain = recognizer.classify(digits)
    _, voted = recognizer.classify(digits, stroke_variants=True)
    sure = plain.max(1) >= VOTE_BELOW
    assert sure.any() and (~sure).any()
    assert (voted[sure] == plain[sure]).all()  # sure answers are left as they are
    assert (np.abs(voted[~sure] - plain[~sure]).max(1) > 1e-4).all()  # the doubtful ones are voted on


def test_memo_asks_the_model_once_per_digit_image(recognizer, data_dir, monkeypatch):
    digits = load_mnist(False, data_dir, download=False).images[:40].numpy()
    _, plain = recognizer.classify(digits)
    asked = []
    forward = recognizer._probabilities
    monkeypatch.setattr(recognizer, "_probabilities", lambda d: asked.append(len(d)) or forward(d))
    memo: dict = {}
    _, first = recognizer.classify(digits[:30], memo=memo)
    _, second = recognizer.classify(np.concatenate([digits[20:40], digits[20:40]]), memo=memo)
    assert asked == [30, 10]  # the second call asks only about the ten new images, once each
    assert np.allclose(first, plain[:30], atol=1e-5)
    assert np.allclose(second, np.concatenate([plain[20:40], plain[20:40]]), atol=1e-5)


@pytest.mark.parametrize("bad", [
    np.zeros((28, 28), np.uint8),
    np.zeros((2, 28, 27), np.uint8),
    np.zeros((2, 28, 28, 1), np.uint8),
    np.zeros((2, 28, 28), np.float32),
    [[0] * 28] * 28,
])
def test_classify_rejects_wrong_shape_or_dtype(recognizer, bad):
    with pytest.raises(ValueError):
        recognizer.classify(bad)


def test_recognizer_loads_given_checkpoint(tmp_path):
    from digitlib.checkpoint import CheckpointError

    (tmp_path / "bad.pt").write_bytes(b"nope")
    with pytest.raises(CheckpointError):
        Recognizer(tmp_path / "bad.pt")


def test_touching_pairs_and_fragments_are_not_one_digit(recognizer, data_dir):
    """The shipped model's NOT_A_DIGIT output: pieces made of test digits it never saw
    (touching pairs, a digit and a half, parts of wide digits) mostly lose their digit
    probability, while whole test digits keep theirs."""
    from digitlib.data import make_not_digits

    test = load_mnist(False, data_dir, download=False)
    pieces = make_not_digits(test.images[:2000], 500, seed=5).numpy()
    _, probs = recognizer.classify(pieces)
    assert (probs.sum(1) < 0.5).mean() > 0.8
    _, probs = recognizer.classify(test.images[:500].numpy())
    assert (probs.sum(1) < 0.5).mean() < 0.01
