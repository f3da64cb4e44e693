"""The Train page: pick settings, train while watching the curves, stop/resume, inspect, use.

Training runs in a worker thread owned by a server-wide ``JobRegistry``
(``pages/ui/jobs.server_registry``, held in ``st.cache_resource``); this
script only starts jobs and draws snapshots of them. While a job runs, a
fragment redraws the live view every second; reloading the page, switching
pages or opening a second tab shows the same job.

"Include my digits" fine-tunes the active model on MNIST plus the personal set of
corrected digits (``digitlib.personal``, oversampled by ``TrainConfig.extra_data``);
after such a run the page shows accuracy before and after, on MNIST test and on the
held-out part of the personal set.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from digitlib import digit_sets, evaluation, files, jobs, personal, store
from digitlib.formatting import accuracy
from digitlib.model import arch_label
from pages.ui.jobs import server_registry
from pages.ui.navigation import ensure_app_navigation
from digitlib.checkpoint import SHIPPED_MODEL, CheckpointError
from digitlib.data import MNIST_FILES, DataUnavailableError, mnist_present, resolve_data_dir
from digitlib.training import TrainConfig, finetune_recipe, recipe

ARCHS = ["digitnet", "seednet"]
ARCH_NOTES = {
    "digitnet": "DigitNet: the project's CNN with batch norm (0.19 M parameters); about 99.6% after its 20 epochs.",
    "seednet": "SeedNet: the small CNN of the original article (21 k parameters); fast, about 98-99%.",
}
SCRATCH = ""  # the "Start from" choice for random weights (None would show as no choice)
REFRESH_S = 1.0  # live view redraw interval while a job runs
IDLE_CHECK_S = 3.0  # how often an idle page looks for a job started elsewhere (another tab)
RECIPE_KEYS = {  # widget key -> TrainConfig field filled from the architecture's recipe
    "train_epochs": "epochs", "train_batch": "batch_size", "train_lr": "lr", "train_optimizer": "optimizer",
    "train_augment": "augment", "train_momentum": "momentum", "train_wd": "weight_decay",
    "train_schedule": "schedule",
}

ensure_app_navigation()
registry = server_registry()
state = st.session_state


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating time left"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"about {seconds} s left"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"about {minutes} min {sec:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min left"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def thin(df: pd.DataFrame, most: int = 1500) -> pd.DataFrame:
    """Every k-th row, so a long run with frequent reports stays cheap to redraw."""
    stride = -(-len(df) // most) if len(df) > most else 1
    return df.iloc[::stride] if stride > 1 else df


def step_domain(snap: jobs.JobSnapshot, total: int) -> list[int]:
    """The x range of the step charts: a little past the last step, in 1-2-5 jumps, so the
    curve fills the chart early on and the axis changes only now and then (never past the end)."""
    last = snap.steps[-1]["step"] if snap.steps else 0
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


def fmt_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def smooth(values: list[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard-style smoothing)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i))
    return out


# ---------------------------------------------------------------------------
# the settings form
# ---------------------------------------------------------------------------


def fill_recipe() -> None:
    """Architecture changed: load its recipe's defaults into the form."""
    cfg = recipe(state["train_arch"])
    for key, name in RECIPE_KEYS.items():
        state[key] = getattr(cfg, name)


def init_form() -> None:
    if "train_mine" not in state:
        state["train_mine"] = False
    if "train_arch" in state:
        return
    state["train_arch"] = "digitnet"
    fill_recipe()
    state["train_seed"] = 1
    state["train_init"] = SCRATCH
    state["train_data"] = str(resolve_data_dir())
    state["train_download"] = True
    state["train_limit"] = 0
    state["train_test_limit"] = 0
    state["train_log_every"] = 5  # frequent points: the live curves move every second or two


