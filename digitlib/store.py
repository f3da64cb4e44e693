"""The models folder: every trained or stopped run lives here as one checkpoint file.

The folder is ``$DIGITLIB_MODELS`` if set, else a per-user data folder
(``$XDG_DATA_HOME/digitlib/models``, by default ``~/.local/share/digitlib/models``).
Each ``*.pt`` file is a digitlib checkpoint and carries its own metadata
(architecture, epochs, test accuracy, history), so there is no index to keep in sync.
The model that ships with the package is always listed first and can never be deleted.

``digitlib.evaluation.evaluate_checkpoint`` inspects one model on the MNIST test set.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkpoint import SHIPPED_MODEL, CheckpointError, checkpoint_summary
from .data import user_data_folder
from .model import arch_label

MODELS_ENV_VAR = "DIGITLIB_MODELS"


def models_dir() -> Path:
    """The models folder: ``$DIGITLIB_MODELS``, else ``$XDG_DATA_HOME/digitlib/models``
    (``~/.local/share/digitlib/models`` when XDG_DATA_HOME is unset). Not created here."""
    return user_data_folder(MODELS_ENV_VAR, "models")


@dataclass
class ModelEntry:
    """One model in the listing.

    ``created`` is when the checkpoint was last written (timezone-aware). ``epochs``
    is the number of epochs done (fractional for a run stopped mid-epoch).
    ``error`` is set (and the numbers are empty) when the file cannot be read;
    such an entry cannot be used, only deleted.
    """

    name: str
    path: Path
    arch: str | None
    epochs: float | None
    test_accuracy: float | None
    created: _dt.datetime
    size_bytes: int
    shipped: bool
    finished: bool
    epochs_planned: int | None = None
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def usable(self) -> bool:
        return self.error is None

    @property
    def resumable(self) -> bool:
        """An unfinished run of ours, which training can continue."""
        return self.usable and not self.finished and not self.shipped

    @property
    def arch_label(self) -> str:
        return arch_label(self.arch)

    @property
    def label(self) -> str:
        """A one-line name for pickers, e.g. ``Shipped model (DigitNet, 99.64%)``."""
        if self.error:
            return f"{self.name} (unreadable)"
        acc = f", {self.test_accuracy:.2%}" if self.test_accuracy is not None else ""
        if self.shipped:
            return f"Shipped model ({self.arch_label}{acc})"
        state = "" if self.finished else ", unfinished"
        return f"{self.name} ({self.arch_label}{acc}{state})"


# Reading a checkpoint means unpickling it; cache the summaries by (path, mtime, size)
# so redrawing a page does not reload every file.
_summary_cache: dict[tuple[str, int, int], dict[str, Any]] = {}
_summary_lock = threading.Lock()


def _summary(path: Path, stat: os.stat_result) -> dict[str, Any]:
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _summary_lock:
        hit = _summary_cache.get(key)
    if hit is not None:
        return hit
    summary = checkpoint_summary(path)
    summary.pop("history", None)  # can be long; callers that need it read the file
    with _summary_lock:
        if len(_summary_cache) > 512:
            _summary_cache.clear()
        _summary_cache[key] = summary
    return summary


def _parse_time(text: Any, fallback: float) -> _dt.datetime:
    if isinstance(text, str):
        try:
            t = _dt.datetime.fromisoformat(text)
            return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            pass
    return _dt.datetime.fromtimestamp(fallback, _dt.timezone.utc)


def read_entry(path: str | os.PathLike, shipped: bool | None = None) -> ModelEntry:
    """The listing entry of one checkpoint; never raises for a bad file (``error`` says why)."""
    path = Path(path)
    if shipped is None:
        shipped = is_shipped(path)
    name = "shipped" if shipped else path.stem
    try:
        stat = path.stat()
    except OSError as exc:
        return ModelEntry(
            name=name, path=path, arch=None, epochs=None, test_accuracy=None,
            created=_dt.datetime.fromtimestamp(0, _dt.timezone.utc), size_bytes=0, shipped=shipped,
            finished=False, error=f"{path} cannot be read ({exc.strerror or exc})",
        )
    try:
        meta = _summary(path, stat)
    except CheckpointError as exc:
        return ModelEntry(
            name=name, path=path, arch=None, epochs=None, test_accuracy=None,
            created=_parse_time(None, stat.st_mtime), size_bytes=stat.st_size, shipped=shipped,
            finished=False, error=str(exc),
        )
    epochs = meta.get("epochs_done")
    acc = meta.get("test_accuracy")
    return ModelEntry(
        name=name,
        path=path,
        arch=meta.get("arch"),
        epochs=float(epochs) if isinstance(epochs, (int, float)) else None,
        test_accuracy=float(acc) if isinstance(acc, (int, float)) else None,
        created=_parse_time(meta.get("created"), stat.st_mtime),
        size_bytes=stat.st_size,
        shipped=shipped,
        # The shipped model is a finished, exported model whatever its flags say.
        finished=bool(meta.get("finished", True)) or shipped,
        epochs_planned=meta.get("epochs_planned"),
        meta=meta,
    )


def is_shipped(path: str | os.PathLike | None) -> bool:
    """True for ``None`` (the Recognize page's way of naming the shipped model) and its file."""
    if path is None:
        return True
    try:
        return Path(path).resolve() == SHIPPED_MODEL.resolve()
    except OSError:
        return False


def list_models(folder: str | os.PathLike | None = None) -> list[ModelEntry]:
    """The shipped model first, then the folder's ``*.pt`` files, newest first.

    Never raises: an unreadable checkpoint is listed with ``error`` set, and a
    missing or unreadable folder simply contributes nothing (use ``folder_problem``
    to tell the user why).
    """
    folder = Path(folder) if folder is not None else models_dir()
    entries = [read_entry(SHIPPED_MODEL, shipped=True)]
    try:
        files = [p for p in folder.glob("*.pt") if p.is_file() and not p.name.startswith(".")]
    except OSError:
        files = []
    runs = [read_entry(p, shipped=False) for p in files if not is_shipped(p)]
    runs.sort(key=lambda e: (e.created, e.path.name), reverse=True)
    return entries + runs


def folder_problem(folder: str | os.PathLike | None = None) -> str | None:
    """Why the models folder cannot take new models, or None if it can (or can be created)."""
    folder = Path(folder) if folder is not None else models_dir()
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"models folder {folder} cannot be created: {probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "" if probe == folder else f" (its parent {probe} is read-only)"
        return f"models folder {folder} is not writable{where}"
    return None


def delete_model(path: str | os.PathLike) -> None:
    """Delete a model file. Refuses the shipped model (ValueError); OSError passes through."""
    if is_shipped(path):
        raise ValueError("the shipped model cannot be deleted")
    path = Path(path)
    if path.suffix != ".pt":
        raise ValueError(f"{path} is not a model file (*.pt)")
    path.unlink()
    with _summary_lock:
        for key in [k for k in _summary_cache if k[0] == str(path)]:
            del _summary_cache[key]


def new_run_path(arch: str, folder: str | os.PathLike | None = None) -> Path:
    """A fresh checkpoint path in the models folder, e.g. ``digitnet-20250101-120000.pt``.

    Creates the folder; raises OSError (with the folder in the message) if that
    is impossible, so an unwritable folder is reported before training starts.
    """
    folder = Path(folder) if folder is not None else models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(13, "models folder is not writable", str(folder))
    safe = re.sub(r"[^a-z0-9]+", "-", arch.lower()).strip("-") or "model"
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"{safe}-{stamp}.pt"
    n = 2
    while path.exists():
        path = folder / f"{safe}-{stamp}-{n}.pt"
        n += 1
    return path


# ---------------------------------------------------------------------------
__all__ = [
    "MODELS_ENV_VAR",
    "ModelEntry",
    "delete_model",
    "folder_problem",
    "is_shipped",
    "list_models",
    "models_dir",
    "new_run_path",
    "read_entry",
]
