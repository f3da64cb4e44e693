"""The training job registry on its own: one job at a time, events, stop/resume, faults."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support import slowed_train
from digitlib.checkpoint import load_checkpoint
from digitlib.jobs import FAILED, FINISHED, RUNNING, STOPPED, JobRegistry, JobRunning
from digitlib.presets import recipe
from digitlib.training import TrainResult, TrainConfig, train


def tiny_cfg(data_dir, **changes) -> TrainConfig:
    """SeedNet on 640 images, 10 steps an epoch, logged every 2 steps: well under a second."""
    cfg = recipe("seednet")
    cfg.epochs, cfg.limit, cfg.test_limit, cfg.log_every = 1, 640, 300, 2
    cfg.data_dir, cfg.download, cfg.device = str(data_dir), False, "cpu"
    for k, v in changes.items():
        setattr(cfg, k, v)
    return cfg




def blocking_train(release: threading.Event):
    def run(cfg, out, on_event=None, stop=None, resume=None, init_from=None):
        release.wait(10)
        return TrainResult(checkpoint=out, stopped=False, epochs_done=1, step=0, test_accuracy=None)

    return run


def wait_until(predicate, timeout=30.0, every=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


def test_concurrent_starts_yield_exactly_one_job(tmp_path):
    for attempt in range(25):
        release = threading.Event()
        registry = JobRegistry(train_fn=blocking_train(release))
        barrier = threading.Barrier(2)
        started, refused = [], []

        def attempt_start(i):
            barrier.wait()
            try:
                started.append(registry.start(TrainConfig(), tmp_path / f"{attempt}-{i}.pt"))
            except JobRunning as exc:
                refused.append(exc)

        threads = [threading.Thread(target=attempt_start, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        assert len(started) == 1 and len(refused) == 1, (started, refused)
        assert refused[0].job is started[0]
        assert registry.running is started[0] and len(registry.jobs) == 1
        release.set()
        assert started[0].wait(5) and started[0].status == FINISHED
        assert registry.running is None


def test_a_second_start_is_refused_until_the_first_ends(tmp_path):
    release = threading.Event()
    registry = JobRegistry(train_fn=blocking_train(release))
    first = registry.start(TrainConfig(arch="seednet"), tmp_path / "a.pt")
    with pytest.raises(JobRunning, match="already in progress") as info:
        registry.start(TrainConfig(), tmp_path / "b.pt")
    assert info.value.job is first and first.status == RUNNING
    release.set()
    first.wait(5)
    second = registry.start(TrainConfig(), tmp_path / "b.pt")  # allowed once the first ended
    assert registry.latest is second
    second.wait(5)


def test_tiny_run_records_events_and_finishes(tmp_path, data_dir):
    registry = JobRegistry()
    out = tmp_path / "run.pt"
    job = registry.start(tiny_cfg(data_dir), out)
    assert job.wait(60), "the tiny run did not finish"
    snap = job.snapshot()
    assert snap.status == FINISHED, snap.error
    assert [s["step"] for s in snap.steps] == [2, 4, 6, 8, 10]
    assert len(snap.epochs) == 1 and 0.0 <= snap.epochs[0]["test_accuracy"] <= 1.0
    assert snap.progress.fraction == 1.0 and snap.progress.step == snap.progress.total_steps == 10
    assert snap.error is None and snap.ended_at is not None
    payload = load_checkpoint(out)
    assert payload["finished"] and payload["step"] == 10
    # Snapshots are copies: changing one leaves the job alone.
    snap.steps.clear()
    assert len(job.snapshot().steps) == 5


def test_stop_then_resume_continues_the_step_count(tmp_path, data_dir):
    registry = JobRegistry(train_fn=slowed_train(0.15))
    out = tmp_path / "run.pt"
    cfg = tiny_cfg(data_dir, epochs=2, limit=1280)  # 20 steps an epoch, 40 in all
    job = registry.start(cfg, out)
    assert wait_until(lambda: len(job.snapshot().steps) >= 2)
    job.stop()
    assert job.status in ("stopping", STOPPED)
    assert job.wait(30)
    snap = job.snapshot()
    assert snap.status == STOPPED, snap.error
    stopped_at = snap.steps[-1]["step"]
    assert 4 <= stopped_at < 40
    state = load_checkpoint(out)
    assert state["training_state"] is not None and state["step"] >= stopped_at

    resumed = JobRegistry(train_fn=slowed_train(0.0)).start(cfg, out, resume=out)
    # The resumed job shows the old curve first, then continues it.
    assert resumed.wait(60)
    rsnap = resumed.snapshot()
    assert rsnap.status == FINISHED, rsnap.error
    steps = [s["step"] for s in rsnap.steps]
    assert steps[: len(snap.steps)] == [s["step"] for s in snap.steps]
    assert steps == sorted(steps) and steps[-1] == 40 and len(set(steps)) == len(steps)
    assert [e["epoch"] for e in rsnap.epochs] == [1, 2]
    assert rsnap.resumed_from == out and rsnap.cfg.epochs == 2


def test_crash_inside_training_is_reported_and_the_last_checkpoint_survives(tmp_path, data_dir):
    out = tmp_path / "run.pt"
    cfg = tiny_cfg(data_dir, epochs=3)

    def crashing(cfg, out, on_event=None, stop=None, resume=None, init_from=None):
        def boom(event):
            on_event(event)
            if event.step > 10:  # in epoch 2, after epoch 1's checkpoint was written
                raise RuntimeError("simulated fault in the training loop")

        return train(cfg, out, on_event=boom, stop=stop, resume=resume, init_from=init_from)

    job = JobRegistry(train_fn=crashing).start(cfg, out)
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == FAILED
    assert snap.error == "training crashed: RuntimeError: simulated fault in the training loop"
    assert "Traceback" in snap.error_detail
    state = load_checkpoint(out)  # intact and resumable, from the end of epoch 1
    assert state["step"] == 10 and state["training_state"] is not None
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_missing_mnist_fails_with_the_data_message(tmp_path):
    cfg = tiny_cfg(tmp_path / "no-data")
    job = JobRegistry().start(cfg, tmp_path / "run.pt")
    assert job.wait(30)
    snap = job.snapshot()
    assert snap.status == FAILED
    assert "MNIST not found in" in snap.error and str(tmp_path / "no-data") in snap.error
    assert "train-images-idx3-ubyte" in snap.error


def test_unwritable_checkpoint_folder_is_reported(tmp_path, data_dir):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    job = JobRegistry().start(tiny_cfg(data_dir), blocker / "models" / "run.pt")
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == FAILED
    assert "could not write or read a file" in snap.error and str(blocker) in snap.error


def test_resume_of_an_unreadable_checkpoint_fails_cleanly(tmp_path, data_dir):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    job = JobRegistry().start(tiny_cfg(data_dir), bad, resume=bad)
    assert job.wait(30)
    snap = job.snapshot()
    assert snap.status == FAILED and snap.error.startswith(f"checkpoint {bad}")
    assert bad.read_bytes() == b"garbage"
