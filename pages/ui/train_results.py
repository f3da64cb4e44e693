"""The Train page's lower half: a model's test results, the before/after of a fine-tune,
the models table with its actions, and several runs compared on one chart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from digitlib import evaluation, files, jobs, personal, store
from digitlib.checkpoint import CheckpointError, checkpoint_summary
from digitlib.data import DataUnavailableError
from digitlib.formatting import accuracy
from pages.ui import train_charts as charts
from pages.ui.app_state import set_active_model
from pages.ui.train_settings import say

state = st.session_state


def file_signature(path: str | None) -> tuple:
    """(path, mtime_ns, size) so a cached result notices a rewritten checkpoint."""
    return files.file_signature(path) if path is not None else ()


def fmt_pct(value: float | None) -> str:
    return accuracy(value, missing="–")


def fmt_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def fmt_epochs(entry: store.ModelEntry) -> str:
    """Whole epochs as "3"; a run stopped mid-epoch as "1.4 of 3"."""
    if entry.epochs is None:
        return "–"
    done = f"{entry.epochs:.0f}" if float(entry.epochs).is_integer() else f"{entry.epochs:.1f}"
    planned = entry.epochs_planned
    return done if entry.finished or not planned or planned == entry.epochs else f"{done} of {planned}"


# --------------------------------------------------------------------------- before and after a fine-tune


@st.cache_data(show_spinner=False, max_entries=8)
def cached_comparison(before: str | None, before_sig: tuple, after: str, after_sig: tuple, folder: str,
                      personal_sig: tuple, data_dir: str | None, test_limit: int | None,
                      download: bool) -> evaluation.Comparison:
    return evaluation.compare_models(before, after, folder, data_dir, test_limit, download)


def before_after(snap: jobs.JobSnapshot) -> None:
    """Accuracy of the starting model and of the fine-tuned one: MNIST test and my held-out digits."""
    cfg = snap.cfg
    started = store.read_entry(snap.checkpoint).meta.get("init_from") or snap.init_from  # kept across resumes
    before = str(started) if started else None
    st.subheader("Before and after: your digits and MNIST")
    try:
        with st.spinner("Testing the model before and after fine-tuning…"):
            c = cached_comparison(
                before, file_signature(before), str(snap.checkpoint), file_signature(str(snap.checkpoint)),
                cfg.extra_data, personal.PersonalSet(cfg.extra_data).signature(), cfg.data_dir, cfg.test_limit,
                cfg.download,
            )
    except (CheckpointError, DataUnavailableError, personal.PersonalSetError, OSError) as exc:
        st.error(f"Cannot compare the models: {exc}")
        return

    def delta(after: float | None, before_: float | None) -> str | None:
        return f"{(after - before_) * 100:+.2f} points" if after is not None and before_ is not None else None

    a, b = st.columns(2)
    a.metric(f"My digits, held out ({c.n_personal})", fmt_pct(c.personal_after),
             delta=delta(c.personal_after, c.personal_before),
             help="Accuracy on the digits of My digits that training never saw, after fine-tuning.")
    b.metric(f"MNIST test ({c.n_mnist:,} images)", fmt_pct(c.mnist_after), delta=delta(c.mnist_after, c.mnist_before),
             help="Accuracy on MNIST's test digits after fine-tuning: it should stay about where it was.")
    start = store.read_entry(before).label if before else "Random weights"
    st.dataframe(
        pd.DataFrame({
            "Model": [f"Before: {start}", f"After: {snap.checkpoint.name}"],
            "My digits (held out)": [fmt_pct(c.personal_before), fmt_pct(c.personal_after)],
            "MNIST test": [fmt_pct(c.mnist_before), fmt_pct(c.mnist_after)],
        }),
        hide_index=True, key="train_before_after",
    )
    if c.n_personal == 0:
        st.caption("None of your digits is held out yet, so the gain on them cannot be measured: save a few more.")


# --------------------------------------------------------------------------- a model's results


@st.cache_data(show_spinner=False, max_entries=8)
def cached_report(path: str, mtime_ns: int, data_dir: str | None, test_limit: int | None) -> evaluation.EvaluationReport:
    return evaluation.evaluate_checkpoint(path, data_dir=data_dir, test_limit=test_limit, max_examples=40)


def show_report(entry: store.ModelEntry) -> None:
    data_dir = state.get("train_data") or None
    test_limit = (entry.meta.get("train_args") or {}).get("test_limit") if not entry.shipped else None
    try:
        mtime = entry.path.stat().st_mtime_ns
        with st.spinner(f"Testing {entry.name} on the MNIST test set…"):
            report = cached_report(str(entry.path), mtime, data_dir, test_limit)
    except (CheckpointError, DataUnavailableError, OSError) as exc:
        st.error(f"Cannot test this model: {exc}")
        return
    a, b, c = st.columns(3)
    a.metric("Test accuracy", f"{report.accuracy:.2%}")
    b.metric("Test loss", f"{report.test_loss:.4f}")
    c.metric("Misclassified", f"{report.n_misclassified:,} of {report.n_test:,}")
    left, right = st.columns([3, 2])
    dark = st.context.theme.type == "dark"
    left.altair_chart(charts.confusion_chart(report.confusion, dark=dark), key="train_chart_confusion", width="stretch")
    right.altair_chart(charts.per_class_chart(report.per_class), key="train_chart_per_class", width="stretch")
    shown = report.misclassified
    if shown:
        st.markdown(f"**Misclassified test digits** ({len(shown)} most confident mistakes of {report.n_misclassified:,})")
        # A wrapping row of small tiles: screen-wide columns made a phone scroll through 40 big digits.
        with st.container(horizontal=True, gap="small", key="train_misclassified"):
            for m in shown:
                with st.container(width=84, gap="xsmall"):
                    st.image(np.kron(m.image, np.ones((3, 3), dtype=np.uint8)), width=84)  # crisp pixels
                    st.caption(f"true **{m.true}** → {m.predicted} ({m.confidence:.0%})")
    else:
        st.success("No test digit was misclassified.")


# --------------------------------------------------------------------------- comparing runs


@st.cache_data(show_spinner=False, max_entries=32)
def cached_history(path: str, signature: tuple) -> dict:
    """A checkpoint's curves (``steps`` and ``epochs``); ``signature`` notices a rewrite."""
    return checkpoint_summary(path).get("history") or {}