def settings_form(entries: list[store.ModelEntry]) -> None:
    init_form()
    keep = dict(persist_state="session")
    st.selectbox(
        "Architecture", ARCHS, key="train_arch", format_func=arch_label, on_change=fill_recipe, **keep,
        help="Which network to train. Changing it loads that network's recommended settings.",
    )
    st.caption(ARCH_NOTES[state["train_arch"]])
    st.number_input(
        "Epochs", min_value=1, max_value=100, step=1, key="train_epochs", **keep,
        help="How many passes over the training images. More epochs: better accuracy, longer training.",
    )
    st.number_input(
        "Batch size", min_value=8, max_value=1024, step=8, key="train_batch", **keep,
        help="Images per optimizer step. Larger batches are faster per image but need more memory.",
    )
    st.number_input(
        "Learning rate", min_value=0.0001, max_value=1.0, step=0.001, format="%.4f", key="train_lr", **keep,
        help="How big each update is (the peak rate with the one-cycle schedule). Too high diverges, too low crawls.",
    )
    st.selectbox(
        "Optimizer", ["sgd", "adamw"], key="train_optimizer", **keep,
        format_func=lambda o: {"sgd": "SGD with momentum", "adamw": "AdamW"}[o],
        help="SGD with momentum is the classic choice; AdamW adapts the step per weight and wants a smaller rate (about 0.002).",
    )
    st.toggle(
        "Augmentation", key="train_augment", **keep,
        help="Randomly rotate, slant, shift, thicken and blur the training digits, so the model copes with real handwriting.",
    )
    st.number_input(
        "Seed", min_value=0, max_value=2**31 - 1, step=1, key="train_seed", **keep,
        help="Fixes the random start and shuffling: the same settings and seed give the same model.",
    )
    options = [SCRATCH] + [str(e.path) for e in entries if e.usable and e.arch == state["train_arch"]]
    if state.get("train_init") not in options:
        state["train_init"] = SCRATCH
    labels = {str(e.path): e.label for e in entries}
    st.selectbox(
        "Start from", options, key="train_init", **keep,
        format_func=lambda p: "Random weights (train from scratch)" if p == SCRATCH else labels.get(p, p),
        help="Begin from a trained model of the same architecture (fine-tuning) instead of random weights.",
    )
    my_digits_option()
    st.text_input(
        "MNIST data folder", key="train_data", **keep,
        help="Folder holding MNIST/raw/ with the four MNIST files (torchvision's layout).",
    )
    folder = resolve_data_dir(state["train_data"] or None)
    if not mnist_present(folder):
        st.warning(
            f"MNIST is not in {folder / 'MNIST' / 'raw'} yet. Start will try to download it (needs internet); "
            f"or put {', '.join(MNIST_FILES)} there yourself.",
            icon=":material/folder_off:",
        )
    with st.expander("Advanced"):
        st.selectbox(
            "Learning-rate schedule", ["onecycle", "constant"], key="train_schedule", **keep,
            format_func=lambda s: {"onecycle": "One-cycle (warm up, then anneal)", "constant": "Constant"}[s],
            help="One-cycle raises the rate for the first 20% of steps, then lowers it to almost zero.",
        )
        st.number_input(
            "Momentum (SGD)", min_value=0.0, max_value=0.99, step=0.05, format="%.2f", key="train_momentum", **keep,
            help="How much of the previous update carries over. 0.9 and above uses Nesterov momentum.",
        )
        st.number_input(
            "Weight decay", min_value=0.0, max_value=0.1, step=0.0001, format="%.4f", key="train_wd", **keep,
            help="Pulls weights towards zero a little each step, against overfitting.",
        )
        st.number_input(
            "Log every N steps", min_value=1, max_value=1000, step=1, key="train_log_every", **keep,
            help="How often the training loss is reported and plotted. Lower: a livelier curve; the page thins long curves for drawing.",
        )
        st.number_input(
            "Quick run: first N training images (0 = all 60,000)", min_value=0, max_value=60000,
            step=500, key="train_limit", **keep,
            help="Train on a subset for a fast try-out of the settings.",
        )
        st.number_input(
            "Test images used (0 = all 10,000)", min_value=0, max_value=10000, step=500,
            key="train_test_limit", **keep,
            help="A smaller test set makes the test after each epoch faster but its accuracy noisier.",
        )
        st.toggle("Download MNIST if missing", key="train_download", **keep,
                  help="Fetch MNIST from the internet when the data folder lacks it (about 12 MB).")


