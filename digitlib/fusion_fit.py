"""The numbers behind the fusion rule of ``reading.sequence``, measured on the training generator.

``python -m digitlib.fusion_fit --pages 600`` renders photos with the two training
generators, written with MNIST **training** digits (a seed of its own): half with
``digitlib.synth`` (one page in three "clean", the rest "hard") and half with
``digitlib.ink_pages`` (640x480 scenes: desks, turned sheets, patterns, shadows),
reads each with the segmenter alone and the sequence reader alone, and prints how often each is right where the two agree and where
they disagree, and how often each candidate rule for a disagreement picks the
right one. ``reading.sequence.DISAGREE_CAP`` and the rule come from this table;
the benchmarks' suites and holdout pages are never used for it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from .data import load_mnist
from .ink_pages import make_ink_page_with_text
from .reading.result import ReadOptions
from .reading.sequence import prefer_sequence
from .recognizer import Recognizer
from .synth import make_image, random_number

FUSION_SEED = 515151  # far from every benchmark seed and from synth.PHOTO_DIGITS_SEED


@dataclass
class PagePair:
    generator: str
    label: str
    segmenter: str
    segmenter_confidence: float
    sequence: str
    sequence_confidence: float


INK_PAGE_SIZE, INK_PAGE_UNIT = (640, 480), 2.5  # webcam-sized scenes, as ink_training.compare_on_pages


def read_pairs(recognizer: Recognizer, pages: int, seed: int = FUSION_SEED, root=None) -> list[PagePair]:
    """Each page's generator, label and its two readings (text, confidence), segmenter and
    sequence reader. Even pages come from ``synth``, odd ones from ``ink_pages`` (pages with no
    digit are skipped)."""
    digits = load_mnist(train=True, root=root)
    out = []
    for i in range(pages):
        rng = np.random.default_rng((seed, i))
        if i % 2 == 0:
            generator, text = "synth", random_number(rng)
            image = make_image(text, rng, "clean" if i % 3 == 0 else "hard", digits)
        else:
            generator = "ink_pages"
            image, _, text = make_ink_page_with_text(rng, digits, INK_PAGE_SIZE, INK_PAGE_UNIT)
            if not text:
                continue
        seg = recognizer.read(image, ReadOptions(reader="segmenter"))
        seq = recognizer.read(image, ReadOptions(reader="sequence"))
        out.append(PagePair(generator, text, seg.text, seg.confidence, seq.text, seq.confidence))
    return out


RULES = {
    "segmenter always": lambda p: p.segmenter,
    "sequence always": lambda p: p.sequence,
    "higher confidence": lambda p: p.sequence if p.sequence_confidence > p.segmenter_confidence else p.segmenter,
    "shipped (reading.sequence.prefer_sequence)":
        lambda p: p.sequence if prefer_sequence(p.segmenter_confidence, p.sequence_confidence) else p.segmenter,
}


def fusion_table(pairs: list[PagePair]) -> str:
    """Markdown: exact readings where the readers agree and, where they disagree, per reader and per rule."""
    agree = [p for p in pairs if p.segmenter == p.sequence]
    differ = [p for p in pairs if p.segmenter != p.sequence]

    def share(hits: int, n: int) -> str:
        return f"{hits} of {n} ({hits / n:.1%})" if n else "-"

    lines = ["| pages | how many | exact |", "|---|---:|---:|",
             f"| readers agree | {len(agree)} | {share(sum(p.segmenter == p.label for p in agree), len(agree))} |"]
    lines.append(f"| readers disagree: segmenter | {len(differ)} | {share(sum(p.segmenter == p.label for p in differ), len(differ))} |")
    lines.append(f"| readers disagree: sequence | {len(differ)} | {share(sum(p.sequence == p.label for p in differ), len(differ))} |")
    for name, rule in RULES.items():
        lines.append(f"| readers disagree, rule \"{name}\" | {len(differ)} | {share(sum(rule(p) == p.label for p in differ), len(differ))} |")
    for name, rule in RULES.items():
        lines.append(f"| all pages, rule \"{name}\" | {len(pairs)} | {share(sum(rule(p) == p.label for p in pairs), len(pairs))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digitlib.fusion_fit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--seed", type=int, default=FUSION_SEED)
    parser.add_argument("--data", default=None, help="MNIST folder (default: $DIGITLIB_DATA or the cache)")
    args = parser.parse_args(argv)
    pairs = read_pairs(Recognizer(), args.pages, args.seed, args.data)
    for generator in ("synth", "ink_pages"):
        print(f"\n{generator} pages:\n")
        print(fusion_table([p for p in pairs if p.generator == generator]))
    print("\nall pages:\n")
    print(fusion_table(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
