"""Shared fixtures: where MNIST and the real sample photos live.

CI (and scripts/test.sh) set DIGITLIB_DATA to ../shared/data and DIGITLIB_SAMPLES to
../shared/samples; running pytest by hand from the repo root finds them there too.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _shared(name: str, env: str) -> Path:
    value = os.environ.get(env)
    return Path(value) if value else ROOT.parent / "shared" / name


DATA_DIR = _shared("data", "DIGITLIB_DATA")
SAMPLES_DIR = _shared("samples", "DIGITLIB_SAMPLES")


def read_sample_labels() -> list[tuple[Path, str, str]]:
    """(path, label, kind) of every real sample; labels are kept as text (leading zeros)."""
    labels = SAMPLES_DIR / "labels.tsv"
    if not labels.is_file():  # read at collection: say what is missing, not a bare traceback
        raise FileNotFoundError(f"the real sample photos are not at {SAMPLES_DIR} (no labels.tsv): "
                                "put them in ../shared/samples or point DIGITLIB_SAMPLES at them")
    with open(labels, newline="") as f:
        return [(SAMPLES_DIR / r["file"], r["label"], r["kind"]) for r in csv.DictReader(f, delimiter="\t")]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert (DATA_DIR / "MNIST" / "raw").is_dir(), f"MNIST not found under {DATA_DIR}"
    return DATA_DIR


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    assert (SAMPLES_DIR / "labels.tsv").is_file(), f"samples not found under {SAMPLES_DIR}"
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def recognizer():
    from digitlib import Recognizer

    import os
    return Recognizer(os.environ.get("DIGITLIB_TEST_MODEL"))


def slowed_train(delay: float):
    """``digitlib.training.train`` with a pause at every event, so a test can act mid-run."""
    import time

    from digitlib.training import train

    def run(cfg, out, on_event=None, stop=None, resume=None, init_from=None):
        def slow(event):
            on_event(event)
            time.sleep(delay)

        return train(cfg, out, on_event=slow, stop=stop, resume=resume, init_from=init_from)

    return run


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium for a test module (tests/browser.py has the flags that work here)."""
    import browser

    with browser.chromium() as b:
        yield b
