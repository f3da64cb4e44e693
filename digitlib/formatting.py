"""Text for people: confidences and accuracies as percentages, the machine a benchmark ran on."""

from __future__ import annotations

import datetime as _dt
import os
import platform


def one_line(text: str) -> str:
    """A reading's text on one line: rows separated by " / " ("12\\n34" -> "12 / 34")."""
    return " / ".join(text.split("\n")) if text else ""


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


def accuracy(value: float | None, missing: str = "n/a", decimals: int = 2) -> str:
    """An accuracy (a fraction) with two decimals, 0.99123 -> "99.12%"; ``missing`` for None."""
    return f"{value:.{decimals}%}" if value is not None else missing


def machine_line() -> str:
    """CPU, cores, torch threads, OpenMP waiting, load average and time: the first line of a benchmark."""
    import torch

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}), "
        f"load average {load} at start; "
        f"{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='minutes')}"
    )