def compare_section(entries: list[store.ModelEntry]) -> None:
    """Pick runs; their curves are drawn together, one colour each."""
    runs = {str(e.path): e for e in entries if e.usable and not e.shipped}
    if len(runs) < 2:
        st.caption("Train two runs (say the *quick* preset and the *article* one) to compare their curves here.")
        return
    # A run deleted since it was picked drops out of the choice.
    state["train_compare"] = [p for p in state.get("train_compare", []) if p in runs]
    picked = st.multiselect(
        "Compare runs", list(runs), key="train_compare", format_func=lambda p: runs[p].label,
        placeholder="Pick two or more runs", help="Their test accuracy and training loss on one chart each.",
    )
    if len(picked) < 2:
        return
    x = st.radio("Accuracy against", list(charts.COMPARE_X), horizontal=True, key="train_compare_x")
    histories = {}
    for path in picked:
        try:
            histories[runs[path].label] = cached_history(path, file_signature(path))
        except CheckpointError as exc:
            st.error(f"Cannot read {runs[path].name}: {exc}")
    acc, loss = charts.compare_charts(histories, x)
    left, right = st.columns(2)
    left.altair_chart(acc, key="train_chart_compare_accuracy", width="stretch")
    right.altair_chart(loss, key="train_chart_compare_loss", width="stretch")


# --------------------------------------------------------------------------- the models table


