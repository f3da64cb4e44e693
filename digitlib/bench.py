"""Benchmarks that print markdown tables.

``python -m digitlib.bench read``: our reader (``Recognizer.read``) against the
article's method (``digitlib.baselines.SeedBaseline``) on the real samples, the
synthetic suites (``digitlib.synth``, the training generator's) and the holdout
suites (``digitlib.holdout``, an independent generator nothing is tuned on), side
by side in one run: exact matches, digit accuracy, median and 95th-percentile
time per image, crashes. Then a reliability table (our confidence against the
share read exactly) and the slowest of a set of images with no number in them
(noise, textures, scribble) against the median time of a webcam photo.

``python -m digitlib.bench train``: the training presets side by side (``digitlib.bench_train``).

``python -m digitlib.bench batch``: pages per second of ``digitlib read --out`` with one worker,
two, and on Ray (``digitlib.bench_batch``).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .bench_batch import add_parser as add_batch_parser
from .bench_batch import bench_batch
from .bench_train import bench_train
from .formatting import accuracy, machine_line

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES_ENV_VAR = "DIGITLIB_SAMPLES"

Reader = Callable[[np.ndarray], str]


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning ``a`` into ``b``."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def digit_accuracy(predicted: str, label: str) -> float:
    """1 - edit distance / len(label), floored at 0 so one wild over-read costs one image, not more."""
    return max(0.0, 1.0 - edit_distance(predicted, label) / max(1, len(label)))


@dataclass
class Score:
    """How one reader did on one set of images."""

    n: int
    exact: float  # fraction of images read exactly
    digit_accuracy: float  # mean over images of digit_accuracy()
    median_ms: float
    p95_ms: float
    crashes: int  # calls that raised; they count as reading ""


def score(predictions: list[str | None], labels: list[str], seconds: list[float]) -> Score:
    """Score readings (None: the reader raised) against their labels and timings."""
    texts = [p if p is not None else "" for p in predictions]
    ms = np.array(seconds, dtype=np.float64) * 1000.0
    return Score(
        n=len(labels),
        exact=float(np.mean([t == lab for t, lab in zip(texts, labels)])) if labels else 0.0,
        digit_accuracy=float(np.mean([digit_accuracy(t, lab) for t, lab in zip(texts, labels)])) if labels else 0.0,
        median_ms=float(np.median(ms)) if ms.size else 0.0,
        p95_ms=float(np.percentile(ms, 95)) if ms.size else 0.0,
        crashes=sum(p is None for p in predictions),
    )


def run_readers(
    readers: dict[str, Reader], images: list[np.ndarray]
) -> tuple[dict[str, list[str | None]], dict[str, list[float]], dict[str, str]]:
    """Run every reader on every image, interleaved image by image so that load on
    a shared machine hits all readers alike. Exceptions are caught and counted.

    Returns per reader: the texts (None where it raised), the seconds per image,
    and the first error message (if any) to show the user.
    """
    texts: dict[str, list[str | None]] = {name: [] for name in readers}
    seconds: dict[str, list[float]] = {name: [] for name in readers}
    first_error: dict[str, str] = {}
    for image in images:
        for name, read in readers.items():
            start = time.perf_counter()
            try:
                text: str | None = str(read(image))
            except Exception as exc:  # a crash is a result to count, not a reason to stop
                text = None
                first_error.setdefault(name, f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
            seconds[name].append(time.perf_counter() - start)
            texts[name].append(text)
    return texts, seconds, first_error


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def default_samples_dir() -> Path:
    """``$DIGITLIB_SAMPLES``, else ``../shared/samples`` next to the repository."""
    env = os.environ.get(SAMPLES_ENV_VAR)
    return Path(env) if env else REPO_ROOT.parent / "shared" / "samples"


def load_samples(folder: Path) -> list[tuple[str, np.ndarray, str, str]]:
    """(file name, BGR uint8 image, label, kind) of each sample in ``labels.tsv``; labels stay text."""
    import cv2

    out = []
    with open(folder / "labels.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            image = cv2.imread(str(folder / row["file"]), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"cannot decode sample {folder / row['file']}")
            out.append((row["file"], image, row["label"], row["kind"]))
    return out


# ---------------------------------------------------------------------------
# read
# ---------------------------------------------------------------------------


def read_table(results: list[tuple[str, str, Score]]) -> str:
    """Markdown table of (set, reader, score) rows."""
    lines = [
        "| set | images | reader | exact match | digit accuracy | median ms | p95 ms | crashes |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for set_name, reader, s in results:
        lines.append(
            f"| {set_name} | {s.n} | {reader} | {accuracy(s.exact, decimals=1)} | {accuracy(s.digit_accuracy, decimals=1)} | "
            f"{s.median_ms:.1f} | {s.p95_ms:.1f} | {s.crashes} |"
        )
    return "\n".join(lines)


def speed_table(results: list[tuple[str, str, Score]], ours: str, baseline: str) -> str:
    """Markdown table of the ratio of median times, baseline / ours, per set."""
    by_set: dict[str, dict[str, Score]] = {}
    for set_name, reader, s in results:
        by_set.setdefault(set_name, {})[reader] = s
    lines = [f"| set | median time {baseline} / {ours} |", "|---|---:|"]
    for set_name, scores in by_set.items():
        a, b = scores[baseline].median_ms, scores[ours].median_ms
        lines.append(f"| {set_name} | {a / b:.2f}x |" if b > 0 else f"| {set_name} | n/a |")
    return "\n".join(lines)


def noise_table(readers: dict[str, Reader], webcam_median_ms: dict[str, float], seed: int) -> str:
    """Markdown: per reader, the slowest of ``holdout.noise.noise_images`` (each timed
    twice, the faster kept, so a moment of load on a shared machine is not the worst
    case), what it read there, how many noise images it read as a number, and the
    ratio of the slowest to the median time on the webcam samples."""
    from .holdout.noise import noise_images

    images = noise_images(seed)
    runs = [run_readers(readers, [image for _, image in images]) for _ in range(2)]
    lines = ["| reader | noise images | read as a number | slowest image | its time ms | webcam median ms | ratio |",
             "|---|---:|---:|---|---:|---:|---:|"]
    for reader in readers:
        seconds = np.minimum(runs[0][1][reader], runs[1][1][reader])
        worst = int(np.argmax(seconds))
        texts = runs[0][0][reader]
        found = sum(bool(t) for t in texts)  # a crash (None) is no number
        webcam = webcam_median_ms.get(reader)
        ratio = f"{1000 * seconds[worst] / webcam:.1f}x" if webcam else "n/a"
        lines.append(f"| {reader} | {len(images)} | {found} | {images[worst][0]} (read {texts[worst]!r}) | "
                     f"{1000 * seconds[worst]:.1f} | {f'{webcam:.1f}' if webcam else 'n/a'} | {ratio} |")
    return "\n".join(lines)


def row_timing(n: int, seed: int, root: str | None) -> str:
    """One line: the sequence reader's time on one row (crop to digits, as ``reading.sequence``
    reads it), median and p95 over ``n`` rows of ``line_rows`` written with MNIST *test* digits."""
    from .data import load_mnist
    from .line_rows import index_by_label, make_row
    from .reading import line_net

    digits = load_mnist(train=False, root=root)
    by_label, rng = index_by_label(digits), np.random.default_rng(seed)
    rows = [make_row(rng, digits, by_label) for _ in range(n)]
    line_net.read_inputs([line_net.row_input(rows[0][0], rows[0][2])])  # load the network untimed
    ms, widths = [], []
    for grey, _, polarity in rows:
        start = time.perf_counter()
        x = line_net.row_input(grey, polarity)
        line_net.read_inputs([x])
        ms.append(1000 * (time.perf_counter() - start))
        widths.append(x.shape[1])
    return (f"sequence reader, one row (input and network, {n} rows of 0-12 digits, median width {np.median(widths):.0f} px "
            f"at 32 px tall): median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms")


def suite_cases(suite: str, n: int, seed: int, root: str | None) -> tuple[str, list[tuple[np.ndarray, str]]]:
    """(set name, (image, label) pairs) of a synthetic suite ("clean", "hard") or a holdout suite ("holdout-...")."""
    from . import holdout, synth

    if suite in holdout.SUITES:
        return f"{suite} (seed {seed})", holdout.make_suite(suite, n, seed=seed, root=root)
    if suite in synth.SUITES:
        return f"synthetic {suite} (seed {seed})", synth.make_suite(suite, n, seed=seed, root=root)
    raise ValueError(f"unknown suite {suite!r}; choose from {', '.join(synth.SUITES + holdout.SUITES)}")


#: ``--parts``: our reader with some of its parts off, each as ReadOptions fields.
READER_PARTS = {
    "segmenter": {"reader": "segmenter"},
    "sequence": {"reader": "sequence"},
    "threshold": {"ink": "threshold"},
    "learned": {"ink": "learned"},
    "unlevelled": {"level": False},
    "before": {"ink": "threshold", "level": False},
}
READER_PART_ABOUT = {
    "segmenter": "digits cut out and classified, no sequence reader",
    "sequence": "rows read whole by the CTC reader; the segmenter still finds the rows",
    "threshold": "threshold ink stage only",
    "learned": "learned ink stage only",
    "unlevelled": "no turning level",
    "before": "threshold ink, no turning level: the reader before 2026-12-02's afternoon",
}


def bench_read(args: argparse.Namespace) -> int:
    from . import holdout, synth
    from .baselines import SeedBaseline
    from .reading.result import ReadOptions
    from .recognizer import Recognizer
    from .reliability import ConfidenceRecorder, reliability_table

    ours, baseline = "ours", "seed baseline"
    recognizer = Recognizer(args.model)
    seed_baseline = SeedBaseline(args.baseline_model)
    ink = {"ink": args.ink} if args.ink else {}
    our_reader = ConfidenceRecorder(recognizer, ReadOptions(**ink))
    unknown = [part for part in args.parts.split(",") if part and part not in READER_PARTS]
    if unknown:
        print(f"error: unknown part {unknown[0]!r}; choose from {', '.join(READER_PARTS)}", file=sys.stderr)
        return 2
    parts = {f"ours: {part}": ConfidenceRecorder(recognizer, ReadOptions(**{**ink, **READER_PARTS[part]}))
             for part in args.parts.split(",") if part}
    recorders = {ours: our_reader, **parts}
    readers: dict[str, Reader] = {**recorders, baseline: seed_baseline.read_text}

    sets: list[tuple[str, list[str], list[np.ndarray], list[str]]] = []  # (name, ids, images, labels)
    samples_dir = Path(args.samples) if args.samples else default_samples_dir()
    if not args.no_samples:
        samples = load_samples(samples_dir)
        sets.append(("samples (all)", [s[0] for s in samples], [s[1] for s in samples], [s[2] for s in samples]))
        for kind in sorted({s[3] for s in samples}):
            chosen = [s for s in samples if s[3] == kind]
            sets.append((f"samples: {kind}", [s[0] for s in chosen], [s[1] for s in chosen], [s[2] for s in chosen]))
    suites = [s for s in args.suites.split(",") if s] if args.suites is not None else synth.SUITES + holdout.SUITES
    for suite in suites:
        set_name, cases = suite_cases(suite, args.n, args.seed, args.data)
        sets.append((set_name, [f"{suite}#{i}" for i in range(len(cases))], [c[0] for c in cases], [c[1] for c in cases]))
    if not sets:
        print("error: nothing to benchmark", file=sys.stderr)
        return 2

    # One untimed call each, so one-off start-up costs (lazy imports, first forward pass) are not timed.
    run_readers(readers, sets[0][2][:1])
    for recorder in recorders.values():
        recorder.confidences.clear()

    print(f"machine: {machine_line()}")
    print(f"ours: {recognizer.model_path}; baseline: {seed_baseline.classifier.model_path}\n")
    results: list[tuple[str, str, Score]] = []
    errors: dict[str, str] = {}
    per_image: dict[str, tuple] = {}
    # (confidence, read exactly) per reading of ours and its parts, for the reliability table:
    # holdout sets apart from our own.
    def reliability_key(group: str, name: str) -> str:
        return group if name == ours else f"{group}, {name.removeprefix('ours: ')}"

    reliability: dict[str, tuple[list[float], list[bool]]] = {
        reliability_key(group, name): ([], []) for name in recorders for group in ("holdout suites", "own suites and samples")}
    readings: list[list] = []  # one row per image, for --readings-csv
    for set_name, ids, images, labels in sets:
        if set_name.startswith("samples: "):
            # A kind is a subset of "samples (all)": score those runs again instead of rereading.
            texts = {r: [per_image[i][0][r] for i in ids] for r in readers}
            seconds = {r: [per_image[i][1][r] for i in ids] for r in readers}
        else:
            start = len(our_reader.confidences)
            texts, seconds, first_error = run_readers(readers, images)
            for reader, message in first_error.items():
                errors.setdefault(reader, f"{set_name}: {message}")
            for k, image_id in enumerate(ids):
                per_image[image_id] = ({r: texts[r][k] for r in readers}, {r: seconds[r][k] for r in readers})
            group_name = "holdout suites" if set_name.startswith("holdout") else "own suites and samples"
            for name, recorder in recorders.items():
                group = reliability[reliability_key(group_name, name)]
                group[0].extend(recorder.confidences[start:])
                group[1].extend(t == lab for t, lab in zip(texts[name], labels))
            for k, image_id in enumerate(ids):
                readings.append([image_id, labels[k]] + [
                    cell for name, recorder in recorders.items()
                    for cell in (texts[name][k], f"{recorder.confidences[start + k]:.4f}", f"{1000 * seconds[name][k]:.1f}")
                ] + [texts[baseline][k], f"{1000 * seconds[baseline][k]:.1f}"])
        for reader in readers:
            results.append((set_name, reader, score(texts[reader], labels, seconds[reader])))
        if args.per_image and set_name == "samples (all)":
            print("| file | label | " + " | ".join(readers) + " |")
            print("|---|---|" + "---|" * len(readers))
            for k, image_id in enumerate(ids):
                shown = [repr(texts[r][k]) if texts[r][k] is not None else "crash" for r in readers]
                print(f"| {image_id} | {labels[k]} | " + " | ".join(shown) + " |")
            print()

    if args.readings_csv:
        with open(args.readings_csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["image", "label"] + [cell for name in recorders for cell in (name, f"{name} confidence", f"{name} ms")]
                            + [baseline, f"{baseline} ms"])
            writer.writerows(readings)
    print(read_table(results))
    print()
    print(speed_table(results, ours, baseline))
    print(f"\nReliability of {ours} (Reading.confidence against exact match):\n")
    print(reliability_table({name: group for name, group in reliability.items() if group[0]}))
    if {"segmenter", "sequence"} & set(args.parts.split(",")):
        print("\n" + row_timing(200, args.seed, args.data))
    if not args.no_noise:
        webcam = {reader: s.median_ms for set_name, reader, s in results if set_name == "samples: webcam"}
        print("\nImages with no number (holdout.noise, each timed twice, the faster kept):\n")
        print(noise_table(readers, webcam, args.seed))
    for reader, message in errors.items():
        print(f"\nfirst crash of {reader}: {message}")
    return 0


# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitlib.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    r = sub.add_parser("read", help="our reader vs the article's on samples, synthetic and holdout suites")
    r.add_argument("--samples", default=None, help=f"samples folder (default: ${SAMPLES_ENV_VAR} or ../shared/samples)")
    r.add_argument("--no-samples", action="store_true", help="synthetic suites only")
    r.add_argument("--n", type=int, default=300, help="images per synthetic suite (default 300)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--ink", choices=["auto", "learned", "threshold"], help="our reader's ink stage (default: ReadOptions')")
    r.add_argument("--parts", default="segmenter,sequence,before",
                   help="our reader's parts and variants also run, beside the whole: " + ", ".join(
                       f"{name} ({about})" for name, about in READER_PART_ABOUT.items())
                   + " (default: segmenter,sequence,before; '' for none)")
    r.add_argument("--suites", default=None,
                   help="comma-separated suites (default: clean,hard,holdout-clean,holdout-hard,holdout-cheque; '' for none)")
    r.add_argument("--no-noise", action="store_true", help="skip timing the images with no number")
    r.add_argument("--readings-csv", default=None, help="write every image's readings, confidence and times to this CSV")
    r.add_argument("--data", default=None, help="MNIST folder for the synthetic digits (default: $DIGITLIB_DATA or the cache)")
    r.add_argument("--model", default=None, help="our checkpoint (default: the shipped model)")
    r.add_argument("--baseline-model", default=None, help="SeedNet checkpoint (default: the shipped seednet.pt)")
    r.add_argument("--per-image", action="store_true", help="also print every sample's readings")

    t = sub.add_parser("train", help="the training presets side by side on this CPU")
    t.add_argument("--data", default=None, help="MNIST folder (default: $DIGITLIB_DATA or the cache)")
    t.add_argument("--presets", default="article,quick", help="presets run with every seed (default: article,quick)")
    t.add_argument("--seeds", default="1,2,3")
    t.add_argument("--once", default="best", help="presets run with the first seed only (default: best; '' for none)")
    t.add_argument("--load-preset", default="quick",
                   help="preset timed alone and beside a reading load in the same process ('' to skip)")
    t.add_argument("--validation", type=int, default=0, metavar="N",
                   help="test on the last N training images instead of the test set (to choose recipes)")
    t.add_argument("--epochs", type=int, default=None, help="override the presets' epochs (smoke runs only)")
    t.add_argument("--limit", type=int, default=None, help="train on the first N images (smoke runs only)")

    add_batch_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .checkpoint import CheckpointError
    from .data import DataUnavailableError

    args = build_parser().parse_args(argv)
    try:
        return {"read": bench_read, "train": bench_train, "batch": bench_batch}[args.command](args)
    except (CheckpointError, DataUnavailableError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
