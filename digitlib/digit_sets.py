"""Labelled 28x28 digits on disk, read side: the personal-set format and folders of label subfolders.

A personal set is a folder::

    index.json          {"format": "digitlib-personal", "version": 1, "samples": [...]}
    images/<id>.png     one 28x28 greyscale PNG per digit (MNIST polarity: white on black)

Each sample in the index is ``{"id", "label", "file", "added", "source"}``. ``id`` is the
start of the SHA-256 of the pixels. About one digit in five, chosen by its id (so always
the same ones, however the set grows), is *held out*: training never sees it.
``digitlib.personal`` writes such sets; training reads them through ``load_extra``, so
neither needs the other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch

from .data import MnistSplit, user_data_folder
from .reading.decode import read_header

PERSONAL_ENV_VAR = "DIGITLIB_PERSONAL"
PERSONAL_FORMAT = "digitlib-personal"
PERSONAL_VERSION = 1
INDEX = "index.json"
IMAGES = "images"
HELD_OUT_EVERY = 5  # one digit in five (by id) is held out for testing


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


def check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != (28, 28):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise PersonalSetError(f"a digit must be a 28x28 uint8 image, not {shape} {dtype}")
    return np.ascontiguousarray(image)


def check_label(label) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= int(label) <= 9:
        raise PersonalSetError(f"a label must be a digit 0-9, not {label!r}")
    return int(label)


def encode_png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", check_image(image))
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
class SavedDigit:
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


_thread_lock = threading.RLock()


@contextlib.contextmanager
def locked(folder: Path, writing: bool = True) -> Iterator[None]:
    """One writer at a time: threads of this process, and other processes (flock).
    A reader of a read-only folder (a set on a CD, say) goes without the file lock."""
    if writing:
        folder.mkdir(parents=True, exist_ok=True)
    with _thread_lock:
        try:
            lock = open(folder / ".lock", "a")
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


def read_index(folder: Path) -> dict[str, SavedDigit]:
    """The digits listed in ``folder``'s index, by id, in the order saved; {} when it has none.

    Raises PersonalSetError when the index cannot be read or is damaged."""
    index_path = folder / INDEX
    try:
        raw = index_path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise PersonalSetError(f"the index {index_path} cannot be read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != PERSONAL_FORMAT:
            raise ValueError("not a digitlib personal set index")
        if int(doc.get("version", 0)) > PERSONAL_VERSION:
            raise ValueError(f"format version {doc.get('version')} is newer than this digitlib reads")
        entries = doc.get("samples")
        if not isinstance(entries, list):
            raise ValueError("no list of samples")
        samples: dict[str, SavedDigit] = {}
        for e in entries:
            sample_id = str(e["id"])
            if len(sample_id) != 16 or any(c not in "0123456789abcdef" for c in sample_id):
                raise ValueError(f"bad id {sample_id!r}")
            samples[sample_id] = SavedDigit(
                id=sample_id, label=check_label(e["label"]), added=str(e.get("added", "")),
                source=str(e.get("source", "")), folder=folder,
            )
        return samples
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, PersonalSetError) as exc:
        raise PersonalSetError(
            f"the index {index_path} is damaged ({exc}); nothing was changed. "
            "Move the folder aside (or restore it from an exported zip) to start afresh."
        ) from None


def load(folder: Path) -> tuple[list[SavedDigit], np.ndarray]:
    """Every digit in ``folder`` and its image uint8 (N, 28, 28), read under the lock, so a
    save or a delete in another session cannot come between the index and the images."""
    if not (folder / INDEX).is_file():
        return [], np.zeros((0, 28, 28), np.uint8)
    with locked(folder, writing=False):
        digits = list(read_index(folder).values())
        return digits, images_of(digits)


def images_of(digits: Sequence[SavedDigit]) -> np.ndarray:
    """The saved digits' images as uint8 (N, 28, 28), in order."""
    out = np.zeros((len(digits), 28, 28), np.uint8)
    for i, d in enumerate(digits):
        out[i] = d.image()
    return out


def split_held_out(samples: Sequence[SavedDigit] | Sequence[str], images: np.ndarray,
                   labels: Sequence[int] | None = None) -> tuple[MnistSplit, MnistSplit]:
    """(training part, held-out part) of digits ``images`` uint8 (N, 28, 28), chosen by id."""
    ids = [s.id if isinstance(s, SavedDigit) else s for s in samples]
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
        samples, images = load(folder)
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
    train, held_out = split_held_out(ids, images, labels)
    if for_training and len(train) == 0:
        raise PersonalSetError(
            f"all {len(held_out)} digits in {folder} are held out for testing (one in {HELD_OUT_EVERY} is); "
            "add a few more to train on"
        )
    return train, held_out
