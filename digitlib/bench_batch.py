"""``python -m digitlib.bench batch``: pages per second of ``digitlib read --out`` with one worker,
with two, and on Ray (``--engine ray``, a local Ray instance), on generated pages.

Each engine runs as the command a user types, timed from start to exit (Python, torch and the
models loading, Ray starting, the output written), so start-up counts as users feel it. The
pages are synthetic photos (``digitlib.synth``: half "clean", half "hard", JPEG) written to a
temporary folder, or to ``--folder``, where pages already written are reused. The runs take
turns (1, 2, ray, 1, 2, ray, ...) so that load on a shared machine hits each alike. Each also
reads the first 4 pages alone just before: that run is mostly start-up, and the whole run less it
gives the rate past start-up.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from .formatting import machine_line

# name: (label in the table, options of digitlib read)
ENGINES = {"1": ("1 worker", ["--workers", "1"]), "2": ("2 workers", ["--workers", "2"]),
           "ray": ("Ray Data, 2 actors", ["--engine", "ray", "--workers", "2"])}
FEW_PAGES = 4  # each engine also reads this many pages alone: its start-up, to tell apart from its rate


def write_pages(folder: Path, n: int, seed: int, root: str | None) -> list[str]:
    """``n`` synthetic pages as JPEGs in ``folder``: page ``i`` is the one ``synth.make_suite`` makes
    at index ``i // 2`` (even pages "clean", odd ones "hard"), built one at a time (a suite of
    1,000 photos would hold gigabytes). A page already in ``folder`` is kept. Returns the paths."""
    from . import synth

    folder.mkdir(parents=True, exist_ok=True)
    digits = None
    paths = []
    for i in range(n):
        path = folder / f"page-{i:05d}.jpg"
        if not path.is_file():
            digits = digits or synth.mnist_test_digits(root)
            rng = np.random.default_rng((seed, i // 2))  # make_suite's generator for its image i // 2
            image = synth.make_image(synth.random_number(rng), rng, synth.SUITES[i % 2], digits)
            cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(str(path))
    return paths


def texts_in(out: Path) -> dict[str, str]:
    """{file: text} of a CSV or JSON Lines file, or of a folder of Parquet or JSON Lines part files."""
    if out.is_dir():
        if out.suffix == ".parquet":
            import pyarrow.parquet as pq

            return {r["file"]: r["text"] for r in pq.read_table(out, columns=["file", "text"]).to_pylist()}
        lines = [line for part in sorted(out.glob("*.json")) for line in part.read_text().splitlines()]
    elif out.suffix == ".csv":
        import csv

        return {r["file"]: r["text"] for r in csv.DictReader(open(out, newline=""))}
    else:
        lines = out.read_text().splitlines()
    return {row["file"]: row["text"] for row in map(json.loads, lines)}


def run_engine(folder: Path, out: Path, options: list[str]) -> tuple[float, float]:
    """Seconds ``python -m digitlib read FOLDER --out OUT OPTIONS`` takes, start to exit, and the CPU
    seconds it and the processes it waited for used (Ray's own daemons are not among them)."""
    import resource

    command = [sys.executable, "-m", "digitlib", "read", str(folder), "--out", str(out), *options]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def linked(paths: list[str], folder: Path) -> Path:
    """``folder`` holding a link to each of ``paths`` (the engines read a folder: exactly these pages)."""
    folder.mkdir(parents=True)
    for path in paths:
        (folder / Path(path).name).symlink_to(Path(path).resolve())
    return folder


def rate_table(engines: dict, pages: int, seconds: dict[str, list[float]], few: dict[str, list[float]],
               cpu_ms: dict[str, list[float]], same: dict[str, int]) -> str:
    """Markdown: per engine, the seconds of each run on ``pages`` pages and on ``FEW_PAGES``, pages
    per second over the whole run (median run) and past start-up (the whole run less the few
    pages' run), each against the first engine's, CPU ms a page, and how many texts match the
    first engine's. CPU time hardly depends on the machine's load, wall time does."""
    first = next(iter(engines))
    whole = {n: pages / float(np.median(seconds[n])) for n in engines}
    past = {n: float(np.median(seconds[n]) - np.median(few[n])) for n in engines}
    steady = {n: (pages - FEW_PAGES) / past[n] if past[n] > 0 else float("nan") for n in engines}  # nan: too few pages
    base = engines[first][0]
    lines = [f"| engine | seconds, {pages} pages | pages/s | vs {base} | seconds, {FEW_PAGES} pages (start-up) | "
             f"pages/s past start-up | vs {base} | CPU ms a page | same text as {base} |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, (label, options) in engines.items():
        runs, starts = (" / ".join(f"{s:.1f}" for s in t) for t in (seconds[n], few[n]))
        lines.append(f"| {label} | {runs} | {whole[n]:.1f} | {whole[n] / whole[first]:.2f}x | {starts} | "
                     f"{steady[n]:.1f} | {steady[n] / steady[first]:.2f}x | {np.median(cpu_ms[n]):.0f}{cpu_note(options)} | "
                     f"{same[n]} of {pages} |")
    return "\n".join(lines)


def cpu_note(options: list[str]) -> str:
    """What the CPU column leaves out for an engine: Ray's actors run under Ray's daemons."""
    return " (driver only)" if "ray" in options else ""


def uptime() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True)
    return done.stdout.strip() or "n/a"


def bench_batch(args: argparse.Namespace) -> int:
    engines = {name: ENGINES[name] for name in args.engines.split(",")} if args.engines else ENGINES
    folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="digitlib-pages-"))
    work = Path(tempfile.mkdtemp(prefix="digitlib-bench-batch-"))
    try:
        start = time.perf_counter()
        pages = write_pages(folder, args.pages, args.seed, args.data)
        print(f"{len(pages)} pages in {folder} ({time.perf_counter() - start:.0f} s to write or find)")
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parent).stdout.strip() or "n/a"
        print(f"commit {commit}; machine: {machine_line()}")
        print(f"uptime before: {uptime()}")
        chosen, few = linked(pages, work / "pages"), linked(pages[:FEW_PAGES], work / "few")
        seconds: dict[str, list[float]] = {name: [] for name in engines}
        startup: dict[str, list[float]] = {name: [] for name in engines}
        cpu_ms: dict[str, list[float]] = {name: [] for name in engines}  # CPU ms a page, start-up included
        texts: dict[str, dict[str, str]] = {}
        for repeat in range(args.repeats):
            for name, (label, options) in engines.items():
                out = work / f"{name}-{repeat}" / ("out.parquet" if "ray" in options else "out.jsonl")
                startup[name].append(run_engine(few, out.with_name("few-" + out.name), options)[0])
                wall, cpu = run_engine(chosen, out, options)
                seconds[name].append(wall)
                cpu_ms[name].append(1000 * cpu / len(pages))
                texts.setdefault(name, {Path(f).name: t for f, t in texts_in(out).items()})
                print(f"  {label}: {wall:.1f} s, {cpu_ms[name][-1]:.0f} CPU ms a page ({FEW_PAGES} pages: "
                      f"{startup[name][-1]:.1f} s)", flush=True)
        print(f"uptime after: {uptime()}\n")
        first = texts[next(iter(engines))]
        same = {name: sum(texts[name].get(Path(p).name) == first.get(Path(p).name) for p in pages) for name in engines}
        print(rate_table(engines, len(pages), seconds, startup, cpu_ms, same))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.folder and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def add_parser(sub) -> None:
    """The ``batch`` subcommand of ``python -m digitlib.bench``."""
    b = sub.add_parser("batch", help="pages per second of digitlib read --out: 1 worker, 2 workers, Ray")
    b.add_argument("--pages", type=int, default=1000, help="generated pages (default 1000)")
    b.add_argument("--seed", type=int, default=9)
    b.add_argument("--folder", default=None,
                   help="write the pages here and keep them; pages already there are reused (default: a temp folder)")
    b.add_argument("--keep", action="store_true", help="keep the temp folder of pages")
    b.add_argument("--repeats", type=int, default=1, help="runs of each engine, taking turns (default 1)")
    b.add_argument("--engines", default=None, help=f"comma-separated, of: {', '.join(ENGINES)} (default: all; the first is the base)")
    b.add_argument("--data", default=None, help="MNIST folder for the digits (default: $DIGITLIB_DATA or the cache)")
