"""Training jobs that outlive the page that started them.

A ``JobRegistry`` runs at most one training at a time, in a worker thread that
only calls ``digitlib.training.train`` and records its events; it never touches
a UI. Any number of viewers (browser tabs, reruns of a Streamlit page) read the
same ``Job`` through thread-safe snapshots. The Streamlit app holds one registry
per server process (``pages/ui/jobs.py``).

    registry = JobRegistry()
    job = registry.start(cfg, "models/run.pt")      # JobRunning if one is running
    snap = job.snapshot()                           # status, steps, epochs, progress
    job.stop()                                      # ends after the current step
    registry.start(cfg, "models/run.pt", resume="models/run.pt")   # continue it
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .checkpoint import CheckpointError, load_checkpoint
from .data import DataUnavailableError
from .model import arch_label
from .training import EpochEvent, StepEvent, TrainConfig, TrainResult, train

RUNNING, STOPPING, FINISHED, STOPPED, FAILED = "running", "stopping", "finished", "stopped", "failed"
ACTIVE = (RUNNING, STOPPING)


class JobRunning(RuntimeError):
    """Raised by ``JobRegistry.start`` while another job runs; ``job`` is that one."""

    def __init__(self, job: "Job") -> None:
        arch = arch_label(job.cfg.arch)
        started = time.strftime("%H:%M:%S", time.localtime(job.started_at))
        super().__init__(
            f"a training run is already in progress ({arch}, started {started}, writing {job.out.name}); "
            "stop it or wait for it to finish before starting another"
        )
        self.job = job


@dataclass
class Progress:
    fraction: float  # 0..1 of all optimizer steps
    epoch: int  # the epoch in progress (1-based), or the last one when done
    epochs: int
    step: int
    total_steps: int
    eta_s: float | None  # estimated seconds left; None until there is a rate to go by


@dataclass
class JobSnapshot:
    """A consistent copy of a job's state, safe to use without locks."""

    id: int
    status: str
    phase: str  # what the worker is doing, in words
    cfg: TrainConfig
    checkpoint: Path
    resumed_from: Path | None
    init_from: Path | None
    steps: list[dict[str, Any]]  # StepEvent dicts, history of resumed runs included
    epochs: list[dict[str, Any]]  # EpochEvent dicts, likewise
    error: str | None
    error_detail: str | None  # traceback, for a details expander
    started_at: float
    ended_at: float | None
    progress: Progress
    result_step: int | None = None
    resumed_at_step: int | None = None  # the step the resumed checkpoint had reached

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def step(self) -> int:
        return self.progress.step


TrainFn = Callable[..., TrainResult]


class Job:
    """One training run in a worker thread. Create through ``JobRegistry.start``."""

    def __init__(
        self,
        job_id: int,
        cfg: TrainConfig,
        out: Path,
        resume: Path | None,
        init_from: Path | None,
        train_fn: TrainFn,
    ) -> None:
        self.id = job_id
        self.cfg = dataclasses.replace(cfg)
        self.out = out
        self.resume = resume
        self.init_from = init_from
        self._train_fn = train_fn
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._status = RUNNING
        self._phase = "starting"
        self._steps: list[dict[str, Any]] = []
        self._epochs: list[dict[str, Any]] = []
        self._error: str | None = None
        self._error_detail: str | None = None
        self._result: TrainResult | None = None
        self._resumed_at_step: int | None = None
        self._rate: tuple[float, int] | None = None  # (time, step) of this job's first step event
        self._last_event_at: float | None = None
        self.started_at = time.time()
        self.ended_at: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"digitlib-train-{job_id}", daemon=True)

    # -- control ---------------------------------------------------------------

    def stop(self) -> None:
        """Ask the run to end after the current step; it then saves a resumable checkpoint."""
        with self._lock:
            if self._status == RUNNING:
                self._status = STOPPING
                self._phase = "stopping after the current step"
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker ends; True if it did within ``timeout``."""
        return self._done.wait(timeout)

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def error(self) -> str | None:
        with self._lock:
            return self._error

    @property
    def checkpoint(self) -> Path:
        return self.out

    @property
    def result(self) -> TrainResult | None:
        with self._lock:
            return self._result

    # -- reading ---------------------------------------------------------------

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            steps, epochs = list(self._steps), list(self._epochs)
            return JobSnapshot(
                id=self.id, status=self._status, phase=self._phase, cfg=dataclasses.replace(self.cfg),
                checkpoint=self.out, resumed_from=self.resume, init_from=self.init_from,
                steps=steps, epochs=epochs, error=self._error, error_detail=self._error_detail,
                started_at=self.started_at, ended_at=self.ended_at, progress=self._progress_locked(),
                result_step=self._result.step if self._result else None,
                resumed_at_step=self._resumed_at_step,
            )

    def progress(self) -> Progress:
        with self._lock:
            return self._progress_locked()

    def _progress_locked(self) -> Progress:
        epochs = self.cfg.epochs
        if not self._steps:
            return Progress(0.0, 1, epochs, 0, 0, None)
        last = self._steps[-1]
        step, total = last["step"], max(1, last["total_steps"])
        epoch = last["epoch"]
        if self._epochs and self._epochs[-1]["step"] >= step:  # the epoch's test pass is done
            epoch = min(epochs, self._epochs[-1]["epoch"] + (0 if step >= total else 1))
        eta = None
        if self._status in ACTIVE and self._rate is not None and self._last_event_at is not None:
            t0, s0 = self._rate
            if step > s0 and self._last_event_at > t0:
                per_step = (self._last_event_at - t0) / (step - s0)
                eta = max(0.0, (total - step) * per_step - (time.time() - self._last_event_at))
            elif last.get("images_per_s"):
                eta = (total - step) * self.cfg.batch_size / last["images_per_s"]
        elif self._status not in ACTIVE:
            eta = 0.0 if self._status == FINISHED else None
        fraction = 1.0 if self._status == FINISHED else min(1.0, step / total)
        return Progress(fraction, epoch, epochs, step, total, eta)

    # -- the worker ---------------------------------------------------------------

    def _on_event(self, event: StepEvent | EpochEvent) -> None:
        now = time.time()
        record = dataclasses.asdict(event)
        with self._lock:
            if isinstance(event, StepEvent):
                self._steps.append(record)
                if self._rate is None:
                    self._rate = (now, event.step)
                self._last_event_at = now
                if self._status == RUNNING:
                    last_of_epoch = event.epoch_step == event.steps_per_epoch
                    self._phase = f"testing epoch {event.epoch}" if last_of_epoch else "training"
            else:
                self._epochs.append(record)
                if self._status == RUNNING:
                    self._phase = "training"

    def _run(self) -> None:
        try:
            if self.resume is not None:
                self._load_history(self.resume)
            with self._lock:
                if self._status == RUNNING:
                    self._phase = "loading MNIST and building the model"
            result = self._train_fn(
                self.cfg, self.out, on_event=self._on_event, stop=self._stop,
                resume=self.resume, init_from=self.init_from,
            )
        except BaseException as exc:  # noqa: BLE001 - the page shows whatever went wrong
            with self._lock:
                self._status = FAILED
                self._phase = "failed"
                self._error = describe_error(exc)
                self._error_detail = traceback.format_exc()
                self.ended_at = time.time()
        else:
            with self._lock:
                self._result = result
                self._status = STOPPED if result.stopped else FINISHED
                self._phase = "stopped" if result.stopped else "finished"
                self.ended_at = time.time()
        finally:
            self._done.set()

    def _load_history(self, path: Path) -> None:
        """Put the resumed run's curves in place first, so viewers see them continue."""
        state = load_checkpoint(path)
        saved = TrainConfig.from_dict(state.get("train_args") or {})
        history = state.get("history") or {}
        with self._lock:
            # ``train`` takes its settings from the checkpoint; show those, not the form's.
            saved.data_dir, saved.download = self.cfg.data_dir, self.cfg.download
            self.cfg = saved
            self._resumed_at_step = int(state.get("step") or 0)
            self._steps = list(history.get("steps") or [])
            self._epochs = list(history.get("epochs") or [])


