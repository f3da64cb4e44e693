"""The numbers behind the reader's two choices, measured on the training generators.

``python -m digitlib.fusion_fit --pages 600`` renders photos with the two training
generators, written with MNIST **training** digits (a seed of its own): half with
``digitlib.synth`` (one page in three "clean", the rest "hard") and half with
``digitlib.ink_pages`` (640x480 scenes: desks, turned sheets, patterns, shadows),
reads each two ways and prints how often each way is right where the two agree and where
they disagree, and how often each candidate rule picks the right one:

- ``--choice readers`` (the default): the segmenter alone against the sequence reader
  alone, page by page. ``reading.sequence.DISAGREE_CAP`` comes from this table.
- ``--choice rows``: the readers' fusion row by row, as the pipeline weighs it
  (``reading.sequence.RowFusion``), each page read with either ink stage: how many pages
  each rule, and each margin of the shipped one (``SEQUENCE_LOG_MARGIN``), reads exactly.
- ``--choice ink``: the threshold ink stage against the learned one (both readers fused).
  The rule of ``ReadOptions(ink="auto")`` (``recognizer.choose_ink``: which stage reads
  first, whether the other reads too, the confidences) comes from these tables.

The benchmarks' suites and holdout pages are never used for either.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .data import load_mnist
from .files import write_atomic
from .ink_pages import make_ink_page_with_text
from .line_rows import index_by_label, make_row
from .reading.result import ReadOptions
from .reading.pipeline import run_pipeline
from .reading.sequence import SEQUENCE_LOG_MARGIN, RowFusion, prefer_sequence
from .recognizer import (Recognizer, agreed_confidence, digits_left_out, prefer_learned, shown_ink,
                         weighed_threshold_confidence)
from .synth import make_image, random_number

FUSION_SEED = 515151  # far from every benchmark seed and from synth.PHOTO_DIGITS_SEED


@dataclass
class PagePair:
    """One page read two ways: ``first`` is the segmenter or the threshold ink stage,
    ``second`` the sequence reader or the learned ink stage."""

    generator: str
    label: str
    first: str
    first_confidence: float
    second: str
    second_confidence: float
    first_leaves_out: int = 0  # digits of the second reading the first leaves out (recognizer.digits_left_out)

    @property
    def first_weighed(self) -> float:
        """The first (threshold) reading's confidence as ``recognizer.choose_ink`` weighs it, read both ways."""
        return weighed_threshold_confidence(self.first_confidence, self.first_leaves_out)


INK_PAGE_SIZE, INK_PAGE_UNIT = (640, 480), 2.5  # webcam-sized scenes, as ink_training.compare_on_pages


#: The two ways each choice reads a page.
CHOICES = {
    "readers": (ReadOptions(ink="threshold", reader="segmenter"), ReadOptions(ink="threshold", reader="sequence")),
    "ink": (ReadOptions(ink="threshold"), ReadOptions(ink="learned")),
}


def training_pages(pages: int, seed: int = FUSION_SEED, root=None):
    """Yield (generator, image, label) for ``pages`` page numbers: even ones from ``synth`` (one in
    three "clean"), odd ones from ``ink_pages``; pages with no digit, or with a digit not wholly in
    view, are skipped. MNIST *training* digits only."""
    digits = load_mnist(train=True, root=root)
    for i in range(pages):
        rng = np.random.default_rng((seed, i))
        if i % 2 == 0:
            text = random_number(rng)
            yield "synth", make_image(text, rng, "clean" if i % 3 == 0 else "hard", digits), text
        else:
            image, _, text = make_ink_page_with_text(rng, digits, INK_PAGE_SIZE, INK_PAGE_UNIT)
            if text:
                yield "ink_pages", image, text


def read_pairs(recognizer: Recognizer, pages: int, seed: int = FUSION_SEED, root=None,
               choice: str = "readers") -> list[PagePair]:
    """Each page's generator, label and its two readings (text, confidence) of ``CHOICES[choice]``
    (the pages of ``training_pages``)."""
    first_options, second_options = CHOICES[choice]
    out = []
    for generator, image, text in training_pages(pages, seed, root):
        first = recognizer.read(image, first_options)
        second = recognizer.read(image, second_options)
        out.append(PagePair(generator, text, first.text, first.confidence, second.text, second.confidence,
                            digits_left_out(first, second)))
    return out


