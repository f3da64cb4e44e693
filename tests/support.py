"""What the tests share besides fixtures: where MNIST and the real sample photos live, and helpers.

CI (and scripts/test.sh) set DIGITLIB_DATA to ../shared/data and DIGITLIB_SAMPLES to
../shared/samples; running pytest by hand from the repo root finds them there too.
Import it as ``from tests.support import ...`` (``tests`` is a package, so each test
helper loads once, under one name).
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from digitlib.training import train

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


def slowed_train(delay: float):
    """``digitlib.training.train`` with a pause at every event, so a test can act mid-run."""
    def run(cfg, out, on_event=None, stop=None, resume=None, init_from=None):
        def slow(event):
            on_event(event)
            time.sleep(delay)

        return train(cfg, out, on_event=slow, stop=stop, resume=resume, init_from=init_from)

    return run


class CountedClassifier:
    """Counts what ``recognizer.read`` asks its classifier (batch sizes in ``batches``) while in use::

        with CountedClassifier(recognizer) as counted:
            recognizer.read(image)
        sum(counted.batches)   # digit images asked about
    """

    def __init__(self, recognizer) -> None:
        self.recognizer, self.batches = recognizer, []

    def __enter__(self) -> "CountedClassifier":
        classify = self.recognizer.classify

        def counted(digits, **kwargs):
            self.batches.append(len(digits))
            return classify(digits, **kwargs)

        self.recognizer.classify = counted
        return self

    def __exit__(self, *exc) -> None:
        del self.recognizer.classify  # back to the class's method
