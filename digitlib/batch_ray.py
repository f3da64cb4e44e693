"""The batch job on a Ray cluster: ``read_with_ray`` (``digitlib read --engine ray``).

Ray Data reads the files (``read_binary_files``: local paths, or any URI pyarrow knows, such as
``s3://bucket/scans/``), a pool of actors that each hold one ``Recognizer`` (loaded once per actor)
reads them in batches with ``map_batches``, and the rows are written as Parquet (``out`` ending in
``.parquet``) or JSON Lines (any other name): a folder of part files, on the cluster, with the
columns of ``digitlib.batch``'s rows (``batch_rows.result_row``) (file, text, confidence, digits, warnings, error). A file
that cannot be read is a row with its error. Running it again with the same ``out`` reads only
the files it has no row for.

Ray is optional (``pip install digitlib[ray]``): nothing else in digitlib imports this module
or ray, and ``read_with_ray`` raises ``RayUnavailableError`` when ray cannot be imported.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from .batch_rows import BatchReport, image_paths, result_row
from .reading.decode import FILE_TYPES

INSTALL_RAY = "pip install 'digitlib[ray]' (or: pip install -r requirements-ray.txt)"

# An actor leaves a share of each core it is given to the read and write tasks: with a whole CPU
# per actor and one actor per CPU, the tasks that list and read the files could never be
# scheduled, and the job stalled (a 2-CPU local instance, 2 actors). Each actor reads with one
# torch thread, so a core still does one page at a time.
ACTOR_CPUS = 0.8
TASK_CPUS = 0.2
BATCH_SIZE = 16  # pages per map_batches call: big enough to amortise the call, small enough to spread


class RayUnavailableError(ImportError):
    """Ray Data is not installed; the message says how to install it."""


def import_ray():
    """``ray`` with ``ray.data`` loaded, or RayUnavailableError."""
    try:
        import ray
        import ray.data  # noqa: F401  (a subpackage: loads the Data API into ``ray``)
    except ImportError as exc:
        raise RayUnavailableError(f"the ray engine needs Ray Data ({exc}): {INSTALL_RAY}") from None
    return ray


def row_schema():
    """The pyarrow schema of a row, fixed so every part file has the same columns and types
    (inferred from a batch, an all-error batch would give ``digits`` a list of nulls)."""
    import pyarrow as pa

    digit = pa.struct([("label", pa.int64()), ("confidence", pa.float64()), ("box", pa.list_(pa.int64())),
                       ("row", pa.int64())])
    return pa.schema([("file", pa.string()), ("text", pa.string()), ("confidence", pa.float64()),
                      ("digits", pa.list_(digit)), ("warnings", pa.list_(pa.string())), ("error", pa.string())])


class RecognizerActor:
    """A ``map_batches`` callable class: one Recognizer per actor, loaded once."""

    def __init__(self, model: str | None = None) -> None:
        import cv2
        import torch

        from .recognizer import Recognizer

        torch.set_num_threads(1)  # one actor per core: more threads (torch's or OpenCV's) would fight over it
        cv2.setNumThreads(1)
        self.recognizer = Recognizer(model)
        self.schema = row_schema()

    def __call__(self, batch: dict[str, np.ndarray]):
        """``batch``: ``path`` (str) and ``bytes`` (the file's bytes) object arrays of one length ->
        a pyarrow Table of rows, in order."""
        import pyarrow as pa

        rows = [result_row(str(path), lambda _, data=data: self.recognizer.read(bytes(data)))
                for path, data in zip(batch["path"], batch["bytes"])]
        return pa.Table.from_pylist(rows, schema=self.schema)


def is_uri(spec: str) -> bool:
    return "://" in spec


def list_files(paths_or_uri: str | list[str]) -> list[str]:
    """The image files to read: local files, folders and globs as ``batch_rows.image_paths`` lists them
    (the same names the CLI writes); URIs listed by pyarrow's filesystem, recursively."""
    specs = [paths_or_uri] if isinstance(paths_or_uri, (str, os.PathLike)) else list(paths_or_uri)
    specs = [os.fspath(s) for s in specs]
    local = [s for s in specs if not is_uri(s)]
    found = dict.fromkeys(image_paths(local)) if local else {}
    for uri in (s for s in specs if is_uri(s)):
        import pyarrow.fs as pafs

        fs, root = pafs.FileSystem.from_uri(uri)
        info = fs.get_file_info(root)
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True)) if info.type == pafs.FileType.Directory \
            else [info]
        scheme = uri.split("://", 1)[0]
        names = sorted(f"{scheme}://{i.path}" for i in infos if i.type == pafs.FileType.File
                       and i.extension.lower() in FILE_TYPES)
        if not names:
            raise ValueError(f"{uri}: no image files there")
        found.update(dict.fromkeys(names))
    return list(found)