def describe_error(exc: BaseException) -> str:
    """A one-paragraph message for the user: our own errors as they are, others with their type."""
    if isinstance(exc, (DataUnavailableError, CheckpointError)):
        return str(exc)
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        reason = exc.strerror or str(exc)
        return f"could not write or read a file ({type(exc).__name__}: {reason}{where})"
    text = str(exc).strip() or "(no message)"
    return f"training crashed: {type(exc).__name__}: {text}"


class JobRegistry:
    """At most one running job per registry (hold one per server process).

    ``train_fn`` replaces ``digitlib.training.train`` for the jobs started from then on
    (tests slow training down or inject faults with it; it is a plain attribute).
    """

    def __init__(self, train_fn: TrainFn | None = None) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._jobs: list[Job] = []
        self.train_fn: TrainFn = train_fn or train

    def start(
        self,
        cfg: TrainConfig,
        out: str | os.PathLike,
        resume: str | os.PathLike | None = None,
        init_from: str | os.PathLike | None = None,
    ) -> Job:
        """Start a run in a worker thread; raises JobRunning if one is running or stopping."""
        with self._lock:
            running = self._running_locked()
            if running is not None:
                raise JobRunning(running)
            job = Job(
                next(self._ids), cfg, Path(out), Path(resume) if resume else None,
                Path(init_from) if init_from else None, self.train_fn,
            )
            self._jobs.append(job)
            job._thread.start()
            return job

    def _running_locked(self) -> Job | None:
        for job in reversed(self._jobs):
            if job.active:
                return job
        return None

    @property
    def running(self) -> Job | None:
        """The job now running or stopping, if any."""
        with self._lock:
            return self._running_locked()

    @property
    def latest(self) -> Job | None:
        """The most recently started job, running or not."""
        with self._lock:
            return self._jobs[-1] if self._jobs else None

    @property
    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs if j.id == job_id), None)

    def is_busy_with(self, path: str | os.PathLike) -> bool:
        """True if the running job writes ``path`` (so it must not be deleted or resumed now)."""
        job = self.running
        if job is None:
            return False
        try:
            return Path(path).resolve() == job.out.resolve()
        except OSError:
            return False

    def stop_all(self, timeout: float | None = None) -> None:
        """Stop the running job, if any, and wait for it (for tests and shutdown)."""
        job = self.running
        if job is not None:
            job.stop()
            job.wait(timeout)


__all__ = [
    "ACTIVE",
    "FAILED",
    "FINISHED",
    "Job",
    "JobRegistry",
    "JobRunning",
    "JobSnapshot",
    "Progress",
    "RUNNING",
    "STOPPED",
    "STOPPING",
    "describe_error",
]
