"""Your handwriting: the personal data set of digits the user corrected.

The Recognize page saves each corrected digit (the 28x28 image the model saw, MNIST
polarity: white digit on black) with its right label. A personal set is a folder::

    index.json          {"format": "digitlib-personal", "version": 1, "samples": [...]}
    images/<id>.png     one 28x28 greyscale PNG per digit

(the format is ``digitlib.digit_sets``'s). ``id`` is the start of the SHA-256 of the
pixels, so the same digit saved twice is stored once (saved again with another label,
the new label replaces the old). The folder is
``$DIGITLIB_PERSONAL`` if set, else ``$XDG_DATA_HOME/digitlib/personal``
(``~/.local/share/digitlib/personal``).

Writes are safe: images are written first (temp file, rename), then the index is replaced
atomically (temp file, fsync, rename), all under a lock, so a crash or two sessions saving
at once never lose earlier samples and the index never names a missing image. Importing a
zip checks everything before writing anything.

About one digit in five, chosen by its id (so always the same ones, however the set
grows), is *held out*: training never sees it, and it measures how well a model reads
your handwriting (``PersonalSet.split``, ``digitlib.evaluation.compare_models``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .files import file_signature, write_atomic
from .digit_sets import (PERSONAL_FORMAT, PERSONAL_VERSION, IMAGES, INDEX, PersonalSetError, SavedDigit, check_image, check_label,
                         decode_png, digit_id, encode_png, images_of, load, locked, personal_dir, read_index,
                         split_held_out)
from .data import MnistSplit


# Limits on an imported zip: generous for a personal set, small enough to refuse a zip bomb.
MAX_IMPORT_SAMPLES = 100_000
MAX_IMPORT_BYTES = 200 * 1024 * 1024  # uncompressed


@dataclass
class SaveReport:
    """What saving (or importing) did: digits new to the set, given a new label, already there."""

    added: int = 0
    relabelled: int = 0
    unchanged: int = 0
    ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.added + self.relabelled + self.unchanged

    def describe(self) -> str:
        """E.g. "3 new, 1 relabelled, 2 already there"."""
        parts = [f"{self.added} new"]
        if self.relabelled:
            parts.append(f"{self.relabelled} relabelled")
        if self.unchanged:
            parts.append(f"{self.unchanged} already there")
        return ", ".join(parts)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class PersonalSet:
    """The personal data set in ``folder`` (default: ``personal_dir()``)."""

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self.folder = Path(folder).expanduser() if folder is not None else personal_dir()

    def __repr__(self) -> str:
        return f"PersonalSet({str(self.folder)!r})"

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX

    # -- reading ------------------------------------------------------------------

    def samples(self) -> list[SavedDigit]:
        """Every saved digit, in the order saved. [] for a folder that does not exist yet."""
        return list(self._read_index().values())

    def __len__(self) -> int:
        return len(self._read_index())

    def counts(self) -> dict[int, int]:
        """How many digits of each label 0-9 (zeros included)."""
        counts = dict.fromkeys(range(10), 0)
        for s in self._read_index().values():
            counts[s.label] += 1
        return counts

    def signature(self) -> tuple[str, int, int]:
        """(index path, mtime_ns, size), so caches notice any change to the set."""
        return file_signature(self.index_path)

    def images(self, samples: Sequence[SavedDigit] | None = None) -> np.ndarray:
        """The digits as uint8 ``(N, 28, 28)``, in the order of ``samples`` (default: all)."""
        return images_of(self.samples() if samples is None else samples)

    def load(self) -> tuple[list[SavedDigit], np.ndarray]:
        """Every digit and its image ``(N, 28, 28)``, read under the lock (``digit_sets.load``)."""
        return load(self.folder)

    def split(self) -> tuple[MnistSplit, MnistSplit]:
        """(training part, held-out part) as MnistSplits; the held-out part is chosen by id."""
        return split_held_out(*self.load())

    def _read_index(self) -> dict[str, SavedDigit]:
        return read_index(self.folder)

    def _locked(self, writing: bool = True):
        return locked(self.folder, writing)

    # -- writing ------------------------------------------------------------------

    def _write_index(self, samples: Iterable[SavedDigit]) -> None:
        doc = {"format": PERSONAL_FORMAT, "version": PERSONAL_VERSION, "samples": [s.to_json() for s in samples]}
        write_atomic(self.index_path, lambda f: f.write((json.dumps(doc, indent=1) + "\n").encode("utf-8")))

    def add(self, image: np.ndarray, label: int, source: str = "") -> SaveReport:
        """Save one digit with its label (see ``add_many``)."""
        return self.add_many([(image, label)], source)

    def add_many(self, items: Sequence[tuple[np.ndarray, int]], source: str = "") -> SaveReport:
        """Save digits ``(image uint8 (28, 28), label)`` in one go: all of them or, on an error,
        none (earlier samples are never touched). A digit already in the set keeps its place;
        with a different label it is relabelled."""
        checked = [(check_image(img), check_label(lab)) for img, lab in items]
        return self._merge([(digit_id(img), img, lab, source) for img, lab in checked])

    def _merge(self, items: Sequence[tuple[str, np.ndarray, int, str]]) -> SaveReport:
        report = SaveReport()
        if not items:
            return report
        created: list[Path] = []
        with self._locked():
            samples = self._read_index()
            (self.folder / IMAGES).mkdir(exist_ok=True)
            try:
                for sample_id, image, label, source in items:
                    report.ids.append(sample_id)
                    old = samples.get(sample_id)
                    path = self.folder / IMAGES / f"{sample_id}.png"
                    if not path.is_file():
                        write_atomic(path, lambda f: f.write(encode_png(image)))
                        created.append(path)
                    if old is None:
                        report.added += 1
                    elif old.label != label:
                        report.relabelled += 1
                    else:
                        report.unchanged += 1
                        continue
                    samples[sample_id] = SavedDigit(sample_id, label, _now(), source, self.folder)
                if report.added or report.relabelled:
                    self._write_index(samples.values())
            except BaseException:
                for path in created:  # the index never named them: take them back
                    with contextlib.suppress(OSError):
                        path.unlink()
                raise
        return report

    def delete(self, ids: Iterable[str]) -> int:
        """Remove digits by id; returns how many were removed (unknown ids are ignored)."""
        ids = set(ids)
        with self._locked():
            samples = self._read_index()
            gone = [samples.pop(i) for i in list(samples) if i in ids]
            if not gone:
                return 0
            self._write_index(samples.values())
            for s in gone:  # after the index: a crash here leaves only an unused file
                with contextlib.suppress(OSError):
                    s.path.unlink()
        return len(gone)

    # -- zip export and import -------------------------------------------------------

    def export_zip(self) -> bytes:
        """The whole set as a zip (``index.json`` + ``images/*.png``), importable elsewhere."""
        samples, images = self.load()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            doc = {"format": PERSONAL_FORMAT, "version": PERSONAL_VERSION, "samples": [s.to_json() for s in samples]}
            z.writestr(INDEX, json.dumps(doc, indent=1) + "\n")
            for s, image in zip(samples, images):
                z.writestr(s.file, encode_png(image))
        return buffer.getvalue()

    def import_zip(self, data: bytes | str | os.PathLike) -> SaveReport:
        """Add the digits of an exported zip (bytes or a path). Everything is checked first: a
        bad zip raises PersonalSetError with a clear message and nothing is imported."""
        items = read_zip(data)
        return self._merge(items)


def read_zip(data: bytes | str | os.PathLike) -> list[tuple[str, np.ndarray, int, str]]:
    """Validate an exported personal-set zip and return its digits as (id, image, label, source).

    Raises PersonalSetError naming the first problem. Ids are recomputed from the pixels,
    never trusted; member names are only looked up, never extracted to disk.
    """
    name = "the file"
    if not isinstance(data, (bytes, bytearray)):
        name = Path(data).name
        try:
            data = Path(data).read_bytes()
        except OSError as exc:
            raise PersonalSetError(f"{name} cannot be read ({exc.strerror or exc})") from None
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise PersonalSetError(f"{name} is not a zip file (or it is damaged)") from None
    with z:
        members = {i.filename: i for i in z.infolist()}
        if len(members) > MAX_IMPORT_SAMPLES + 1 or sum(i.file_size for i in members.values()) > MAX_IMPORT_BYTES:
            raise PersonalSetError(f"{name} is too large for a personal set")
        if INDEX not in members:
            raise PersonalSetError(
                f"{name} has no {INDEX}: it is not a personal set exported from the My digits page"
            )
        try:
            doc = json.loads(z.read(INDEX).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, RuntimeError):
            raise PersonalSetError(f"the {INDEX} in {name} is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != PERSONAL_FORMAT or not isinstance(doc.get("samples"), list):
            raise PersonalSetError(f"the {INDEX} in {name} is not a digitlib personal set index")
        if not isinstance(doc.get("version", 0), int) or doc.get("version", 0) > PERSONAL_VERSION:
            raise PersonalSetError(f"{name} has format version {doc.get('version')!r}, newer than this digitlib reads")
        if not doc["samples"]:
            raise PersonalSetError(f"{name} holds no digits")
        items = []
        for n, entry in enumerate(doc["samples"], 1):
            where = f"digit {n} of {name}"
            if not isinstance(entry, dict):
                raise PersonalSetError(f"{where} is not an index entry")
            file = entry.get("file")
            if not isinstance(file, str) or file not in members:
                raise PersonalSetError(f"{where}: its image {file!r} is missing from the zip")
            try:
                label = check_label(entry.get("label"))
            except PersonalSetError:
                raise PersonalSetError(f"{where} ({file}): label {entry.get('label')!r} is not a digit 0-9") from None
            try:
                image = decode_png(z.read(file))
            except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, zipfile.LargeZipFile):
                image = None
            if image is None:
                raise PersonalSetError(f"{where} ({file}) is not a readable 28x28 greyscale image")
            items.append((digit_id(image), image, label, str(entry.get("source") or "")[:200]))
    return items


# --------------------------------------------------------------------------- correcting a reading


@dataclass
class Correction:
    """The user's corrected number matched to the digit boxes of a reading."""

    labels: list[int]  # the right label of each box, in reading order (empty when not usable)
    message: str | None = None  # why nothing can be saved, for the user

    @property
    def ok(self) -> bool:
        return self.message is None


SEPARATORS = " \t\n/,.-_"


def match_correction(typed: str, n_boxes: int) -> Correction:
    """Match a typed number ("3450", "34 50", "12 / 34" for two rows) to ``n_boxes`` digit boxes.

    Digits are matched to boxes in reading order. Spaces, "/" and other separators are
    ignored. When the counts differ nothing can be matched, and ``message`` explains why.
    """
    typed = (typed or "").strip()
    wrong = sorted({c for c in typed if not c.isdigit() and c not in SEPARATORS})
    if wrong:
        shown = ", ".join(repr(c) for c in wrong)
        return Correction([], f"Type digits only (0-9); {shown} cannot be saved as a digit. Nothing was saved.")
    labels = [int(c) for c in typed if c in "0123456789"]
    if not labels:
        return Correction([], "Type the number as it is written. Nothing was saved.")
    if len(labels) != n_boxes:
        return Correction([], (
            f"You typed {len(labels)} digit{'s' if len(labels) != 1 else ''} but the photo has "
            f"{n_boxes} digit box{'es' if n_boxes != 1 else ''}. Each digit you type is saved with the picture "
            "in its box, one for one: add a box where a digit has none, or delete the box of a speck or of two "
            "digits, with *Fix the boxes*, then save. What you typed is kept."
        ))
    return Correction(labels)


def correction_text(labels: Sequence[int], rows: Sequence[int] | None = None) -> str:
    """The digits as the user would type them, " / " between rows: ([1, 2, 3], [0, 0, 1]) -> "12 / 3"."""
    rows = list(rows) if rows is not None else [0] * len(labels)
    text = ""
    for i, (label, row) in enumerate(zip(labels, rows)):
        if i and row != rows[i - 1]:
            text += " / "
        text += str(int(label))
    return text


def reading_key(images: Sequence[np.ndarray]) -> str:
    """A short id for a reading's digits (12 hex digits), to key its correction widgets."""
    return hashlib.sha256("".join(digit_id(img) for img in images).encode()).hexdigest()[:12]


def save_correction(
    digit_images: Sequence[np.ndarray],
    typed: str,
    source: str = "",
    personal: PersonalSet | None = None,
) -> tuple[Correction, SaveReport | None]:
    """Match ``typed`` to the reading's digit images and, when it matches, save each image
    with its corrected label. Returns the match and what was saved (None when nothing was)."""
    correction = match_correction(typed, len(digit_images))
    if not correction.ok:
        return correction, None
    personal = personal if personal is not None else PersonalSet()
    return correction, personal.add_many(list(zip(digit_images, correction.labels)), source=source)


__all__ = [
    "Correction",
    "PersonalSet",
    "PersonalSetError",
    "SavedDigit",
    "SaveReport",
    "correction_text",
    "match_correction",
    "read_zip",
    "reading_key",
    "save_correction",
]
