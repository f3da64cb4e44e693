"""The Train page: pick a preset and settings, train while watching the curves, stop/resume,
inspect, compare runs, use a model on Recognize.

Training runs in a worker thread owned by a server-wide ``JobRegistry``
(``pages/ui/jobs.server_registry``, held in ``st.cache_resource``); this
script only starts jobs and draws snapshots of them. While a job runs, a
fragment redraws the live view every second; reloading the page, switching
pages or opening a second tab shows the same job.

"Include my digits" fine-tunes the active model on MNIST plus the personal set of
corrected digits (``digitlib.personal``, oversampled by ``TrainConfig.extra_data``);
after such a run the page shows accuracy before and after, on MNIST test and on the
held-out part of the personal set.

The sidebar form is ``pages/ui/train_settings.py``, the results, models table and run
comparison ``pages/ui/train_results.py``, the charts ``pages/ui/train_charts.py``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from digitlib import jobs, store
from digitlib.model import arch_label
from digitlib.training import TrainConfig
from pages.ui import train_charts as charts
from pages.ui import train_results as results
from pages.ui.jobs import server_registry
from pages.ui.navigation import ensure_app_navigation
from pages.ui.train_settings import config_from_form, plural, say, settings_form

REFRESH_S = 1.0  # live view redraw interval while a job runs
IDLE_CHECK_S = 3.0  # how often an idle page looks for a job started elsewhere (another tab)
STATUS_TEXT = {
    jobs.RUNNING: ":material/play_circle: Training",
    jobs.STOPPING: ":material/pause_circle: Stopping after the current step",
    jobs.FINISHED: ":material/check_circle: Finished",
    jobs.STOPPED: ":material/stop_circle: Stopped (resumable)",
    jobs.FAILED: ":material/error: Failed",
}

ensure_app_navigation()
state = st.session_state


def registry() -> jobs.JobRegistry:
    return server_registry()


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


# --------------------------------------------------------------------------- starting and resuming


def start_job(cfg: TrainConfig, out: Path | None = None, resume: Path | None = None, init_from: str | None = None) -> None:
    running = registry().running
    if running is not None:
        say("error", f"Not started: {jobs.JobRunning(running)}. Its live view is below.")
        return
    try:
        out = out or store.new_run_path(cfg.arch)
    except OSError as exc:
        say("error", f"Not started: the models folder cannot be used ({exc}).")
        return
    try:
        registry().start(cfg, out, resume=resume, init_from=init_from)
    except jobs.JobRunning as exc:
        say("error", f"Not started: {exc}. Its live view is below.")
        return
    state.pop("train_inspect", None)


def resume_job(path: Path) -> None:
    if registry().is_busy_with(path):
        say("error", "That run is training right now.")
        return
    cfg = config_from_form()  # only the data folder is used: the rest comes from the checkpoint
    start_job(cfg, out=path, resume=path)


def stop_running() -> None:
    job = registry().running
    if job is not None:
        job.stop()


# --------------------------------------------------------------------------- the live view


def job_header(snap: jobs.JobSnapshot, live: bool) -> None:
    """What the run is, and its Stop or Resume button."""
    cfg = snap.cfg
    head, button = st.columns([5, 1], vertical_alignment="center")
    with head:
        resumed = f" · resumed at step {snap.resumed_at_step:,}" if snap.resumed_at_step is not None else ""
        st.markdown(
            f"**{STATUS_TEXT[snap.status]}** · {arch_label(cfg.arch)}, {plural(cfg.epochs, 'epoch')}, "
            f"batch {cfg.batch_size}, lr {cfg.lr:g}, {cfg.optimizer}"
            f"{'' if cfg.augment == 'none' else f', {cfg.augment} augmentation'}"
            f"{', with my digits' if cfg.extra_data else ''} · `{snap.checkpoint.name}`{resumed}"
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


def draw_job(snap: jobs.JobSnapshot, live: bool) -> None:
    """The job's whole view; same elements in the same order every time, so redraws don't jump."""
    p = snap.progress
    total = p.total_steps or (snap.steps[-1]["total_steps"] if snap.steps else 0)
    job_header(snap, live)
    if snap.status == jobs.FAILED and not snap.steps:
        return  # it failed before its first step: there is nothing to chart
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
    m[1].metric("Training loss", f"{charts.smooth([s['train_loss'] for s in snap.steps])[-1]:.4f}" if last else "–",
                help="Smoothed over the last few reports.")
    m[2].metric("Test accuracy", f"{last_epoch['test_accuracy']:.2%}" if last_epoch else "–",
                help="After the last finished epoch.")
    m[3].metric("Learning rate", f"{last['lr']:.2e}" if last else "–")
    m[4].metric("Images / s", f"{last['images_per_s']:,.0f}" if last else "–")

    st.altair_chart(charts.loss_chart(snap.steps, total), key="train_chart_loss", width="stretch")
    e1, e2 = st.columns(2)
    loss_e, acc_e = charts.epoch_charts(snap.epochs, snap.cfg.epochs)
    e1.altair_chart(loss_e, key="train_chart_epoch_loss", width="stretch")
    e2.altair_chart(acc_e, key="train_chart_accuracy", width="stretch")
    s1, s2 = st.columns(2)
    s1.altair_chart(charts.small_step_chart(snap.steps, total, "lr", "Learning rate", ".1e"),
                    key="train_chart_lr", width="stretch")
    s2.altair_chart(charts.small_step_chart(snap.steps, total, "images_per_s", "Images per second", ",.0f"),
                    key="train_chart_speed", width="stretch")


def live_view() -> None:
    """Redrawn every REFRESH_S while a job runs; one full rerun when it ends."""
    job = registry().latest
    if job is None:
        return
    snap = job.snapshot()
    if not snap.active:
        st.rerun()  # the job ended: redraw the whole page (results, models list)
    draw_job(snap, live=True)


def idle_watch() -> None:
    """Cheap check on an idle page: did another tab start a job?"""
    latest = registry().latest
    if latest is not None and latest.id != state.get("train_shown_job") and latest.active:
        st.rerun()


def training_section() -> jobs.Job | None:
    """The latest run, live while it trains; the empty state before any."""
    st.subheader("Training")
    job = registry().latest
    if job is None:
        state["train_shown_job"] = None
        st.info("No run yet on this server. Pick a preset and settings in the sidebar (on a phone, open it "
                "with the » at the top left), then press **Start training**.")
        st.fragment(idle_watch, run_every=IDLE_CHECK_S)()
        return None
    state["train_shown_job"] = job.id
    snap = job.snapshot()
    if snap.active:
        st.fragment(live_view, run_every=REFRESH_S)()
        return job
    if snap.status == jobs.FAILED:
        st.error(f"Training failed: {snap.error}", icon=":material/error:")
        if snap.error_detail:
            with st.expander("Details"):
                st.code(snap.error_detail, language=None)
        if snap.checkpoint.exists():
            st.info(f"The last good checkpoint is untouched: `{snap.checkpoint}`.")
    draw_job(snap, live=False)
    if snap.cfg.extra_data and snap.status != jobs.FAILED and snap.checkpoint.exists():
        results.before_after(snap)
    st.fragment(idle_watch, run_every=IDLE_CHECK_S)()
    return job


# --------------------------------------------------------------------------- the page


def main() -> None:
    st.title("Train a digit model")
    st.caption(
        "Train a CNN on the 60,000 MNIST digits and watch it learn: the *quick* preset reaches 99 % in "
        "seconds. Training keeps running if you switch pages or close the tab; one run at a time per server."
    )
    folder = store.models_dir()
    entries = store.list_models(folder)

    with st.sidebar:
        st.header("Training settings")
        settings_form(entries)
        if st.button("Start training", key="train_start", type="primary", icon=":material/play_arrow:",
                     width="stretch"):
            start_job(config_from_form(), init_from=state.get("train_init") or None)
        if registry().running is not None:
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

    job = training_section()

    # Results: the model picked with Inspect, else the last run's checkpoint once it ended.
    inspect = state.get("train_inspect")
    if inspect is None and job is not None and not job.active and job.status != jobs.FAILED and job.checkpoint.exists():
        inspect = str(job.checkpoint)
    if inspect is not None:
        entry = store.read_entry(inspect)
        st.subheader(f"Results: {entry.label}")
        if entry.usable:
            results.show_report(entry)
        else:
            st.error(f"Cannot test this model: {entry.error}")

    st.subheader("Models")
    results.models_section(entries, registry(), resume_job)
    st.subheader("Compare runs")
    results.compare_section(entries)


main()