def config_from_form() -> TrainConfig:
    cfg = recipe(state["train_arch"])
    for key, name in RECIPE_KEYS.items():
        setattr(cfg, name, state[key])
    cfg.epochs, cfg.batch_size = int(cfg.epochs), int(cfg.batch_size)
    cfg.lr, cfg.momentum, cfg.weight_decay = float(cfg.lr), float(cfg.momentum), float(cfg.weight_decay)
    cfg.seed = int(state["train_seed"])
    cfg.limit = int(state["train_limit"]) or None
    cfg.test_limit = int(state["train_test_limit"]) or None
    cfg.log_every = int(state["train_log_every"])
    cfg.data_dir = state["train_data"].strip() or None
    cfg.download = bool(state["train_download"])
    cfg.extra_data = str(digit_sets.personal_dir()) if state.get("train_mine") else None
    return cfg


# ---------------------------------------------------------------------------
# my digits: fine-tuning on the personal set
# ---------------------------------------------------------------------------


def use_my_digits() -> None:
    """'Include my digits' switched on: fine-tune the active model with the fine-tuning recipe."""
    if not state.get("train_mine"):
        return
    active = state.get("active_model")
    entry = store.read_entry(active) if active else store.read_entry(SHIPPED_MODEL, shipped=True)
    if entry.usable and entry.arch in ARCHS:
        state["train_arch"], state["train_init"] = entry.arch, str(entry.path)
        start = entry.label
    else:
        start = "the model chosen under *Start from*"
    cfg = finetune_recipe(state["train_arch"])
    for key, name in RECIPE_KEYS.items():
        state[key] = getattr(cfg, name)
    state["train_limit"] = cfg.limit
    say("info", f"Fine-tuning settings loaded: {plural(cfg.epochs, 'epoch')} over the first {cfg.limit:,} MNIST "
                f"images plus your digits, learning rate {cfg.lr:g}, starting from {start}.")


def my_digits_option() -> None:
    """The 'Include my digits' toggle and what it would train on."""
    try:
        samples = personal.PersonalSet().samples()
        problem = None
    except personal.PersonalSetError as exc:
        samples, problem = [], str(exc)
    held = sum(s.held_out for s in samples)
    usable = len(samples) - held > 0
    if not usable:
        state["train_mine"] = False
    st.toggle(
        "Include my digits", key="train_mine", on_change=use_my_digits, disabled=not usable,
        help="Mix the digits you corrected on the Recognize page into MNIST, repeated so they make up about a "
             "fifth of each epoch, and fine-tune the active model on them. One in five of your digits is "
             "held out to measure the gain.",
    )
    if problem:
        st.caption(f":red[My digits cannot be read: {problem}]")
    elif usable:
        st.caption(f"{plural(len(samples), 'digit')} in My digits: {len(samples) - held} to train on, "
                   f"{held} held out for testing.")
    else:
        st.caption("Correct some readings on the Recognize page first: My digits has "
                   f"{plural(len(samples), 'digit')}{' (all held out)' if samples else ''}.")


@st.cache_data(show_spinner=False, max_entries=8)
def cached_comparison(before: str | None, before_sig: tuple, after: str, after_sig: tuple, folder: str,
                      personal_sig: tuple, data_dir: str | None, test_limit: int | None,
                      download: bool) -> evaluation.Comparison:
    return evaluation.compare_models(before, after, folder, data_dir, test_limit, download)


def fmt_pct(value: float | None) -> str:
    return accuracy(value, missing="–")


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


def file_signature(path: str | None) -> tuple:
    """(path, mtime_ns, size) so the cached comparison notices a rewritten checkpoint."""
    return files.file_signature(path) if path is not None else ()


# ---------------------------------------------------------------------------
# starting and resuming
# ---------------------------------------------------------------------------


def say(kind: str, text: str) -> None:
    """A message shown once, at the top of the page, on this run or the next."""
    state["train_message"] = (kind, text)


def start_job(cfg: TrainConfig, out: Path | None = None, resume: Path | None = None, init_from: str | None = None) -> None:
    running = registry.running
    if running is not None:
        say("error", f"Not started: {jobs.JobRunning(running)}. Its live view is below.")
        return
    try:
        out = out or store.new_run_path(cfg.arch)
    except OSError as exc:
        say("error", f"Not started: the models folder cannot be used ({exc}).")
        return
    try:
        registry.start(cfg, out, resume=resume, init_from=init_from)
    except jobs.JobRunning as exc:
        say("error", f"Not started: {exc}. Its live view is below.")
        return
    state.pop("train_inspect", None)


