"""How far our confidence can be trusted: readings binned by ``Reading.confidence``
against the share of them read exactly (the benchmark's reliability table)."""

from __future__ import annotations

import numpy as np

from .formatting import accuracy


class ConfidenceRecorder:
    """Our reader as a ``Reader`` (image -> text) that also keeps each reading's
    ``Reading.confidence``, in call order (NaN where the reader raised). ``options``:
    the ``ReadOptions`` to read with (None: the defaults)."""

    def __init__(self, recognizer, options=None) -> None:
        self.recognizer = recognizer
        self.options = options
        self.confidences: list[float] = []

    def __call__(self, image: np.ndarray) -> str:
        self.confidences.append(float("nan"))
        reading = self.recognizer.read(image, self.options)
        self.confidences[-1] = float(reading.confidence)
        return reading.text


# Confidence bins of the reliability table: [low, high).
CONFIDENCE_BINS = ((0.0, 0.5), (0.5, 0.8), (0.8, 0.9), (0.9, 0.97), (0.97, 1.01))


def reliability_table(groups: dict[str, tuple[list[float], list[bool]]]) -> str:
    """Markdown: per confidence bin, for each group of sets (name -> (confidences, read exactly)),
    how many readings fell in the bin and the share of them read exactly; then the same for
    all readings at 0.9 or more. NaN confidences (crashes) count in no bin."""

    def cell(conf: np.ndarray, exact: np.ndarray, low: float, high: float) -> str:
        chosen = (conf >= low) & (conf < high)
        count = int(chosen.sum())
        return f"{count} | " + (accuracy(float(exact[chosen].mean()), decimals=1) if count else "-")

    names = list(groups)
    lines = ["| confidence | " + " | ".join(f"{n}: readings | {n}: exact" for n in names) + " |",
             "|---|" + "---:|---:|" * len(names)]
    arrays = {n: (np.asarray(c, np.float64), np.asarray(e, bool)) for n, (c, e) in groups.items()}
    for low, high in CONFIDENCE_BINS:
        label = f"< {high:g}" if low == 0 else (f">= {low:g}" if high > 1 else f"{low:g} - {high:g}")
        lines.append(f"| {label} | " + " | ".join(cell(*arrays[n], low, high) for n in names) + " |")
    lines.append("| **>= 0.9** | " + " | ".join(cell(*arrays[n], 0.9, 2.0) for n in names) + " |")
    return "\n".join(lines)
