"""The Train page's charts, as Altair specs: live curves of a run, a model's results, and
several runs overlaid. Only chart building here; the page decides where they go.

A run's curves come as the dicts of ``digitlib.training.StepEvent`` (``steps``) and
``EpochEvent`` (``epochs``), as jobs and checkpoints keep them.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

MOST_POINTS = 1500  # a curve is thinned to about this many points for drawing
# Legends sit above the plot, outside it, with short strokes for symbols: inside the
# plot they covered the lines, and the default symbol of a line with points is a big dot.
LEGEND = dict(orient="top", title=None, symbolType="stroke", symbolStrokeWidth=2, symbolSize=120)

Rows = list[dict[str, Any]]


def smooth(values: list[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard-style smoothing)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i))
    return out


def thin(df: pd.DataFrame, most: int = MOST_POINTS) -> pd.DataFrame:
    """Every k-th row and always the last one, so a long run stays cheap to redraw and the
    newest point is on the chart."""
    if len(df) <= most:
        return df
    stride = -(-len(df) // most)
    keep = list(range(0, len(df), stride))
    if keep[-1] != len(df) - 1:
        keep.append(len(df) - 1)
    return df.iloc[keep]


def step_domain(steps: Rows, total: int) -> list[int]:
    """The x range of the step charts: a little past the last step, in 1-2-5 jumps, so the
    curve fills the chart early on and the axis changes only now and then (never past the end)."""
    last = steps[-1]["step"] if steps else 0
    want = max(10, last * 1.15)
    magnitude = 10 ** int(np.floor(np.log10(want)))
    nice = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= want)
    return [0, int(min(nice, total)) if total else int(nice)]


def placeholder(title: str, text: str, height: int) -> alt.Chart:
    """An empty chart box of the same size, so the layout does not jump when data arrives."""
    return (
        alt.Chart(pd.DataFrame({"text": [text]}), title=title)
        .mark_text(color="#888", fontSize=13)
        .encode(text="text:N")
        .properties(height=height)
    )


# --------------------------------------------------------------------------- one run, live


def loss_chart(steps: Rows, total: int) -> alt.Chart:
    if not steps:
        return placeholder("Training loss", "Waiting for the first steps…", 260)
    xs = [s["step"] for s in steps]
    raw = [s["train_loss"] for s in steps]
    df = pd.concat([
        thin(pd.DataFrame({"step": xs, "loss": raw, "series": "raw"})),
        thin(pd.DataFrame({"step": xs, "loss": smooth(raw), "series": "smoothed"})),
    ])
    x = alt.X("step:Q", title="step", scale=alt.Scale(domain=step_domain(steps, total), nice=False))
    color = alt.Color("series:N", legend=alt.Legend(**LEGEND),
                      scale=alt.Scale(domain=["raw", "smoothed"], range=["#9ecae9", "#1f77b4"]))
    return (
        alt.Chart(df, title="Training loss")
        .mark_line(clip=True)
        .encode(x=x, y=alt.Y("loss:Q", title="cross-entropy", scale=alt.Scale(zero=True)), color=color,
                tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4f"), "series:N"])
        .properties(height=260)
    )


# MNIST test always; beside it, where the run measured them, my held-out digits (fine-tuning)
# and the share of held-out "not one digit" pieces the model calls so.
ACCURACY_SERIES = [("MNIST test", "test_accuracy", "#2ca02c"), ("my digits (held out)", "extra_accuracy", "#9467bd"),
                   ("not-digits found", "not_digit_accuracy", "#ff7f0e")]


def epoch_charts(epochs: Rows, planned: int) -> tuple[alt.Chart, alt.Chart]:
    """Loss per epoch (train and test) and test accuracy per epoch."""
    if not epochs:
        return (placeholder("Loss per epoch", "Shown after the first epoch", 220),
                placeholder("Test accuracy per epoch", "Shown after the first epoch", 220))
    x = alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[1, max(planned, 2)], nice=False),
              axis=alt.Axis(tickMinStep=1, format="d"))
    loss = pd.concat([
        pd.DataFrame({"epoch": [r["epoch"] for r in epochs], "loss": [r["test_loss"] for r in epochs], "set": "test"}),
        pd.DataFrame({"epoch": [r["epoch"] for r in epochs], "loss": [r["train_loss"] for r in epochs], "set": "train"}),
    ])
    loss_chart_ = (
        alt.Chart(loss, title="Loss per epoch")
        .mark_line(point=True)
        .encode(x=x, y=alt.Y("loss:Q", title="cross-entropy"),
                color=alt.Color("set:N", legend=alt.Legend(**LEGEND),
                                scale=alt.Scale(domain=["test", "train"], range=["#d62728", "#1f77b4"])),
                tooltip=["epoch:Q", "set:N", alt.Tooltip("loss:Q", format=".4f")])
        .properties(height=220)
    )
    series = [(name, key, colour) for name, key, colour in ACCURACY_SERIES
              if any(r.get(key) is not None for r in epochs)]
    acc = pd.concat([
        pd.DataFrame({"epoch": [r["epoch"] for r in epochs if r.get(key) is not None], "set": name,
                      "accuracy": [r[key] for r in epochs if r.get(key) is not None]})
        for name, key, _ in series
    ])
    color = alt.Color("set:N", legend=alt.Legend(**LEGEND) if len(series) > 1 else None,
                      scale=alt.Scale(domain=[n for n, _, _ in series], range=[c for _, _, c in series]))
    acc_chart = (
        alt.Chart(acc, title="Test accuracy per epoch")
        .mark_line(point=True)
        .encode(x=x, y=alt.Y("accuracy:Q", title="accuracy", axis=alt.Axis(format=".1%"), scale=alt.Scale(zero=False)),
                color=color, tooltip=["epoch:Q", "set:N", alt.Tooltip("accuracy:Q", format=".2%")])
        .properties(height=220)
    )
    return loss_chart_, acc_chart


def small_step_chart(steps: Rows, total: int, field: str, title: str, axis_format: str) -> alt.Chart:
    if not steps:
        return placeholder(title, "", 160)
    df = thin(pd.DataFrame({"step": [s["step"] for s in steps], field: [s[field] for s in steps]}))
    return (
        alt.Chart(df, title=title)
        .mark_line(color="#7f7f7f", clip=True)
        .encode(x=alt.X("step:Q", scale=alt.Scale(domain=step_domain(steps, total), nice=False)),
                y=alt.Y(f"{field}:Q", title=None, axis=alt.Axis(format=axis_format)),
                tooltip=["step:Q", alt.Tooltip(f"{field}:Q", format=axis_format)])
        .properties(height=160)
    )


# --------------------------------------------------------------------------- a model's results


def confusion_chart(confusion: list[list[int]], dark: bool = False) -> alt.Chart:
    """The confusion matrix as a heat map; ``dark`` for a dark theme, where empty cells fade into
    the background instead of glaring white (Vega's dark schemes run from dark to bright)."""
    df = pd.DataFrame(
        [(t, p, n) for t, row in enumerate(confusion) for p, n in enumerate(row)],
        columns=["true", "predicted", "count"],
    )
    df["share"] = df["count"] / df.groupby("true")["count"].transform("sum").clip(lower=1)
    base = alt.Chart(df, title="Confusion matrix (rows: true digit)").encode(
        x=alt.X("predicted:O", title="predicted", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:O", title="true"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", title="share of row", scale=alt.Scale(scheme="darkblue" if dark else "blues", type="sqrt"),
                        legend=alt.Legend(format=".0%")),
        tooltip=["true:O", "predicted:O", "count:Q", alt.Tooltip("share:Q", format=".2%")],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.condition(alt.datum.count > 0, "count:Q", alt.value("")),
        color=alt.condition(alt.datum.share > 0.5, alt.value("#12151c" if dark else "white"),
                            alt.value("#e4e8f0" if dark else "#333")),
    )
    return (cells + text).properties(height=380)


def per_class_chart(per_class: list[float]) -> alt.Chart:
    """Test accuracy of each digit as bars with their values, on labelled axes.

    The title is anchored at the left edge: centred over a narrow column, its start was cut off.
    """
    df = pd.DataFrame({"digit": list(range(10)), "accuracy": per_class})
    low = max(0.0, min(per_class) - 0.02) if per_class else 0.0
    bars = alt.Chart(df).mark_bar(color="#4c78a8", clip=True).encode(
        x=alt.X("digit:O", title="digit", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("accuracy:Q", title="test accuracy", scale=alt.Scale(domain=[low, 1.0], nice=False),
                axis=alt.Axis(format=".0%", tickCount=5)),
        tooltip=["digit:O", alt.Tooltip("accuracy:Q", format=".2%")],
    )
    labels = bars.mark_text(dy=-6, fontSize=10).encode(text=alt.Text("accuracy:Q", format=".1%"))
    title = alt.TitleParams("Accuracy per digit", anchor="start")
    return alt.layer(bars, labels, title=title).properties(height=380)


# --------------------------------------------------------------------------- several runs overlaid


COMPARE_X = {  # x axis choice -> (field in the epoch rows, axis title)
    "training time": ("elapsed_s", "training time (s)"),
    "epoch": ("epoch", "epoch"),
}


def compare_charts(runs: dict[str, dict[str, Rows]], x: str = "training time") -> tuple[alt.Chart, alt.Chart]:
    """Test accuracy and training loss of several runs on one chart each, one colour per run.

    ``runs``: run name -> its history (``steps`` and ``epochs``). Accuracy is drawn against
    training time or epoch; the loss against images seen, which compares runs of any batch size.
    """
    field, x_title = COMPARE_X[x]
    acc = pd.DataFrame([
        {"run": name, "x": r[field], "epoch": r["epoch"], "accuracy": r["test_accuracy"]}
        for name, history in runs.items() for r in history.get("epochs") or []
    ], columns=["run", "x", "epoch", "accuracy"])
    loss = pd.concat([
        thin(pd.DataFrame({"run": name, "images": [s["samples_seen"] for s in history.get("steps") or []],
                           "loss": smooth([s["train_loss"] for s in history.get("steps") or []])}), 400)
        for name, history in runs.items()
    ] or [pd.DataFrame(columns=["run", "images", "loss"])])
    color = alt.Color("run:N", legend=alt.Legend(**LEGEND, columns=2, labelLimit=320))
    acc_chart = (
        alt.Chart(acc, title="Test accuracy")
        .mark_line(point=True)
        .encode(x=alt.X("x:Q", title=x_title), y=alt.Y("accuracy:Q", title="accuracy", axis=alt.Axis(format=".1%"),
                                                         scale=alt.Scale(zero=False)),
                color=color, tooltip=["run:N", "epoch:Q", alt.Tooltip("x:Q", title=x_title, format=".1f"),
                                      alt.Tooltip("accuracy:Q", format=".2%")])
        .properties(height=300)
    )
    loss_chart_ = (
        alt.Chart(loss, title="Training loss (smoothed)")
        .mark_line()
        .encode(x=alt.X("images:Q", title="images seen", axis=alt.Axis(format="~s")),
                y=alt.Y("loss:Q", title="cross-entropy", scale=alt.Scale(type="log")),
                color=color, tooltip=["run:N", alt.Tooltip("images:Q", format=","), alt.Tooltip("loss:Q", format=".4f")])
        .properties(height=300)
    )
    return acc_chart, loss_chart_