def resume_job(path: Path) -> None:
    if registry.is_busy_with(path):
        say("error", "That run is training right now.")
        return
    cfg = config_from_form()  # only the data folder is used: the rest comes from the checkpoint
    start_job(cfg, out=path, resume=path)


# ---------------------------------------------------------------------------
# the live view
# ---------------------------------------------------------------------------


def loss_chart(snap: jobs.JobSnapshot, total: int) -> alt.Chart:
    steps = [s["step"] for s in snap.steps]
    raw = [s["train_loss"] for s in snap.steps]
    if not steps:
        return placeholder("Training loss", "Waiting for the first steps…", 260)
    df = pd.concat([
        thin(pd.DataFrame({"step": steps, "loss": raw, "series": "raw"})),
        thin(pd.DataFrame({"step": steps, "loss": smooth(raw), "series": "smoothed"})),
    ])
    x = alt.X("step:Q", title="step", scale=alt.Scale(domain=step_domain(snap, total), nice=False))
    color = alt.Color(
        "series:N", title=None, legend=alt.Legend(orient="top-right"),
        scale=alt.Scale(domain=["raw", "smoothed"], range=["#9ecae9", "#1f77b4"]),
    )
    return (
        alt.Chart(df, title="Training loss")
        .mark_line(clip=True)
        .encode(x=x, y=alt.Y("loss:Q", title="cross-entropy", scale=alt.Scale(zero=True)), color=color,
                tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4f"), "series:N"])
        .properties(height=260)
    )


def epoch_charts(snap: jobs.JobSnapshot, epochs: int) -> tuple[alt.Chart, alt.Chart]:
    rows = snap.epochs
    if not rows:
        return (placeholder("Loss per epoch", "Shown after the first epoch", 220),
                placeholder("Test accuracy per epoch", "Shown after the first epoch", 220))
    x = alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[1, max(epochs, 2)], nice=False),
              axis=alt.Axis(tickMinStep=1, format="d"))
    loss = pd.concat([
        pd.DataFrame({"epoch": [r["epoch"] for r in rows], "loss": [r["test_loss"] for r in rows], "set": "test"}),
        pd.DataFrame({"epoch": [r["epoch"] for r in rows], "loss": [r["train_loss"] for r in rows], "set": "train"}),
    ])
    loss_chart_ = (
        alt.Chart(loss, title="Loss per epoch")
        .mark_line(point=True)
        .encode(x=x, y=alt.Y("loss:Q", title="cross-entropy"),
                color=alt.Color("set:N", title=None, legend=alt.Legend(orient="top-right"),
                                scale=alt.Scale(domain=["test", "train"], range=["#d62728", "#1f77b4"])),
                tooltip=["epoch:Q", "set:N", alt.Tooltip("loss:Q", format=".4f")])
        .properties(height=220)
    )
    # MNIST test always; beside it, where the run measured them, my held-out digits (fine-tuning)
    # and the share of held-out "not one digit" pieces the model calls so.
    series = [("MNIST test", "test_accuracy", "#2ca02c"), ("my digits (held out)", "extra_accuracy", "#9467bd"),
              ("not-digits found", "not_digit_accuracy", "#ff7f0e")]
    series = [(name, key, colour) for name, key, colour in series if any(r.get(key) is not None for r in rows)]
    acc = pd.concat([
        pd.DataFrame({"epoch": [r["epoch"] for r in rows if r.get(key) is not None], "set": name,
                      "accuracy": [r[key] for r in rows if r.get(key) is not None]})
        for name, key, _ in series
    ])
    if len(series) > 1:
        color = alt.Color("set:N", title=None, legend=alt.Legend(orient="bottom-right"),
                          scale=alt.Scale(domain=[n for n, _, _ in series], range=[c for _, _, c in series]))
        mark = {}
    else:
        color, mark = alt.Undefined, {"color": "#2ca02c"}
    acc_chart = (
        alt.Chart(acc, title="Test accuracy per epoch")
        .mark_line(point=True, **mark)
        .encode(x=x, y=alt.Y("accuracy:Q", title="accuracy", axis=alt.Axis(format=".1%"), scale=alt.Scale(zero=False)),
                color=color, tooltip=["epoch:Q", "set:N", alt.Tooltip("accuracy:Q", format=".2%")])
        .properties(height=220)
    )
    return loss_chart_, acc_chart


