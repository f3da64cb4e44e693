"""What the batch engines share: the files a job reads, a row for each, and the counts of a run.

``digitlib.batch`` (processes on this machine) and ``digitlib.batch_ray`` (a Ray cluster) both
list files with ``image_paths`` and write ``result_row``'s rows, so their outputs have the same
files, columns and values.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .reading.decode import FILE_TYPES

COLUMNS = ["file", "text", "confidence", "digits", "warnings", "error"]


def image_paths(specs: Iterable[str]) -> list[str]:
    """Files named, the images in folders named (recursively) and the files a glob matches, sorted
    within each spec and each listed once. ValueError names a spec that matches nothing."""
    out: dict[str, None] = {}
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower().lstrip(".") in FILE_TYPES)
        elif path.exists():
            found = [spec]
        else:
            found = sorted(p for p in glob.glob(spec, recursive=True) if Path(p).is_file())
        if not found and not path.is_dir():
            raise ValueError(f"{spec}: no such file, folder or matching files")
        out.update(dict.fromkeys(found))
    return list(out)


def result_row(path: str, read: Callable) -> dict:
    """One output row for ``path``: its reading, or its error (ValueError: not a readable image)."""
    try:
        reading = read(path)
    except ValueError as exc:
        return {"file": path, "text": "", "confidence": None, "digits": [], "warnings": [], "error": str(exc)}
    digits = [{"label": d.label, "confidence": round(d.confidence, 4), "box": list(d.box), "row": d.row}
              for d in reading.digits]
    return {"file": path, "text": reading.text, "confidence": round(reading.confidence, 4), "digits": digits,
            "warnings": reading.warnings, "error": None}


@dataclass
class BatchReport:
    """The counts of one run of a batch job."""

    total: int  # files listed
    skipped: int  # already in the output
    read: int  # rows written this run
    failed: int  # of them, files that could not be read
