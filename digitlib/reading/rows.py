"""Reading order: blobs grouped into text rows, top to bottom, each left to right.
"""

from __future__ import annotations

import numpy as np

from .blobs import Blob, cut_by_frame, typical_height_of


#: Two marks follow one another along a line when their centres differ in height by at most this
#: many digit heights. The training generators' wavy lines (waves up to 0.35 heights either way, 3 or
#: more long) and baseline jitter (0.08) put neighbours up to about 0.9 apart, a line tilted 10 degrees
#: (steeper ones are turned level first) 0.2 more; the rows of a number lie 1.3 heights or more apart.
ROW_STEP = 0.9
#: Marks overlapping across by more than this share of the narrower lie above one another: in different rows.
ROW_STACKED = 0.5


def group_rows(blobs: list[Blob], digit_height: float | None = None) -> list[list[Blob]]:
    """Group blobs into text rows, top to bottom, each ordered left to right.

    digit_height : a typical digit's height (px); measured from ``blobs`` when None.
    Each mark is linked to the next mark along its line: a mark to its right, its centre at most
    ``ROW_STEP`` digit heights higher or lower, not stacked above or below it (``ROW_STACKED``).
    The closest pairs are linked first (the gap between them, the height between their centres
    counted twice), and each mark has at most one neighbour on either side, so the links form
    chains: the rows. A slanted or wavy line is one chain, however far its ends lie apart in
    height; a second row, directly under the first, never links to it.
    """
    if not blobs:
        return []
    height = digit_height or typical_height_of([b.h for b in blobs]) or 1.0
    marks = sorted(blobs, key=lambda b: (b.cx, b.cy))
    x = np.array([b.x for b in marks], np.float64)
    w = np.array([b.w for b in marks], np.float64)
    cx, cy = x + w / 2, np.array([b.y + b.h / 2 for b in marks], np.float64)
    # Every pair (i, j), j to the right of i: its rise, its overlap across, the gap between them.
    rise = np.abs(cy[None, :] - cy[:, None])
    overlap = np.minimum((x + w)[:, None], (x + w)[None, :]) - np.maximum(x[:, None], x[None, :])
    linkable = ((cx[None, :] > cx[:, None]) & (rise <= ROW_STEP * height)
                & (overlap <= ROW_STACKED * np.minimum(w[:, None], w[None, :])))
    gap = np.maximum(0.0, x[None, :] - (x + w)[:, None])
    first, second = np.nonzero(linkable)
    cost = (gap + 2 * rise)[first, second]
    links = sorted(zip(cost.tolist(), first.tolist(), second.tolist()))
    right: dict[int, int] = {}
    left: dict[int, int] = {}
    for _, i, j in links:
        if i not in right and j not in left:
            right[i], left[j] = j, i
    rows = []
    for start in range(len(marks)):
        if start in left:
            continue
        row, k = [marks[start]], start
        while k in right:
            k = right[k]
            row.append(marks[k])
        rows.append(row)
    rows = _fold_inline_marks(rows, ROW_STEP * height)
    rows.sort(key=lambda r: float(np.median([b.cy for b in r])))
    return _number_rows(rows)


def _fold_inline_marks(rows: list[list[Blob]], reach: float) -> list[list[Blob]]:
    """Rows (left to right) with each shorter row that lies within a longer one's span, its marks'
    centres at most ``reach`` px from the longer row's centre line there, merged into it. A comma
    or a piece low between two digits whose neighbours linked past it is part of their line."""
    rows = sorted(rows, key=len, reverse=True)
    kept: list[list[Blob]] = []
    for row in rows:
        host = next((h for h in kept if len(h) >= 2 and h[0].cx < row[0].cx and row[-1].cx < h[-1].cx
                     and all(abs(b.cy - np.interp(b.cx, [m.cx for m in h], [m.cy for m in h])) <= reach for b in row)),
                    None)
        if host is None:
            kept.append(row)
        else:
            host[:] = sorted(host + row, key=lambda b: b.cx)
    return kept


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