def small_step_chart(snap: jobs.JobSnapshot, total: int, field: str, title: str, axis_format: str) -> alt.Chart:
    if not snap.steps:
        return placeholder(title, "", 160)
    df = thin(pd.DataFrame({"step": [s["step"] for s in snap.steps], field: [s[field] for s in snap.steps]}))
    return (
        alt.Chart(df, title=title)
        .mark_line(color="#7f7f7f", clip=True)
        .encode(x=alt.X("step:Q", scale=alt.Scale(domain=step_domain(snap, total), nice=False)),
                y=alt.Y(f"{field}:Q", title=None, axis=alt.Axis(format=axis_format)),
                tooltip=["step:Q", alt.Tooltip(f"{field}:Q", format=axis_format)])
        .properties(height=160)
    )


STATUS_TEXT = {
    jobs.RUNNING: ":material/play_circle: Training",
    jobs.STOPPING: ":material/pause_circle: Stopping after the current step",
    jobs.FINISHED: ":material/check_circle: Finished",
    jobs.STOPPED: ":material/stop_circle: Stopped (resumable)",
    jobs.FAILED: ":material/error: Failed",
}


def draw_job(snap: jobs.JobSnapshot, live: bool) -> None:
    """The job's whole view; same elements in the same order every time, so redraws don't jump."""
    p = snap.progress
    cfg = snap.cfg
    total = p.total_steps or (snap.steps[-1]["total_steps"] if snap.steps else 0)
    head, button = st.columns([5, 1], vertical_alignment="center")
    with head:
        where = f"`{snap.checkpoint.name}`"
        extra = f" · resumed from step {snap.steps[0]['step']}" if snap.resumed_from and snap.steps else ""
        st.markdown(
            f"**{STATUS_TEXT[snap.status]}** · {arch_label(cfg.arch)}, {plural(cfg.epochs, 'epoch')}, batch {cfg.batch_size}, "
            f"lr {cfg.lr:g}, {cfg.optimizer}{', augmented' if cfg.augment else ''}"
            f"{', with my digits' if cfg.extra_data else ''} · {where}{extra}"
        )
    with button:
        if live:
            st.button("Stop", key="train_stop", icon=":material/stop:", disabled=snap.status != jobs.RUNNING,
                      on_click=stop_running, width="stretch",
                      help="End after the current step and save a checkpoint you can resume.")
        elif snap.status in (jobs.STOPPED, jobs.FAILED) and store.read_entry(snap.checkpoint).resumable:
            key = "train_resume" if snap.status == jobs.STOPPED else "train_resume_failed"
            if st.button("Resume", key=key, type="primary", icon=":material/play_arrow:", width="stretch",
                         help="Continue this run from its last checkpoint; the curves carry on."):
                resume_job(snap.checkpoint)
                st.rerun()
    if snap.active and not snap.steps:
        text = f"{snap.phase[:1].upper()}{snap.phase[1:]}…"
    elif snap.active:
        text = f"Epoch {p.epoch}/{p.epochs} · step {p.step:,}/{p.total_steps:,} · {fmt_duration(p.eta_s)}"
        if snap.phase.startswith("testing"):
            text += " · testing"
    else:
        text = f"Epoch {p.epoch}/{p.epochs} · step {p.step:,}/{p.total_steps:,} · {snap.status}"
    st.progress(p.fraction, text=text)

    last = snap.steps[-1] if snap.steps else None
    last_epoch = snap.epochs[-1] if snap.epochs else None
    m = st.columns(5)
    m[0].metric(f"Step (of {p.total_steps:,})" if p.total_steps else "Step", f"{p.step:,}")
    m[1].metric("Training loss", f"{smooth([s['train_loss'] for s in snap.steps])[-1]:.4f}" if last else "–",
                help="Smoothed over the last few reports.")
    m[2].metric("Test accuracy", f"{last_epoch['test_accuracy']:.2%}" if last_epoch else "–",
                help="After the last finished epoch.")
    m[3].metric("Learning rate", f"{last['lr']:.2e}" if last else "–")
    m[4].metric("Images / s", f"{last['images_per_s']:,.0f}" if last else "–")

    st.altair_chart(loss_chart(snap, total), key="train_chart_loss", width="stretch")
    e1, e2 = st.columns(2)
    loss_e, acc_e = epoch_charts(snap, cfg.epochs)
    e1.altair_chart(loss_e, key="train_chart_epoch_loss", width="stretch")
    e2.altair_chart(acc_e, key="train_chart_accuracy", width="stretch")
    s1, s2 = st.columns(2)
    s1.altair_chart(small_step_chart(snap, total, "lr", "Learning rate", ".1e"), key="train_chart_lr", width="stretch")
    s2.altair_chart(small_step_chart(snap, total, "images_per_s", "Images per second", ",.0f"),
                    key="train_chart_speed", width="stretch")


