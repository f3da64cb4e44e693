"""Your handwriting: the personal data set of digits the user corrected.

The Recognize page saves each corrected digit (the 28x28 image the model saw, MNIST
polarity: white digit on black) with its right label. A personal set is a folder::

    index.json          {"format": "digitlib-personal", "version": 1, "samples": [...]}
    images/<id>.png     one 28x28 greyscale PNG per digit

Each sample in the index is ``{"id", "label", "file", "added", "source"}``. ``id`` is the
start of the SHA-256 of the pixels, so the same digit saved twice is stored once (saved
again with another label, the new label replaces the old). The folder is
``$DIGITLIB_PERSONAL`` if set, else ``$XDG_DATA_HOME/digitlib/personal``
(``~/.local/share/digitlib/personal``).

Writes are safe: images are written first (temp file, rename), then the index is replaced
atomically (temp file, fsync, rename), all under a lock, so a crash or two sessions saving
at once never lose earlier samples and the index never names a missing image. Importing a
zip checks everything before writing anything.

About one digit in five, chosen by its id (so always the same ones, however the set
grows), is *held out*: training never sees it, and it measures how well a model reads
your handwriting (``PersonalSet.split``, ``compare_models``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import os
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np
import torch

from .checkpoint import write_atomic
from .preprocess import read_header
from .data import MnistSplit, user_data_folder

PERSONAL_ENV_VAR = "DIGITLIB_PERSONAL"
FORMAT = "digitlib-personal"
FORMAT_VERSION = 1
INDEX = "index.json"
IMAGES = "images"
HELD_OUT_EVERY = 5  # one digit in five (by id) is held out for testing

# Limits on an imported zip: generous for a personal set, small enough to refuse a zip bomb.
MAX_IMPORT_SAMPLES = 100_000
MAX_IMPORT_BYTES = 200 * 1024 * 1024  # uncompressed


class PersonalSetError(ValueError):
    """The personal set (or a zip or folder offered as one) cannot be used; the message says why."""


def personal_dir() -> Path:
    """The personal set's folder: ``$DIGITLIB_PERSONAL``, else ``$XDG_DATA_HOME/digitlib/personal``
    (``~/.local/share/digitlib/personal`` when XDG_DATA_HOME is unset). Not created here."""
    return user_data_folder(PERSONAL_ENV_VAR, "personal")


def digit_id(image: np.ndarray) -> str:
    """The content id of a 28x28 uint8 digit: 16 hex digits of the SHA-256 of its pixels."""
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


def is_held_out(sample_id: str) -> bool:
    """Whether a digit belongs to the held-out part (decided by its id alone)."""
    return int(sample_id[:8], 16) % HELD_OUT_EVERY == 0


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != (28, 28):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise PersonalSetError(f"a digit must be a 28x28 uint8 image, not {shape} {dtype}")
    return np.ascontiguousarray(image)


def _check_label(label) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= int(label) <= 9:
        raise PersonalSetError(f"a label must be a digit 0-9, not {label!r}")
    return int(label)


def encode_png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", _check_image(image))
    if not ok:
        raise PersonalSetError("could not encode the digit as PNG")
    return buf.tobytes()


def decode_png(data: bytes) -> np.ndarray | None:
    """A 28x28 greyscale uint8 image from PNG (or other image) bytes; None if it is not one."""
    if not data:
        return None
    try:  # size from the header first: a tiny file may claim a huge image
        header = read_header(data)
        if (header.width, header.height) != (28, 28):
            return None
    except ValueError:
        return None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None or img.shape != (28, 28) or img.dtype != np.uint8:
        return None
    return img


@dataclass
class Sample:
    """One saved digit."""

    id: str
    label: int
    added: str = ""  # ISO time it was saved (or last relabelled)
    source: str = ""  # where it came from, e.g. "Recognize: photo.jpg"
    folder: Path = field(default=Path("."), repr=False, compare=False)

    @property
    def file(self) -> str:
        return f"{IMAGES}/{self.id}.png"

    @property
    def path(self) -> Path:
        return self.folder / self.file

    @property
    def held_out(self) -> bool:
        return is_held_out(self.id)

    def image(self) -> np.ndarray:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise PersonalSetError(f"the image of digit {self.id} cannot be read ({exc.strerror or exc})") from None
        img = decode_png(data)
        if img is None:
            raise PersonalSetError(f"{self.path} is not a 28x28 greyscale image")
        return img

    def to_json(self) -> dict:
        return {"id": self.id, "label": self.label, "file": self.file, "added": self.added, "source": self.source}


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


_thread_lock = threading.RLock()


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

    def samples(self) -> list[Sample]:
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
        try:
            st = self.index_path.stat()
            return str(self.index_path), st.st_mtime_ns, st.st_size
        except OSError:
            return str(self.index_path), 0, 0

    def images(self, samples: Sequence[Sample] | None = None) -> np.ndarray:
        """The digits as uint8 ``(N, 28, 28)``, in the order of ``samples`` (default: all)."""
        samples = self.samples() if samples is None else samples
        out = np.zeros((len(samples), 28, 28), np.uint8)
        for i, s in enumerate(samples):
            out[i] = s.image()
        return out

    def load(self) -> tuple[list[Sample], np.ndarray]:
        """Every sample and its image ``(N, 28, 28)``, read under the lock, so a save or a
        delete in another session cannot come between the index and the images."""
        if not self.index_path.is_file():
            return [], np.zeros((0, 28, 28), np.uint8)
        with self._locked(writing=False):
            samples = self.samples()
            return samples, self.images(samples)

    def split(self) -> tuple[MnistSplit, MnistSplit]:
        """(training part, held-out part) as MnistSplits; the held-out part is chosen by id."""
        return _split(*self.load())

    def _read_index(self) -> dict[str, Sample]:
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise PersonalSetError(f"the index {self.index_path} cannot be read ({exc.strerror or exc})") from None
        try:
            doc = json.loads(raw.decode("utf-8"))
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError("not a digitlib personal set index")
            if int(doc.get("version", 0)) > FORMAT_VERSION:
                raise ValueError(f"format version {doc.get('version')} is newer than this digitlib reads")
            entries = doc.get("samples")
            if not isinstance(entries, list):
                raise ValueError("no list of samples")
            samples: dict[str, Sample] = {}
            for e in entries:
                sample_id = str(e["id"])
                if len(sample_id) != 16 or any(c not in "0123456789abcdef" for c in sample_id):
                    raise ValueError(f"bad id {sample_id!r}")
                samples[sample_id] = Sample(
                    id=sample_id, label=_check_label(e["label"]), added=str(e.get("added", "")),
                    source=str(e.get("source", "")), folder=self.folder,
                )
            return samples
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, PersonalSetError) as exc:
            raise PersonalSetError(
                f"the index {self.index_path} is damaged ({exc}); nothing was changed. "
                "Move the folder aside (or restore it from an exported zip) to start afresh."
            ) from None

    # -- writing ------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, writing: bool = True) -> Iterator[None]:
        """One writer at a time: threads of this process, and other processes (flock).
        A reader of a read-only folder (a set on a CD, say) goes without the file lock."""
        if writing:
            self.folder.mkdir(parents=True, exist_ok=True)
        with _thread_lock:
            try:
                lock = open(self.folder / ".lock", "a")
            except OSError:
                if writing:
                    raise
                yield
                return
            with lock:
                try:
                    import fcntl

                    fcntl.flock(lock, fcntl.LOCK_EX)
                except ImportError:  # not on Linux/macOS: the thread lock still holds
                    pass
                yield

    def _write_index(self, samples: Iterable[Sample]) -> None:
        doc = {"format": FORMAT, "version": FORMAT_VERSION, "samples": [s.to_json() for s in samples]}
        write_atomic(self.index_path, lambda f: f.write((json.dumps(doc, indent=1) + "\n").encode("utf-8")))

    def add(self, image: np.ndarray, label: int, source: str = "") -> SaveReport:
        """Save one digit with its label (see ``add_many``)."""
        return self.add_many([(image, label)], source)

    def add_many(self, items: Sequence[tuple[np.ndarray, int]], source: str = "") -> SaveReport:
        """Save digits ``(image uint8 (28, 28), label)`` in one go: all of them or, on an error,
        none (earlier samples are never touched). A digit already in the set keeps its place;
        with a different label it is relabelled."""
        checked = [(_check_image(img), _check_label(lab)) for img, lab in items]
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
                    samples[sample_id] = Sample(sample_id, label, _now(), source, self.folder)
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
            doc = {"format": FORMAT, "version": FORMAT_VERSION, "samples": [s.to_json() for s in samples]}
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
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("samples"), list):
            raise PersonalSetError(f"the {INDEX} in {name} is not a digitlib personal set index")
        if not isinstance(doc.get("version", 0), int) or doc.get("version", 0) > FORMAT_VERSION:
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
                label = _check_label(entry.get("label"))
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


def _split(samples: Sequence[Sample] | Sequence[str], images: np.ndarray, labels: Sequence[int] | None = None):
    ids = [s.id if isinstance(s, Sample) else s for s in samples]
    labels = [s.label for s in samples] if labels is None else list(labels)
    held = np.array([is_held_out(i) for i in ids], dtype=bool)
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, 28, 28))
    y = torch.tensor(labels, dtype=torch.long).reshape(-1)
    keep, out = torch.from_numpy(~held), torch.from_numpy(held)
    return MnistSplit(x[keep].clone(), y[keep].clone()), MnistSplit(x[out].clone(), y[out].clone())


def load_extra(folder: str | os.PathLike, for_training: bool = True) -> tuple[MnistSplit, MnistSplit]:
    """Labelled 28x28 digits from a folder, as (training part, held-out part).

    The folder is a personal set (``index.json`` + ``images/``) or holds one subfolder per
    label, ``0/`` to ``9/``, of 28x28 greyscale images (MNIST polarity: white on black).
    Raises PersonalSetError when it is neither, or holds no digits, or (``for_training``)
    when every digit it holds is in the held-out part.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise PersonalSetError(f"extra data folder {folder} does not exist")
    if (folder / INDEX).is_file():
        samples, images = PersonalSet(folder).load()
        ids, labels = [s.id for s in samples], [s.label for s in samples]
    else:
        ids, labels, rows = [], [], []
        for label in range(10):
            sub = folder / str(label)
            for path in sorted(sub.glob("*")) if sub.is_dir() else []:
                if not path.is_file() or path.name.startswith("."):
                    continue
                img = decode_png(path.read_bytes())
                if img is None:
                    raise PersonalSetError(f"{path} is not a 28x28 greyscale image")
                ids.append(digit_id(img))
                labels.append(label)
                rows.append(img)
        images = np.stack(rows) if rows else np.zeros((0, 28, 28), np.uint8)
    if not ids:
        raise PersonalSetError(
            f"extra data folder {folder} holds no digits: it needs a personal set ({INDEX} and {IMAGES}/) "
            "or subfolders 0/ to 9/ of 28x28 images"
        )
    train, held_out = _split(ids, images, labels)
    if for_training and len(train) == 0:
        raise PersonalSetError(
            f"all {len(held_out)} digits in {folder} are held out for testing (one in {HELD_OUT_EVERY} is); "
            "add a few more to train on"
        )
    return train, held_out


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
            f"{n_boxes} digit box{'es' if n_boxes != 1 else ''}, so nothing was saved. Each digit you type "
            "is saved with the picture in its box, one for one, so the counts must match. When a box holds "
            "two digits, a digit has no box, or a speck got one, fix the photo or the settings in the "
            "sidebar (e.g. *Minimum digit height*) and read it again."
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