@dataclass
class PageRows:
    """One page read with one ink stage, both readers on: each row's two readings as the fusion weighed them."""

    generator: str
    label: str
    ink: str
    rows: list[RowFusion]


ROW_MARGIN = 1.5  # digit heights of paper added around a line_rows row, so that it is read as a photo


def row_pages(rows: int, seed: int = FUSION_SEED, root=None):
    """Yield ("line_rows", grey uint8 (H, W), label) for ``rows`` rows of the sequence reader's
    training generator (``digitlib.line_rows``: separators, currency groups, closing dashes,
    security weaves, the rows above and below cut by the crop), each set in paper
    (``ROW_MARGIN``, the crop's edge pixels repeated); rows with no digit are skipped. These hold
    the separators and marks that ``training_pages`` rarely draw."""
    digits = load_mnist(train=True, root=root)
    by_label = index_by_label(digits)
    for i in range(rows):
        # (seed, 1, i): a stream of its own, apart from training_pages' (seed, i)
        grey, text, _ = make_row(np.random.default_rng((seed, 1, i)), digits, by_label)
        if text:
            pad = round(ROW_MARGIN * grey.shape[0] / 1.7)  # crops are about 1.7 digit heights tall
            yield "line_rows", cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE), text


def read_page_rows(recognizer: Recognizer, pages: int, seed: int = FUSION_SEED, root=None,
                   rows: int = 0) -> list[PageRows]:
    """The pages of ``training_pages`` and ``rows`` of ``row_pages``, each read with the threshold
    and with the learned ink stage."""
    out = []
    for generator, image, text in itertools.chain(training_pages(pages, seed, root), row_pages(rows, seed, root)):
        for ink in ("threshold", "learned"):
            result = run_pipeline(image, ReadOptions(ink=ink, reader="fused"), recognizer.classify)
            out.append(PageRows(generator, text, ink, result.fusions))
    return out


def fused_text(rows: list[RowFusion], sequence_wins) -> str:
    """A page's text when each row the readers disagree on is read as ``sequence_wins(row)`` says
    (rows left empty dropped, as ``Reading.text`` drops them)."""
    texts = [r.sequence if r.sequence != r.segmenter and sequence_wins(r) else r.segmenter for r in rows]
    return "\n".join(t for t in texts if t)


#: Rules for the rows a page's readers disagree on: whether the sequence reader's reading is shown.
ROW_RULES = {
    "segmenter always": lambda r: False,
    "sequence always": lambda r: True,
    "the higher confidence": lambda r: r.sequence_confidence > r.segmenter_confidence,
    "the sequence reader where 1.5 times as sure (the previous rule)":
        lambda r: r.sequence_confidence > 1.5 * r.segmenter_confidence,
    "the CTC likelihoods alone, margin 4": lambda r: r.sequence_likelihood - r.segmenter_likelihood > 4,
    **{f"{'shipped: ' if margin == SEQUENCE_LOG_MARGIN else ''}CTC and confidence ratios, margin {margin:g}":
       (lambda r, margin=margin: prefer_sequence(r, margin)) for margin in (0, 1, 2, 3, 4, 5, 6, 8)},
}