def stop_running() -> None:
    job = registry.running
    if job is not None:
        job.stop()


def live_view() -> None:
    """Redrawn every REFRESH_S while a job runs; one full rerun when it ends."""
    job = registry.latest
    if job is None:
        return
    snap = job.snapshot()
    if not snap.active:
        st.rerun()  # the job ended: redraw the whole page (results, models list)
    draw_job(snap, live=True)


def idle_watch() -> None:
    """Cheap check on an idle page: did another tab start a job?"""
    latest = registry.latest
    if latest is not None and latest.id != state.get("train_shown_job") and latest.active:
        st.rerun()


# ---------------------------------------------------------------------------
# results of a model
# ---------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def cached_report(path: str, mtime_ns: int, data_dir: str | None, test_limit: int | None) -> store.EvaluationReport:
    return evaluation.evaluate_checkpoint(path, data_dir=data_dir, test_limit=test_limit, max_examples=40)


def confusion_chart(confusion: list[list[int]]) -> alt.Chart:
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
        color=alt.Color("share:Q", title="share of row", scale=alt.Scale(scheme="blues", type="sqrt"),
                        legend=alt.Legend(format=".0%")),
        tooltip=["true:O", "predicted:O", "count:Q", alt.Tooltip("share:Q", format=".2%")],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.condition(alt.datum.count > 0, "count:Q", alt.value("")),
        color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("#333")),
    )
    return (cells + text).properties(height=380)


def per_class_chart(per_class: list[float]) -> alt.Chart:
    df = pd.DataFrame({"digit": list(range(10)), "accuracy": per_class})
    low = max(0.0, min(per_class) - 0.02) if per_class else 0.0
    bars = alt.Chart(df, title="Accuracy per digit").mark_bar(color="#4c78a8").encode(
        x=alt.X("digit:O", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[low, 1.0]), axis=alt.Axis(format=".0%"), title=None),
        tooltip=["digit:O", alt.Tooltip("accuracy:Q", format=".2%")],
    )
    labels = bars.mark_text(dy=-6, fontSize=10).encode(text=alt.Text("accuracy:Q", format=".1%"))
    return (bars + labels).properties(height=380)


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
    left.altair_chart(confusion_chart(report.confusion), key="train_chart_confusion", width="stretch")
    right.altair_chart(per_class_chart(report.per_class), key="train_chart_per_class", width="stretch")
    shown = report.misclassified
    if shown:
        st.markdown(f"**Misclassified test digits** ({len(shown)} most confident mistakes of {report.n_misclassified:,})")
        per_row = 10
        for i in range(0, len(shown), per_row):
            cols = st.columns(per_row)
            for col, m in zip(cols, shown[i : i + per_row]):
                big = np.kron(m.image, np.ones((3, 3), dtype=np.uint8))  # crisp pixels
                col.image(big, width="stretch")
                col.caption(f"true **{m.true}** → {m.predicted} ({m.confidence:.0%})")
    else:
        st.success("No test digit was misclassified.")