def models_section(entries: list[store.ModelEntry], registry: jobs.JobRegistry, resume_job) -> None:
    busy = registry.running.out.resolve() if registry.running is not None else None
    active = state.get("active_model")

    def status(e: store.ModelEntry) -> str:
        if e.error:
            return f"unreadable: {e.error}"
        if busy is not None and e.path.resolve() == busy:
            return "training now"
        if e.shipped:
            return "shipped"
        return "finished" if e.finished else "stopped (resumable)"

    def is_active(e: store.ModelEntry) -> bool:
        return (active is None and e.shipped) or (active is not None and Path(active) == e.path)

    df = pd.DataFrame({
        "Active": [is_active(e) for e in entries],
        "Name": [e.name for e in entries],
        "Date": [e.created.astimezone().replace(tzinfo=None) if e.usable else None for e in entries],
        "Architecture": [e.arch_label if e.usable else "?" for e in entries],
        "Epochs": [fmt_epochs(e) for e in entries],
        "Test accuracy": [e.test_accuracy * 100 if e.test_accuracy is not None else None for e in entries],
        "Size": [fmt_size(e.size_bytes) for e in entries],
        "Status": [status(e) for e in entries],
    })
    st.dataframe(
        df, hide_index=True, key="train_models_table",
        column_config={
            "Active": st.column_config.CheckboxColumn(width="small", help="The model the Recognize page uses"),
            "Date": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Test accuracy": st.column_config.NumberColumn(format="%.2f %%"),
        },
    )
    by_path = {str(e.path): e for e in entries}
    if state.get("train_pick") not in by_path:
        state["train_pick"] = str(entries[0].path)
    pick = st.selectbox("Model", list(by_path), key="train_pick", format_func=lambda p: by_path[p].label)
    entry = by_path[pick]
    training_it = busy is not None and entry.path.resolve() == busy
    b = st.columns(4)
    if b[0].button("Use on Recognize", key="train_use", type="primary", icon=":material/check:",
                   disabled=not entry.usable or training_it, width="stretch"):
        set_active_model(None if entry.shipped else str(entry.path))
        say("success", f"{entry.label} is now the model of the Recognize page.")
        st.rerun()
    if b[1].button("Inspect", key="train_inspect_btn", icon=":material/analytics:",
                   disabled=not entry.usable or training_it, width="stretch"):
        state["train_inspect"] = str(entry.path)
    if b[2].button("Resume training", key="train_resume_pick", icon=":material/play_arrow:",
                   disabled=not entry.resumable or registry.running is not None, width="stretch"):
        resume_job(entry.path)
        st.rerun()
    if b[3].button("Delete…", key="train_delete", icon=":material/delete:",
                   disabled=entry.shipped or training_it, width="stretch",
                   help="The shipped model cannot be deleted." if entry.shipped else None):
        state["train_confirm_delete"] = str(entry.path)
    confirm = state.get("train_confirm_delete")
    if confirm and confirm in by_path and not by_path[confirm].shipped:
        confirm_delete(by_path[confirm])


def confirm_delete(entry: store.ModelEntry) -> None:
    path = str(entry.path)
    with st.container(border=True):
        st.warning(f"Delete **{entry.name}** ({path})? This cannot be undone.")
        y, n, _ = st.columns([1, 1, 4])
        if y.button("Yes, delete", key="train_delete_yes", type="primary"):
            state.pop("train_confirm_delete", None)
            try:
                store.delete_model(path)
            except (OSError, ValueError) as exc:
                say("error", f"Could not delete {path}: {exc}")
            else:
                if state.get("active_model") == path:
                    set_active_model(None)
                if state.get("train_inspect") == path:
                    state.pop("train_inspect")
                say("success", f"Deleted {entry.name}.")
            st.rerun()
        if n.button("Cancel", key="train_delete_no"):
            state.pop("train_confirm_delete", None)
            st.rerun()
