"""The numbers behind the readers' fusion (``digitlib.fusion_fit``): its pages and how it re-joins rows."""

from __future__ import annotations

import numpy as np

from digitlib.fusion_fit import ROW_RULES, PageRows, fused_text, row_pages, rows_table, training_pages
from digitlib.reading.pipeline import run_pipeline
from digitlib.reading.result import ReadOptions
from digitlib.reading.sequence import RowFusion, prefer_sequence


def test_rows_rejoined_under_the_shipped_rule_give_the_text_the_recognizer_shows(recognizer, data_dir):
    # --choice rows sets the margin by re-joining each page's rows under a rule: with the shipped
    # rule that must be the recognizer's own text, on pages where the readers disagree.
    disagreements = 0
    for _, image, _ in training_pages(8, root=data_dir):
        options = ReadOptions(ink="threshold")
        fusions = run_pipeline(image, options, recognizer.classify).fusions
        disagreements += sum(f.segmenter != f.sequence for f in fusions)
        assert fused_text(fusions, prefer_sequence) == recognizer.read(image, options).text
    assert disagreements >= 2


def test_row_pages_set_training_rows_in_paper_with_their_digits_as_labels(data_dir):
    pages = list(row_pages(12, root=data_dir))
    assert 8 <= len(pages) <= 12  # rows with no digit are skipped
    for generator, grey, label in pages:
        assert generator == "line_rows" and grey.dtype == np.uint8 and grey.ndim == 2
        assert label.isdigit()
        # The paper added around the crop (over a digit height) repeats its edge pixels.
        assert (grey[0] == grey[10]).all() and (grey[:, 0] == grey[:, 10]).all()
        assert (grey[-1] == grey[-11]).all() and (grey[:, -1] == grey[:, -11]).all()


def test_rows_table_counts_each_rule_on_the_same_rows():
    unsure_segmenter = RowFusion("12", 0.1, "17", 0.9, -9.0, -0.1)  # the sequence reader rules "12" out
    sure_segmenter = RowFusion("35", 0.95, "36", 0.6, -1.0, -0.5)  # "35" is plausible to it
    pages = [PageRows("synth", "17", "learned", [unsure_segmenter]), PageRows("synth", "35", "learned", [sure_segmenter]),
             PageRows("ink_pages", "", "threshold", [RowFusion("", 0.0, "", 0.0, 0.0, 0.0)])]
    assert fused_text(pages[0].rows, prefer_sequence) == "17" and fused_text(pages[1].rows, prefer_sequence) == "35"
    table = rows_table(pages)
    shipped = next(line for line in table.splitlines() if line.startswith("| shipped"))
    assert "| 2 of 2 |" in shipped  # learned, all
    assert table.count("\n") == len(ROW_RULES) + 1
