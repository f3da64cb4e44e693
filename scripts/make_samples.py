#!/usr/bin/env python3
"""Render the built-in sample photos of the Recognize page into digitlib/samples/.

The samples are drawn by ``digitlib.synth`` from MNIST test digits (so their licence is
MNIST's), with fixed seeds: running the script again gives the same pictures. It writes
small JPEGs (< 150 KB each) and ``labels.tsv`` with the columns ``file``, ``label`` and
``description``. Labels are digits kept as text (leading zeros stay); a number written
on two rows has its rows separated by ``/`` (``Reading.text`` separates them by a newline).

    .venv/bin/python scripts/make_samples.py            # MNIST from $DIGITLIB_DATA or ../shared/data
    .venv/bin/python scripts/make_samples.py --data DIR --out DIR
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from digitlib import synth

ROOT = Path(__file__).resolve().parent.parent

MAX_BYTES = 150_000

# (file, text as written, suite, seed, description, white on black)
SAMPLES = [
    ("number-2024.jpg", "2024", "clean", 11, "a year, neatly written", False),
    ("number-31415.jpg", "31415", "clean", 12, "five digits of pi", False),
    ("number-0869.jpg", "0869", "clean", 13, "a leading zero", False),
    ("number-9876543210.jpg", "9876543210", "clean", 14, "ten digits in a row", False),
    ("number-4096-chalk.jpg", "4096", "clean", 15, "white on black, like chalk", True),
    ("number-58-webcam.jpg", "58", "hard", 16, "a harder webcam-like photo", False),
    ("number-12-345-rows.jpg", "12\n345", "clean", 17, "two rows", False),
]


def encode_jpeg(image: np.ndarray) -> bytes:
    """The smallest-loss JPEG under MAX_BYTES."""
    for quality in (90, 85, 80, 75, 70, 60, 50):
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
        if ok and len(buf) < MAX_BYTES:
            return buf.tobytes()
    raise RuntimeError("could not make a JPEG under 150 KB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--data", help="folder holding MNIST/ (default: $DIGITLIB_DATA, ../shared/data, the cache)")
    parser.add_argument("--out", default=str(ROOT / "digitlib" / "samples"), help="output folder")
    args = parser.parse_args(argv)

    data = args.data
    if data is None and not os.environ.get("DIGITLIB_DATA") and (ROOT.parent / "shared" / "data" / "MNIST").is_dir():
        data = str(ROOT.parent / "shared" / "data")
    digits = synth.mnist_test_digits(data)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, text, suite, seed, description, inverted in SAMPLES:
        image = synth.make_image(text, np.random.default_rng(seed), suite, digits)
        if inverted:
            image = 255 - image
        data_bytes = encode_jpeg(image)
        (out / name).write_bytes(data_bytes)
        rows.append({"file": name, "label": text.replace("\n", "/"), "description": description})
        print(f"{name}: {text!r} {image.shape[1]}x{image.shape[0]} {len(data_bytes) / 1000:.0f} KB")
    with open(out / "labels.tsv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "label", "description"], delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} samples and labels.tsv to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