# --------------------------------------------------------------------------- before and after


@dataclass
class Comparison:
    """Accuracy of two models on MNIST test and on the held-out part of a personal set.

    A value is None when it could not be measured (no "before" model, no held-out digits).
    """

    mnist_before: float | None
    mnist_after: float | None
    personal_before: float | None
    personal_after: float | None
    n_mnist: int
    n_personal: int  # held-out digits


def compare_models(
    before: str | os.PathLike | None,
    after: str | os.PathLike,
    folder: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    test_limit: int | None = None,
    download: bool = True,
) -> Comparison:
    """Test ``before`` (None: not measured) and ``after`` on MNIST test (the first
    ``test_limit`` images when given) and on the held-out digits of ``folder``."""
    from .checkpoint import load_model
    from .data import load_mnist
    from .training import evaluate

    _, held_out = load_extra(folder if folder is not None else personal_dir(), for_training=False)
    test = load_mnist(train=False, root=data_dir, download=download)
    if test_limit:
        test = MnistSplit(test.images[:test_limit], test.labels[:test_limit])

    def measure(path) -> tuple[float | None, float | None]:
        if path is None:
            return None, None
        loaded = load_model(path)
        mnist = evaluate(loaded.model, test, "cpu", loaded.mean, loaded.std)[1]
        mine = evaluate(loaded.model, held_out, "cpu", loaded.mean, loaded.std)[1] if len(held_out) else None
        return mnist, mine

    mb, pb = measure(before)
    ma, pa = measure(after)
    return Comparison(mb, ma, pb, pa, len(test), len(held_out))


__all__ = [
    "Comparison",
    "Correction",
    "PERSONAL_ENV_VAR",
    "PersonalSet",
    "PersonalSetError",
    "Sample",
    "SaveReport",
    "compare_models",
    "correction_text",
    "digit_id",
    "is_held_out",
    "load_extra",
    "match_correction",
    "personal_dir",
    "read_zip",
    "reading_key",
    "save_correction",
]
