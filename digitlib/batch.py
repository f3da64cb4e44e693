"""Reading many files: folders, globs, several processes, results written as they come, resumable.

``read_many`` lists the images (``image_paths``), skips those already in the output file, reads
the rest with ``workers`` processes (this one and others, one ``Recognizer`` each, loaded once),
and appends one row a file to CSV or JSON Lines as each finishes: file, text, confidence, digits
(label, confidence, box), warnings, error. A file that cannot be read is a row with its error, never the end of the
run. Each row is written whole and flushed, so an interrupted run loses at most the rows in
flight, and running it again with the same output reads only the files it has no row for.

``read_with_ray`` runs the same job on a Ray cluster (``digitlib.batch_ray``; needs ``digitlib[ray]``).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Callable, Iterator

from .batch_rows import COLUMNS, BatchReport, image_paths, result_row
from .recognizer import Recognizer

__all__ = ["COLUMNS", "BatchReport", "ResultsFile", "image_paths", "read_many", "read_with_ray", "result_row"]


class ResultsFile:
    """Rows appended to a CSV (``.csv``) or JSON Lines (any other suffix) file, one whole line each,
    flushed as written. ``done`` is the set of files it already has a row for."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.csv = self.path.suffix.lower() == ".csv"
        self.done = self._read_done()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a", encoding="utf-8", newline="")
        if self.csv and self.file.tell() == 0:
            self._write_line(self._csv_line(COLUMNS))

    def _read_done(self) -> set[str]:
        if not self.path.is_file():
            return set()
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):  # the last row was cut by a crash: drop it, it is read again
            data = data[: data.rfind(b"\n") + 1]
            with open(self.path, "r+b") as f:
                f.truncate(len(data))
        text = data.decode("utf-8")
        if self.csv:
            return {row["file"] for row in csv.DictReader(io.StringIO(text))}
        return {json.loads(line)["file"] for line in text.splitlines() if line.strip()}

    @staticmethod
    def _csv_line(values: list) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(values)
        return buffer.getvalue()

    def _write_line(self, line: str) -> None:
        self.file.write(line)  # one write a row: a row is in the file whole or not at all
        self.file.flush()

    def write(self, row: dict) -> None:
        if self.csv:
            cells = [json.dumps(row[c]) if isinstance(row[c], list) else ("" if row[c] is None else row[c])
                     for c in COLUMNS]
            self._write_line(self._csv_line(cells))
        else:
            self._write_line(json.dumps(row, ensure_ascii=False) + "\n")
        self.done.add(row["file"])

    def close(self) -> None:
        self.file.close()


# One Recognizer per worker process, loaded once by the pool's initializer.
_worker_recognizer: Recognizer | None = None


def _one_thread_each() -> tuple[int, int]:
    """Torch and OpenCV on one thread each in this process; returns the counts they had.

    The processes reading share the cores: with a thread per core each, they would take turns."""
    import cv2
    import torch

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    return before


def _start_worker(model: str | None) -> None:
    global _worker_recognizer
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches every process: the main one stops the pool
    _one_thread_each()
    _worker_recognizer = Recognizer(model)


def _read_in_worker(path: str) -> dict:
    return result_row(path, _worker_recognizer.read)


def _rows_alongside(pool, todo: list[str], read: Callable, ahead: int) -> Iterator[dict]:
    """Rows of ``todo``, read by ``pool``'s workers and, in turns, by ``read`` in this process.

    This process reads from the first moment, while the workers still start (a new Python,
    torch, the model: seconds, against 30-40 ms a page), and keeps ``ahead`` files queued for
    the pool, so no worker waits while it reads a page. A worker's exception is raised here."""
    import queue

    finished: queue.SimpleQueue = queue.SimpleQueue()  # rows (or exceptions) from the pool's result thread
    files = iter(todo)
    in_pool = 0
    while True:
        while in_pool < ahead and (path := next(files, None)) is not None:
            pool.apply_async(_read_in_worker, (path,), callback=finished.put, error_callback=finished.put)
            in_pool += 1
        while not finished.empty():
            in_pool -= 1
            yield _row_or_raise(finished.get())
        if (path := next(files, None)) is None:
            break
        yield result_row(path, read)
    for _ in range(in_pool):
        yield _row_or_raise(finished.get())


def _row_or_raise(item: dict | BaseException) -> dict:
    if isinstance(item, BaseException):
        raise item
    return item


def read_many(paths: list[str], out: str | os.PathLike, workers: int = 0, model: str | None = None,
              progress: Callable[[Iterator[dict], int], Iterator[dict]] | None = None) -> BatchReport:
    """Read ``paths`` into ``out`` (see the module's docstring); ``workers`` 0 means every core,
    1 reads in this process, N reads in this process and N - 1 others (``_rows_alongside``).
    ``progress(rows, total)`` may wrap the stream of rows (a progress bar). KeyboardInterrupt
    stops the pool and leaves ``out`` with every row finished so far."""
    results = ResultsFile(out)
    todo = [p for p in paths if p not in results.done]
    report = BatchReport(len(paths), len(paths) - len(todo), 0, 0)
    workers = min(workers or os.cpu_count() or 1, max(1, len(todo)))
    pool, threads = None, None
    try:
        recognizer = Recognizer(model)
        if workers == 1:
            rows: Iterator[dict] = (result_row(p, recognizer.read) for p in todo)
        else:
            import multiprocessing

            pool = multiprocessing.get_context("spawn").Pool(workers - 1, _start_worker, (model,))
            threads = _one_thread_each()
            # Four files queued a worker: this process can read a page four times the usual length
            # (a hard page) before a worker waits, and at the end it waits for at most four a worker.
            rows = _rows_alongside(pool, todo, recognizer.read, ahead=4 * (workers - 1))
        for row in progress(rows, len(todo)) if progress else rows:
            results.write(row)
            report.read += 1
            report.failed += row["error"] is not None
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if threads is not None:  # this process's own settings back, for whoever called
            import cv2
            import torch

            torch.set_num_threads(threads[0])
            cv2.setNumThreads(threads[1])
        results.close()
    return report


def read_with_ray(paths_or_uri: str | list[str], out: str | os.PathLike, **options) -> BatchReport:
    """The job on Ray Data, rows as Parquet or JSON Lines: ``digitlib.batch_ray.read_with_ray``
    (imported only here, so that nothing else needs ray installed)."""
    from .batch_ray import read_with_ray as read_on_ray

    return read_on_ray(paths_or_uri, out, **options)
