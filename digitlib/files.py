"""Files written safely and recognised when they change: atomic writes, file signatures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file atomically: ``write(f)`` fills a temp file in the same folder,
    which is fsynced and renamed over ``path``, so readers see the old file or the
    new one, never half of one. Errors (disk full, read-only folder, ...) propagate
    unchanged after the temp file is removed; the old file is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; these files are not secrets
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not exc.filename:
            exc.filename = str(path)  # "No space left on device" alone does not say where
        raise
    return path


def file_signature(path: str | os.PathLike) -> tuple[str, int, int]:
    """(path, mtime_ns, size) of a file, so a cache keyed on it notices a rewritten file at the
    same path; (path, 0, 0) when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return str(path), 0, 0
    return str(path), st.st_mtime_ns, st.st_size
