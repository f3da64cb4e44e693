"""The numbers behind the reader's two choices, measured on the training generators.

``python -m digitlib.fusion_fit --pages 600`` renders photos with the two training
generators, written with MNIST **training** digits (a seed of its own): half with
``digitlib.synth`` (one page in three "clean", the rest "hard") and half with
``digitlib.ink_pages`` (640x480 scenes: desks, turned sheets, patterns, shadows),
reads each two ways and prints how often each way is right where the two agree and where
they disagree, and how often each candidate rule picks the right one:

- ``--choice readers`` (the default): the segmenter alone against the sequence reader
  alone. ``reading.sequence.DISAGREE_CAP`` and its fusion rule come from this table.
- ``--choice ink``: the threshold ink stage against the learned one (both readers fused).
  The rule of ``ReadOptions(ink="auto")`` (``recognizer.choose_ink``: which stage reads
  first, whether the other reads too, the confidences) comes from these tables.

The benchmarks' suites and holdout pages are never used for either.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass

import numpy as np

from .data import load_mnist
from .files import write_atomic
from .ink_pages import make_ink_page_with_text
from .reading.result import ReadOptions
from .reading.sequence import prefer_sequence
from .recognizer import Recognizer, agreed_confidence, prefer_learned, shown_ink
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


INK_PAGE_SIZE, INK_PAGE_UNIT = (640, 480), 2.5  # webcam-sized scenes, as ink_training.compare_on_pages


#: The two ways each choice reads a page.
CHOICES = {
    "readers": (ReadOptions(ink="threshold", reader="segmenter"), ReadOptions(ink="threshold", reader="sequence")),
    "ink": (ReadOptions(ink="threshold"), ReadOptions(ink="learned")),
}


def read_pairs(recognizer: Recognizer, pages: int, seed: int = FUSION_SEED, root=None,
               choice: str = "readers") -> list[PagePair]:
    """Each page's generator, label and its two readings (text, confidence) of ``CHOICES[choice]``.
    Even pages come from ``synth``, odd ones from ``ink_pages`` (pages with no digit, or with a
    digit not wholly in view, are skipped)."""
    first_options, second_options = CHOICES[choice]
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
        first = recognizer.read(image, first_options)
        second = recognizer.read(image, second_options)
        out.append(PagePair(generator, text, first.text, first.confidence, second.text, second.confidence))
    return out


def _higher(p: PagePair) -> str:
    return p.second if p.second_confidence > p.first_confidence else p.first


RULES = {
    "readers": {
        "segmenter always": lambda p: p.first,
        "sequence always": lambda p: p.second,
        "higher confidence": _higher,
        "shipped (reading.sequence.prefer_sequence)":
            lambda p: p.second if prefer_sequence(p.first_confidence, p.second_confidence) else p.first,
    },
    "ink": {
        "threshold always": lambda p: p.first,
        "learned always": lambda p: p.second,
        "higher confidence": _higher,
        **{f"threshold where at least {sure}, else the higher": (
            lambda p, sure=sure: p.first if p.first_confidence >= sure else _higher(p))
           for sure in (0.3, 0.5, 0.8, 0.9, 0.97, 0.99)},
        "shipped (recognizer.prefer_learned)":
            lambda p: p.second if prefer_learned(p.first_confidence, p.second_confidence) else p.first,
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
                       ("their geometric mean (shipped)", lambda p: agreed_confidence(p.first_confidence, p.second_confidence))):
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
    learned_kept, confidence = shown_ink(p.first, p.first_confidence, p.second, p.second_confidence)
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
    parser.add_argument("--choice", choices=sorted(CHOICES), default="readers",
                        help="readers: segmenter against sequence reader; ink: threshold against learned ink")
    parser.add_argument("--pairs-json", help="also write every page's two readings to this JSON file")
    args = parser.parse_args(argv)
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
