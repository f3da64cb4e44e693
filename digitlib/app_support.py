"""Small helpers for the Streamlit pages that are neither page-specific nor image processing.

Nothing here imports Streamlit, so it can be tested (and reused) without a running app:
reading an upload without ever raising, turning readings into a table and CSV, the
built-in samples, the model choices for the sidebar, and a few formatting helpers.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import store
from .checkpoint import SHIPPED_MODEL
from .files import file_signature
from .formatting import one_line, percent
from .reading.decode import FILE_TYPES
from .reading.result import UNCERTAIN_BELOW, DigitReading, Reading

log = logging.getLogger(__name__)

#: File types the upload widget accepts (the decoder reads all of them).
UPLOAD_TYPES = list(FILE_TYPES)

#: The built-in sample photos (made by scripts/make_samples.py with digitlib.synth).
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


# --------------------------------------------------------------------------- reading


@dataclass
class ReadResult:
    """One input and what became of it: a reading, or a one-paragraph error for the user."""

    name: str
    reading: Reading | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.reading is not None


def read_safely(name: str, read: Callable[[], Reading]) -> ReadResult:
    """Call ``read()`` and never raise: a ValueError (not an image, corrupt file, ...)
    becomes a clear message; anything unexpected is logged with its traceback on the
    server and becomes a friendly message without one."""
    try:
        return ReadResult(name, reading=read())
    except ValueError as exc:
        detail = str(exc).strip() or "it is not an image this app can read"
        return ReadResult(name, error=f"**{name}** could not be read: {detail}")
    except MemoryError:
        log.exception("out of memory while reading %s", name)
        return ReadResult(name, error=f"**{name}** is too large to read here. Try a smaller photo.")
    except Exception as exc:  # noqa: BLE001 - the page must never show a traceback
        log.exception("unexpected error while reading %s", name)
        return ReadResult(
            name,
            error=(
                f"Something went wrong while reading **{name}** ({type(exc).__name__}). "
                "Try another photo, or the photo tools (turn, crop, digit colour)."
            ),
        )


# --------------------------------------------------------------------------- formatting


#: Below this confidence a reading is not shown as a number: it is a guess, and the page says what to try.
UNREADABLE_BELOW = 0.10
#: A downscaled photo whose digits end up shorter than this (working pixels) has lost detail worth a warning.
SMALL_DIGIT_PX = 24


def is_readable(reading: Reading) -> bool:
    """Whether a reading is sure enough to be shown as the number (it has digits, and its
    confidence is at least ``UNREADABLE_BELOW``)."""
    return bool(reading.digits) and reading.confidence >= UNREADABLE_BELOW


def is_sure(reading: Reading, threshold: float = UNCERTAIN_BELOW) -> bool:
    """Whether the whole number, and each of its digits, is at least ``threshold`` sure."""
    return bool(reading.digits) and reading.confidence >= threshold and not any(
        is_uncertain(d, threshold) for d in reading.digits)


def needs_review(reading: Reading | None) -> bool:
    """A reading a person should look at: none, unreadable, unsure, or with warnings."""
    return reading is None or not is_sure(reading) or bool(shown_warnings(reading))


def _is_downscale_note(warning: str) -> bool:
    return "was downscaled to" in warning and warning.startswith("The ")


def shown_warnings(reading: Reading) -> list[str]:
    """The warnings worth showing: the note that a large photo was downscaled only when that
    matters (no digits found, or digits left under ``SMALL_DIGIT_PX`` px tall), then with why."""
    shown = []
    for w in reading.warnings:
        if _is_downscale_note(w):
            heights = [d.box[3] * reading.scale for d in reading.digits]
            if heights and min(heights) >= SMALL_DIGIT_PX:
                continue  # an ordinary phone photo: shrinking it lost nothing the reader needs
            if heights:
                w += (f" Its smallest digit is now {min(heights):.0f} px tall: crop the photo to the number "
                      "so the digits keep their detail.")
        shown.append(w)
    return shown


def is_uncertain(digit: DigitReading, threshold: float = UNCERTAIN_BELOW) -> bool:
    return digit.confidence < threshold


def uncertain_hint(digit: DigitReading) -> str:
    """One short sentence on what else an uncertain digit might be."""
    alternatives = [f"{label} ({percent(p)})" for label, p in digit.top3[1:] if p >= 0.01]
    if not alternatives:
        return "Low confidence: check this digit."
    return "Could also be " + " or ".join(alternatives) + "."


def pixelated(image: np.ndarray, factor: int = 3) -> np.ndarray:
    """Enlarge a small image by repeating pixels, so a 28x28 input stays crisp on screen."""
    factor = max(1, int(factor))
    return np.ascontiguousarray(np.repeat(np.repeat(image, factor, axis=0), factor, axis=1))


def size_text(reading: Reading) -> str:
    """ "800 x 600 px (downscaled to 50%)" for a reading's working image."""
    if reading.image is None:
        return ""
    h, w = reading.image.shape[:2]
    text = f"{w} x {h} px"
    if reading.scale < 0.999:
        text += f" (downscaled to {reading.scale:.0%})"
    elif reading.scale > 1.001:
        text += f" (enlarged to {reading.scale:.0%})"
    return text


