"""``digitlib read --engine ray`` / ``digitlib.batch.read_with_ray`` on a local Ray instance, and
digitlib without ray installed."""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import sys
from pathlib import Path

import cv2
import pyarrow.parquet as pq
import pytest
import ray

from digitlib import cli
from digitlib.batch import image_paths, read_with_ray
from digitlib.batch_ray import list_files
from digitlib.synth import make_suite

pytestmark = [pytest.mark.slow,  # Ray starts in seconds, not milliseconds
              pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")]  # Ray's own settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_dir):
    """Twelve generated pages (four in a subfolder), two corrupt files and a text file."""
    root = tmp_path_factory.mktemp("scans")
    (root / "more").mkdir()
    for i, (image, _) in enumerate(make_suite("hard", 12, seed=5, root=data_dir)):
        cv2.imwrite(str(root / ("more" if i >= 8 else "") / f"page-{i}.jpg"), image)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "more" / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def local_ray():
    """A Ray instance of 2 CPUs for this module (as on the 2-core machine), shut down after it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def cli_rows(folder, tmp_path_factory):
    """{file: row} written by ``digitlib read FOLDER --out x.csv`` (in this process)."""
    out = tmp_path_factory.mktemp("cli") / "results.csv"
    assert cli.main(["read", str(folder), "--out", str(out), "--workers", "1"]) == 1  # two files cannot be read
    return {r["file"]: r for r in csv.DictReader(open(out, newline=""))}


def test_ray_gives_the_clis_rows_in_parquet_and_reads_only_whats_new_on_a_rerun(local_ray, folder, cli_rows,
                                                                               tmp_path):
    out = tmp_path / "results.parquet"
    report = read_with_ray(str(folder), out)
    assert (report.total, report.skipped, report.read, report.failed) == (14, 0, 14, 2)
    rows = {r["file"]: r for r in pq.read_table(out).to_pylist()}
    assert set(rows) == set(cli_rows) == set(image_paths([str(folder)]))
    for path, row in rows.items():
        expected = cli_rows[path]
        assert (row["text"], row["error"] or "") == (expected["text"], expected["error"]), path
        assert row["digits"] == json.loads(expected["digits"]) and row["warnings"] == json.loads(expected["warnings"])
    assert "not a readable image" in rows[str(folder / "broken.png")]["error"]

    again = read_with_ray([str(folder / "more"), str(folder / "page-*.jpg"), str(folder / "broken.png")], out)
    assert (again.total, again.skipped, again.read) == (14, 14, 0)
    assert pq.read_table(out).num_rows == 14


def test_ray_writes_json_lines_from_the_command_line(local_ray, folder, cli_rows, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    assert cli.main(["read", str(folder), "--out", str(out), "--engine", "ray", "--workers", "2"]) == 1
    assert "14 files read" in capsys.readouterr().out
    rows = [json.loads(line) for part in sorted(out.glob("*.json")) for line in part.read_text().splitlines()]
    assert {r["file"]: r["text"] for r in rows} == {f: r["text"] for f, r in cli_rows.items()}
    assert sorted(r["file"] for r in rows if r["error"]) == [str(folder / "broken.png"), str(folder / "more" / "empty.jpg")]


def test_without_ray_digitlib_reads_and_the_ray_engine_says_how_to_install_it(folder, tmp_path):
    code = (
        "import sys\n"
        "sys.modules['ray'] = None  # any import of it now raises ImportError\n"
        "from digitlib import cli\n"
        f"assert cli.main(['read', {str(folder / 'page-0.jpg')!r}, '--out', 'a.jsonl']) == 0\n"
        f"sys.exit(cli.main(['read', {str(folder)!r}, '--out', 'b.parquet', '--engine', 'ray']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "pip install 'digitlib[ray]'" in done.stderr.splitlines()[-1]
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 1 and not (tmp_path / "b.parquet").exists()


def test_a_uri_is_listed_like_a_folder(folder):
    listed = list_files(folder.as_uri())
    assert listed == sorted(listed) and all(f.startswith("file:///") for f in listed)
    assert {f.removeprefix("file://") for f in listed} == set(image_paths([str(folder)]))
    with pytest.raises(ValueError, match="no image files"):
        list_files((folder / "more" / "empty.jpg").as_uri().replace(".jpg", ".txt"))