def rows_table(pages: list[PageRows]) -> str:
    """Markdown: pages read exactly under each of ``ROW_RULES``, per ink stage and generator; on
    the even and the odd pages apart (a margin should not hang on a few pages); and on the pages
    where the readers disagree on a row (what ``reading.sequence.DISAGREE_CAP`` stands for)."""
    generators = [g for g in ("synth", "ink_pages", "line_rows") if any(p.generator == g for p in pages)]
    groups = [(ink, gen) for ink in ("threshold", "learned") for gen in (*generators, None)]
    differ = [i for i, p in enumerate(pages) if any(r.segmenter != r.sequence for r in p.rows)]
    lines = ["| rule | " + " | ".join(f"{ink}, {gen or 'all'}" for ink, gen in groups)
             + " | learned, even / odd pages | where the readers disagree, both inks |",
             "|---|" + "---:|" * (len(groups) + 2)]
    learned = [i for i, p in enumerate(pages) if p.ink == "learned"]
    members = [[i for i, p in enumerate(pages) if p.ink == ink and gen in (None, p.generator)] for ink, gen in groups]
    for name, rule in ROW_RULES.items():
        hits = [fused_text(p.rows, rule) == p.label for p in pages]  # each page joined once a rule
        cells = [f"{sum(hits[i] for i in mine)} of {len(mine)}" for mine in members]
        halves = [sum(hits[i] for i in learned[k::2]) for k in (0, 1)]
        exact = sum(hits[i] for i in differ)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {halves[0]} / {halves[1]} | "
                     f"{exact} of {len(differ)} ({exact / max(1, len(differ)):.1%}) |")
    return "\n".join(lines)


def _higher(p: PagePair) -> str:
    return p.second if p.second_confidence > p.first_confidence else p.first


RULES = {
    "readers": {
        "segmenter always": lambda p: p.first,
        "sequence always": lambda p: p.second,
        "higher confidence": _higher,
    },
    "ink": {
        "threshold always": lambda p: p.first,
        "learned always": lambda p: p.second,
        "higher confidence": _higher,
        **{f"threshold where at least {sure}, else the higher": (
            lambda p, sure=sure: p.first if p.first_confidence >= sure else _higher(p))
           for sure in (0.3, 0.5, 0.8, 0.9, 0.97, 0.99)},
        "previous (the threshold reading as sure as it is)":
            lambda p: p.second if prefer_learned(p.first_confidence, p.second_confidence) else p.first,
        "shipped (recognizer.prefer_learned, the threshold reading weighed)":
            lambda p: p.second if prefer_learned(p.first_weighed, p.second_confidence) else p.first,
    },
}


def fusion_table(pairs: list[PagePair], choice: str = "readers") -> str:
    """Markdown: exact readings where the two ways agree and, where they disagree, per way and per rule."""
    agree = [p for p in pairs if p.first == p.second]
    differ = [p for p in pairs if p.first != p.second]
    first_name, second_name = list(RULES[choice])[0].split()[0], list(RULES[choice])[1].split()[0]

    def share(hits: int, n: int) -> str:
        return f"{hits} of {n} ({hits / n:.1%})" if n else "-"

    lines = ["| pages | how many | exact |", "|---|---:|---:|",
             f"| both agree | {len(agree)} | {share(sum(p.first == p.label for p in agree), len(agree))} |"]
    lines.append(f"| they disagree: {first_name} | {len(differ)} | {share(sum(p.first == p.label for p in differ), len(differ))} |")
    lines.append(f"| they disagree: {second_name} | {len(differ)} | {share(sum(p.second == p.label for p in differ), len(differ))} |")
    for name, rule in RULES[choice].items():
        lines.append(f"| they disagree, rule \"{name}\" | {len(differ)} | {share(sum(rule(p) == p.label for p in differ), len(differ))} |")
    for name, rule in RULES[choice].items():
        lines.append(f"| all pages, rule \"{name}\" | {len(pairs)} | {share(sum(rule(p) == p.label for p in pairs), len(pairs))} |")
    return "\n".join(lines)


def both_stages_table(pairs: list[PagePair]) -> str:
    """Markdown: with both ink stages read, as ``ReadOptions(ink="auto")`` reads every page, how
    often the shown reading is exact where the two agree (by the confidence each would give it)
    and where they disagree: the numbers behind ``recognizer.choose_ink``'s confidences."""
    agree = [p for p in pairs if p.first == p.second]
    differ = [p for p in pairs if p.first != p.second]
    shown = [ink_policy_reading(p, "learned", math.inf)[0] for p in differ]
    lines = ["| pages | how many | exact |", "|---|---:|---:|",
             f"| both agree | {len(agree)} | {sum(p.first == p.label for p in agree)} |"]
    for name, conf in (("the learned stage's", lambda p: p.second_confidence),
                       ("their geometric mean (shipped)", lambda p: agreed_confidence(p.first_weighed, p.second_confidence))):
        sure = [p for p in agree if conf(p) >= 0.9]
        lines.append(f"| both agree, {name} confidence at least 0.9 | {len(sure)} | {sum(p.first == p.label for p in sure)} |")
    lines.append(f"| they disagree: the shown reading | {len(differ)} | "
                 f"{sum(t == p.label for t, p in zip(shown, differ))} |")
    return "\n".join(lines)