def stage_caption(index: int, name: str) -> str:
    """A stage's caption with its step number (kept when the name already starts with one)."""
    name = str(name).strip()
    return name if name[:1].isdigit() else f"{index}. {name}"


# --------------------------------------------------------------------------- tables


TABLE_COLUMNS = ["file", "number", "confidence", "digits", "seconds", "notes"]


def results_table(results: Sequence[ReadResult]):
    """A pandas DataFrame, one row per input: file, number (text, leading zeros kept, rows
    joined by " / "), confidence (0..1), digits, seconds, notes (the error, or the warnings)."""
    import pandas as pd

    rows = []
    for r in results:
        if r.reading is None:
            rows.append({"file": r.name, "number": "", "confidence": None, "digits": 0,
                         "seconds": None, "notes": _plain(r.error or "")})
        else:
            rd = r.reading
            rows.append({
                "file": r.name,
                "number": one_line(rd.text),
                "confidence": round(float(rd.confidence), 4),
                "digits": len(rd.digits),
                "seconds": round(float(rd.seconds), 3),
                "notes": " ".join(rd.warnings),
            })
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    frame["number"] = frame["number"].astype(str)
    return frame


def results_csv(results: Sequence[ReadResult]) -> bytes:
    """The results table as UTF-8 CSV (numbers quoted as text so "0869" keeps its zero)."""
    frame = results_table(results)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return buffer.getvalue().encode("utf-8")


def _plain(markdown: str) -> str:
    return markdown.replace("**", "")


# --------------------------------------------------------------------------- samples


@dataclass
class Sample:
    """A built-in sample photo and the number written on it (``label`` in ``Reading.text``
    form: digits, rows separated by a newline)."""

    path: Path
    label: str
    description: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def title(self) -> str:
        number = one_line(self.label)
        return f"{number} - {self.description}" if self.description else number


def list_samples(folder: str | os.PathLike = SAMPLES_DIR) -> list[Sample]:
    """The samples listed in ``folder/labels.tsv`` (columns file, label[, description]) whose
    files exist, in file order; labels are kept as text, "/" in a label separates rows.
    [] when there are none."""
    folder = Path(folder)
    index = folder / "labels.tsv"
    if not index.is_file():
        return []
    samples = []
    with open(index, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            path = folder / (row.get("file") or "")
            if row.get("file") and path.is_file():
                label = str(row.get("label") or "").strip().replace("/", "\n")
                samples.append(Sample(path, label, str(row.get("description") or "")))
    return samples


# --------------------------------------------------------------------------- models


@dataclass
class ModelChoice:
    """One entry of the model selector: ``path`` None is the shipped model."""

    path: str | None
    label: str


def model_choices(active: str | None = None) -> list[ModelChoice]:
    """The shipped model first, then the models trained on the Train page (``digitlib.store``),
    each labelled with its test accuracy. ``active``
    is added when it is a file that the store does not list."""
    choices: list[ModelChoice] = []
    try:
        entries = list(store.list_models())
    except Exception:  # noqa: BLE001 - a broken models folder must not break the page
        log.exception("could not list the trained models")
        entries = []
    for e in entries:
        if getattr(e, "error", None) and not getattr(e, "shipped", False):
            continue  # unreadable checkpoints can only be deleted, on the Train page
        label = getattr(e, "label", None)
        if not isinstance(label, str):
            acc = getattr(e, "test_accuracy", None)
            acc_text = f" ({acc:.2%})" if isinstance(acc, (int, float)) else ""
            label = ("Shipped model" if getattr(e, "shipped", False) else str(e.name)) + acc_text
        if getattr(e, "shipped", False):
            if not any(c.path is None for c in choices):
                choices.insert(0, ModelChoice(None, label))
        else:
            choices.append(ModelChoice(str(e.path), label))
    if not any(c.path is None for c in choices):
        choices.insert(0, ModelChoice(None, "Shipped model"))
    if active is not None and not any(c.path == str(active) for c in choices):
        if Path(active).is_file():
            choices.append(ModelChoice(str(active), Path(active).stem))
    return choices


def active_model_path(path) -> str | None:
    """``st.session_state["active_model"]`` as a str path, or None for the shipped model
    (also when it names the shipped file itself)."""
    if path is None or str(path) == "":
        return None
    try:
        if Path(path).resolve() == SHIPPED_MODEL.resolve():
            return None
    except OSError:
        pass
    return str(path)


def model_signature(path: str | None) -> tuple[str, int, int]:
    """(path, mtime_ns, size) of a model file, so caches notice a retrained file at the
    same path; the shipped model for ``None``; zeros when the file is missing."""
    return file_signature(path if path is not None else SHIPPED_MODEL)


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    """``items`` in consecutive slices of at most ``size``."""
    for i in range(0, len(items), max(1, size)):
        yield items[i:i + size]
