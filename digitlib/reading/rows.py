"""Reading order: blobs grouped into text rows, top to bottom, each left to right.
"""

from __future__ import annotations

import numpy as np

from .blobs import Blob, cut_by_frame


def group_rows(blobs: list[Blob]) -> list[list[Blob]]:
    """Group blobs into text rows, top to bottom, each ordered left to right.

    Blobs are visited left to right; each joins the row whose last blob it
    overlaps most vertically, so a slanted or wavy baseline stays one row.
    """
    rows: list[list[Blob]] = []
    for b in sorted(blobs, key=lambda b: (b.x, b.y)):
        best, best_overlap = None, 0.0
        for row in rows:
            last = row[-1]
            overlap = (min(b.y + b.h, last.y + last.h) - max(b.y, last.y)) / max(1, min(b.h, last.h))
            if overlap > best_overlap:
                best, best_overlap = row, overlap
        if best is not None and best_overlap >= 0.35:
            best.append(b)
        else:
            rows.append([b])
    rows.sort(key=lambda r: float(np.median([b.cy for b in r])))
    return _number_rows(rows)


def _number_rows(rows: list[list[Blob]]) -> list[list[Blob]]:
    for i, row in enumerate(rows):
        for b in row:
            b.row = i
    return rows


def drop_frame_rows(rows: list[list[Blob]], height: int, width: int) -> list[list[Blob]]:
    """Rows made only of marks cut by the image's frame, beside a row that is not.

    A strip of the paper's edge, the desk or a shadow's border at the side of the
    photo lands in a row of its own and reads as a "1" or a "4". The number the
    photo was taken of lies inside the frame; a lone digit cut by the frame, with
    nothing else in the photo, is still read.
    """
    framed = [all(cut_by_frame(b, height, width) for b in row) for row in rows]
    if all(framed):
        return rows
    return _number_rows([row for row, cut in zip(rows, framed) if not cut])