def rows_written(out: str) -> dict[str, bool]:
    """{file: whether it was read without error} for each row already in ``out`` ({} if none).

    Read here with pyarrow (local folder or URI alike), two columns only: quicker than a Ray job."""
    import pyarrow as pa
    import pyarrow.dataset as pads

    columns = pa.schema([("file", pa.string()), ("error", pa.string())])  # given: a JSON part file of
    # rows without an error would make the error column's type null
    try:
        table = pads.dataset(out, format="parquet" if out.lower().endswith(".parquet") else "json",
                             schema=columns).to_table()
    except FileNotFoundError:
        return {}
    return {f: e is None for f, e in zip(table.column("file").to_pylist(), table.column("error").to_pylist())}


def start_ray(ray, address: str | None, quiet: bool) -> bool:
    """Join (or start) Ray unless this process already has; True if this call connected.
    ``quiet``: Ray's INFO logs and its workers' output kept off the terminal."""
    if ray.is_initialized():
        return False
    level = logging.ERROR if quiet else logging.INFO  # ERROR: not even the notice that token auth is on
    ray.init(address=address, include_dashboard=False, log_to_driver=not quiet, logging_level=level)
    if quiet:
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    return True


def read_with_ray(paths_or_uri: str | list[str], out: str | os.PathLike, model: str | None = None,
                  actors: int | None = None, address: str | None = None, batch_size: int = BATCH_SIZE,
                  quiet: bool = True) -> BatchReport:
    """Read images with Ray Data into ``out`` (see the module's docstring).

    ``paths_or_uri``: files, folders, globs or URIs, or a list of them. ``actors``: Recognizers
    reading at once (default: one per CPU of the cluster). ``address``: the cluster to join, as
    ``ray.init(address=...)`` takes it (used only when this process has not joined one already;
    Ray is then shut down at the end). ``quiet``: Ray's INFO logs and workers' output not shown.
    ``out``: a folder or URI ending in ``.parquet`` for Parquet, else JSON Lines. Returns the same
    counts as ``read_many``.
    """
    ray = import_ray()
    out = os.fspath(out)
    if out.lower().endswith(".csv"):
        raise ValueError("the ray engine writes Parquet (an --out ending in .parquet) or JSON Lines, not CSV")
    files = list_files(paths_or_uri)
    done = rows_written(out)
    todo = [f for f in files if f not in done]
    report = BatchReport(len(files), len(files) - len(todo), 0, 0)
    if not todo:
        return report
    started = start_ray(ray, address, quiet)
    try:
        if actors is None:
            actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actors = min(actors, len(todo))
        batch_size = max(1, min(batch_size, -(-len(todo) // actors)))  # a batch for every actor
        ds = ray.data.read_binary_files(todo, include_paths=True, num_cpus=TASK_CPUS)
        ds = ds.map_batches(RecognizerActor, fn_constructor_kwargs={"model": model},
                            batch_size=batch_size, batch_format="numpy", num_cpus=ACTOR_CPUS,
                            compute=ray.data.ActorPoolStrategy(size=actors))
        write = ds.write_parquet if out.lower().endswith(".parquet") else ds.write_json
        write(out, ray_remote_args={"num_cpus": TASK_CPUS})
        now = rows_written(out)  # the counts, read back: Ray's writers return none
        report.read = sum(f in now for f in todo)
        report.failed = sum(not now[f] for f in todo if f in now)
        return report
    finally:
        if started:
            ray.shutdown()
