"""digitlib.batch and ``digitlib read --out``: many files, several processes, resumable output."""

from __future__ import annotations

import csv
import json

import cv2
import pytest

from digitlib import Recognizer, cli
from digitlib.batch import ResultsFile, image_paths, read_many
from digitlib.synth import make_suite


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_dir):
    """Six generated pages (two in a subfolder), two corrupt files and a text file; labels by path."""
    root = tmp_path_factory.mktemp("scans")
    (root / "more").mkdir()
    labels = {}
    for i, (image, label) in enumerate(make_suite("clean", 6, seed=3, root=data_dir)):
        path = root / ("more" if i >= 4 else "") / f"page-{i}.png"
        cv2.imwrite(str(path), image)
        labels[str(path)] = label
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "more" / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    return root, labels


def test_image_paths_take_files_folders_and_globs(folder):
    root, labels = folder
    everything = image_paths([str(root)])
    assert set(everything) == set(labels) | {str(root / "broken.png"), str(root / "more" / "empty.jpg")}
    assert image_paths([str(root / "more" / "*.png"), str(root / "more" / "page-4.png")]) == [
        str(root / "more" / "page-4.png"), str(root / "more" / "page-5.png")]
    with pytest.raises(ValueError, match="no such file"):
        image_paths([str(root / "nothing-*.png")])


def test_every_file_gets_a_row_and_bad_files_their_error(folder, tmp_path, recognizer):
    root, labels = folder
    out = tmp_path / "results.csv"
    assert cli.main(["read", str(root), "--out", str(out), "--workers", "2"]) == 1  # two files could not be read
    rows = {r["file"]: r for r in csv.DictReader(open(out, newline=""))}
    assert set(rows) == set(image_paths([str(root)]))
    for path in labels:  # the same readings as one Recognizer in this process, boxes and all
        reading = recognizer.read(path)
        assert rows[path]["text"] == reading.text and rows[path]["error"] == ""
        assert [d["box"] for d in json.loads(rows[path]["digits"])] == [list(d.box) for d in reading.digits]
    assert "not a readable image" in rows[str(root / "broken.png")]["error"]
    assert rows[str(root / "more" / "empty.jpg")]["error"]


def test_a_rerun_reads_only_the_files_without_a_row(folder, tmp_path):
    root, labels = folder
    out = tmp_path / "results.jsonl"
    first = sorted(labels)[:3]
    assert read_many(first, out, workers=1).read == 3
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:25])  # a crash cut the third row in half
    asked = []
    report = read_many(sorted(labels), out, workers=1, progress=lambda rows, total: asked.append(total) or rows)
    assert (report.skipped, report.read, asked) == (2, len(labels) - 2, [len(labels) - 2])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["file"] for r in rows) == sorted(labels)  # each once, the cut row read again
    assert {r["file"]: r["text"] for r in rows} == {p: Recognizer().read(p).text for p in labels}


def test_results_file_keeps_text_and_leading_zeros_in_csv(tmp_path):
    results = ResultsFile(tmp_path / "r.csv")
    results.write({"file": "a, b.png", "text": "007\n12", "confidence": 0.5, "digits": [], "warnings": ["x, y"],
                   "error": None})
    results.close()
    (row,) = csv.DictReader(open(tmp_path / "r.csv", newline=""))
    assert row["file"] == "a, b.png" and row["text"] == "007\n12" and json.loads(row["warnings"]) == ["x, y"]
    assert ResultsFile(tmp_path / "r.csv").done == {"a, b.png"}
