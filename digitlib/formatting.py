"""Numbers as people read them: confidences and accuracies as percentages."""

from __future__ import annotations


def percent(p: float) -> str:
    """A probability as a short percentage: 0.9731 -> "97%", 0.9983 -> "99.83%",
    0.99996 -> ">99.99%", 0.004 -> "<1%"."""
    p = float(p)
    if p <= 0.0:
        return "0%"
    if p < 0.01:
        return "<1%"
    if p >= 1.0:
        return "100%"
    if p >= 0.9999:
        return ">99.99%"
    if p >= 0.995:
        return f"{p:.2%}"
    return f"{p:.0%}"


def accuracy(value: float | None, missing: str = "n/a") -> str:
    """An accuracy (a fraction) with two decimals, 0.99123 -> "99.12%"; ``missing`` for None."""
    return f"{value:.2%}" if value is not None else missing