#: The ways ``ReadOptions(ink="auto")`` could read a photo: which ink stage reads it first, and
#: below what confidence of that first reading the other stage reads it too (infinity: always).
INK_POLICIES = [(first, below) for first in ("threshold", "learned") for below in (0.5, 0.9, 0.97, math.inf)]


def ink_policy_reading(p: PagePair, first: str, read_both_below: float) -> tuple[str, float, bool]:
    """The reading shown for page ``p`` (text, confidence, whether it was read twice) by the
    recognizer's rule (``recognizer.shown_ink``) when
    ``first`` ("threshold" or "learned") reads first and the other stage reads too below
    ``read_both_below``."""
    own = (p.first, p.first_confidence) if first == "threshold" else (p.second, p.second_confidence)
    if own[1] >= read_both_below:
        return own[0], own[1], False
    learned_kept, confidence = shown_ink(p.first, p.first_weighed, p.second, p.second_confidence)
    return (p.second if learned_kept else p.first), confidence, True


def ink_policy_table(pairs: list[PagePair]) -> str:
    """Markdown: for each of ``INK_POLICIES``, the exact readings, the pages read twice, and how
    often a reading shown at 0.9 or more is exact."""
    lines = ["| first stage | the other reads too below | exact | read twice | shown at 0.9 or more | of those exact |",
             "|---|---:|---:|---:|---:|---:|"]
    for first, below in INK_POLICIES:
        shown = [(ink_policy_reading(p, first, below), p.label) for p in pairs]
        sure = [(text, label) for (text, conf, _), label in shown if conf >= 0.9]
        exact_sure = sum(text == label for text, label in sure)
        lines.append(f"| {first} | {'always' if below == math.inf else below} | {sum(t == label for (t, _, _), label in shown)} of {len(pairs)} | "
                     f"{sum(twice for (_, _, twice), _ in shown)} | {len(sure)} | "
                     f"{exact_sure} ({exact_sure / max(1, len(sure)):.1%}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digitlib.fusion_fit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--seed", type=int, default=FUSION_SEED)
    parser.add_argument("--data", default=None, help="MNIST folder (default: $DIGITLIB_DATA or the cache)")
    parser.add_argument("--choice", choices=sorted([*CHOICES, "rows"]), default="readers",
                        help="readers: segmenter against sequence reader; rows: the readers' fusion row by row; "
                             "ink: threshold against learned ink")
    parser.add_argument("--rows", type=int, default=0,
                        help="with --choice rows: also this many rows of the sequence reader's training generator")
    parser.add_argument("--pairs-json", help="also write every page's two readings to this JSON file")
    args = parser.parse_args(argv)
    if args.choice == "rows":
        print(rows_table(read_page_rows(Recognizer(), args.pages, args.seed, args.data, args.rows)))
        return 0
    pairs = read_pairs(Recognizer(), args.pages, args.seed, args.data, args.choice)
    if args.pairs_json:  # every page's two readings, to weigh other rules without reading again
        write_atomic(args.pairs_json, lambda f: f.write(json.dumps([asdict(p) for p in pairs]).encode()))
    for generator in ("synth", "ink_pages"):
        print(f"\n{generator} pages:\n")
        print(fusion_table([p for p in pairs if p.generator == generator], args.choice))
    print("\nall pages:\n")
    print(fusion_table(pairs, args.choice))
    if args.choice == "ink":
        print("\nboth ink stages, as the recognizer reads every page:\n")
        print(both_stages_table(pairs))
        for generator in ("synth", "ink_pages", None):
            print(f"\nways of reading with both ink stages, {generator or 'all'} pages:\n")
            print(ink_policy_table([p for p in pairs if generator in (None, p.generator)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