# ---------------------------------------------------------------------------
# the models table
# ---------------------------------------------------------------------------


def models_section(entries: list[store.ModelEntry]) -> None:
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
        "Epochs": [e.epochs for e in entries],
        "Test accuracy": [e.test_accuracy * 100 if e.test_accuracy is not None else None for e in entries],
        "Size": [fmt_size(e.size_bytes) for e in entries],
        "Status": [status(e) for e in entries],
    })
    st.dataframe(
        df, hide_index=True, key="train_models_table",
        column_config={
            "Active": st.column_config.CheckboxColumn(width="small", help="The model the Recognize page uses"),
            "Date": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Epochs": st.column_config.NumberColumn(format="%.2f"),
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
        state["active_model"] = None if entry.shipped else str(entry.path)
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
        with st.container(border=True):
            st.warning(f"Delete **{by_path[confirm].name}** ({confirm})? This cannot be undone.")
            y, n, _ = st.columns([1, 1, 4])
            if y.button("Yes, delete", key="train_delete_yes", type="primary"):
                state.pop("train_confirm_delete", None)
                try:
                    store.delete_model(confirm)
                except (OSError, ValueError) as exc:
                    say("error", f"Could not delete {confirm}: {exc}")
                else:
                    if state.get("active_model") == confirm:
                        state["active_model"] = None
                    if state.get("train_inspect") == confirm:
                        state.pop("train_inspect")
                    say("success", f"Deleted {by_path[confirm].name}.")
                st.rerun()
            if n.button("Cancel", key="train_delete_no"):
                state.pop("train_confirm_delete", None)
                st.rerun()


# ---------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------

st.title("Train a digit model")
st.caption(
    "Train a CNN on the 60,000 MNIST digits and watch it learn. Training keeps running if you switch "
    "pages or close the tab; one run at a time per server."
)

folder = store.models_dir()
entries = store.list_models(folder)

with st.sidebar:
    st.header("Training settings")
    settings_form(entries)
    if st.button("Start training", key="train_start", type="primary", icon=":material/play_arrow:",
                 width="stretch"):
        start_job(config_from_form(), init_from=state.get("train_init") or None)
    if registry.running is not None:
        st.caption("A run is in progress; Start is refused until it ends or is stopped.")
    else:
        st.caption(f"Models are saved in `{folder}`.")

problem = store.folder_problem(folder)
if problem:
    st.error(f"Trained models cannot be saved: {problem}. Set DIGITLIB_MODELS to a writable folder.",
             icon=":material/folder_off:")

message = state.pop("train_message", None)
if message:
    kind, text = message
    {"error": st.error, "success": st.success, "info": st.info}[kind](text)

st.subheader("Training")
job = registry.latest
if job is None:
    state["train_shown_job"] = None
    st.info("No run yet on this server. Pick settings above and press **Start training**.")
    st.fragment(idle_watch, run_every=IDLE_CHECK_S)()
else:
    state["train_shown_job"] = job.id
    snap = job.snapshot()
    if snap.active:
        st.fragment(live_view, run_every=REFRESH_S)()
    else:
        if snap.status == jobs.FAILED:
            st.error(f"Training failed: {snap.error}", icon=":material/error:")
            if snap.error_detail:
                with st.expander("Details"):
                    st.code(snap.error_detail, language=None)
            if snap.checkpoint.exists():
                st.info(f"The last good checkpoint is untouched: `{snap.checkpoint}`.")
        draw_job(snap, live=False)
        if snap.cfg.extra_data and snap.status != jobs.FAILED and snap.checkpoint.exists():
            before_after(snap)
        st.fragment(idle_watch, run_every=IDLE_CHECK_S)()

# Results: the model picked with Inspect, else the last run's checkpoint once it ended.
inspect = state.get("train_inspect")
if inspect is None and job is not None and not job.active and job.status != jobs.FAILED and job.checkpoint.exists():
    inspect = str(job.checkpoint)
if inspect is not None:
    entry = store.read_entry(inspect)
    st.subheader(f"Results: {entry.label}")
    if entry.usable:
        show_report(entry)
    else:
        st.error(f"Cannot test this model: {entry.error}")

st.subheader("Models")
models_section(entries)
