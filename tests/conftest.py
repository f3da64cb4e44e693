"""Shared fixtures: MNIST, the real sample photos, the shipped model, a browser (see tests/support.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digitlib import Recognizer
from digitlib.data import load_mnist
from tests import browser
from tests.support import DATA_DIR, SAMPLES_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert (DATA_DIR / "MNIST" / "raw").is_dir(), f"MNIST not found under {DATA_DIR}"
    return DATA_DIR


@pytest.fixture(scope="session")
def train_digits(data_dir):
    """MNIST's training split (what the learned stages are trained on)."""
    return load_mnist(train=True, root=data_dir, download=False)


@pytest.fixture(scope="session")
def test_digits(data_dir):
    """MNIST's test split (what evaluation pages are written with)."""
    return load_mnist(train=False, root=data_dir, download=False)


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    assert (SAMPLES_DIR / "labels.tsv").is_file(), f"samples not found under {SAMPLES_DIR}"
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def recognizer():
    return Recognizer(os.environ.get("DIGITLIB_TEST_MODEL"))


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium for a test module (tests/browser.py has the flags that work here)."""
    with browser.chromium() as b:
        yield b
