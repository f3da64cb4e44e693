"""Checkpoints survive faults: SIGKILL in the middle of saving, a full disk, a read-only folder.

``save_checkpoint`` writes a temporary file, fsyncs it and renames it over the old one, so
the "last good" checkpoint is always complete and always there. These tests try to prove
it wrong: a process that saves training-sized checkpoints in a loop is SIGKILLed at random
moments, many times, and after every kill the file must exist and load; a disk that is
full (real ENOSPC, from /dev/full) or a folder that refuses writes must give a clear error
and leave the old file exactly as it was. (The malicious-pickle test is in test_checkpoint.py.)
"""

from __future__ import annotations

import errno
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from digitlib import files, store
from digitlib.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from digitlib.jobs import FAILED, JobRegistry, describe_error
from digitlib.model import SeedNet

ROOT = Path(__file__).resolve().parent.parent
KILLS = 30
KILL_BUDGET_S = 25.0  # the kill loop stops here even if it has not done all its kills

# A process that imports torch once, then forks savers on demand: each saver writes
# checkpoints of a DigitNet with its AdamW state (the size and shape of a real training
# checkpoint) to one path, as fast as it can, and says "saved N" after each one is in
# place. The parent kills savers with SIGKILL; the server reaps them and says so, after
# every line the saver wrote (the order of the pipe).
SAVER_SERVER = r"""
import os, sys
import torch
from digitlib.checkpoint import save_checkpoint
from digitlib.model import build_model

path = sys.argv[1]
torch.manual_seed(0)
model = build_model("digitnet")
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
model(torch.randn(2, 1, 28, 28)).sum().backward()
opt.step()

def payload(step):
    return {"format": "digitlib-checkpoint", "format_version": 1, "arch": "digitnet",
            "model_state": model.state_dict(), "normalization": {"mean": 0.1307, "std": 0.3081},
            "step": step, "finished": False,
            "training_state": {"optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
                               "epoch": 1, "epoch_step": step}}

print("ready", flush=True)
for line in sys.stdin:
    command, arg = line.split()
    if command == "fork":
        pid = os.fork()
        if pid == 0:
            step = int(arg)
            while True:
                step += 1
                save_checkpoint(payload(step), path)
                os.write(1, f"saved {step}\n".encode())
        print(f"pid {pid}", flush=True)
    elif command == "reap":
        os.waitpid(int(arg), 0)
        print(f"reaped {arg}", flush=True)
"""


class SaverServer:
    def __init__(self, path: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SAVER_SERVER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env=env, bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.expect("ready", timeout=60) == []

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def send(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str, timeout: float = 10.0) -> list[str]:
        """Lines up to the one that starts with ``prefix`` (returned without it); that line is
        kept in ``last``."""
        seen, end = [], time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, end - time.monotonic()))
            if line.startswith(prefix):
                self.last = line
                return seen
            seen.append(line)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_sigkill_during_saves_never_loses_the_last_good_checkpoint(tmp_path):
    path = tmp_path / "models" / "run.pt"
    save_checkpoint({"format": "digitlib-checkpoint", "format_version": 1, "arch": "seednet",
                     "model_state": SeedNet().state_dict(), "step": 0}, path)
    good = 0
    rng = random.Random(7)
    server = SaverServer(path)
    kills = mid_write = 0
    temps: set[str] = set()  # temporary files left by earlier kills
    start = time.monotonic()
    try:
        while kills < KILLS and time.monotonic() - start < KILL_BUDGET_S:
            base = (kills + 1) * 1_000_000
            server.send(f"fork {base}")
            server.expect("pid")
            pid = int(server.last.split()[1])
            time.sleep(rng.uniform(0.0, 0.25))  # any moment: mid-write, mid-fsync, mid-rename, between saves
            os.kill(pid, signal.SIGKILL)
            kills += 1
            server.send(f"reap {pid}")
            saved = [int(line.split()[1]) for line in server.expect(f"reaped {pid}") if line.startswith("saved")]

            assert path.is_file(), f"kill {kills}: the checkpoint is missing"
            payload = load_checkpoint(path)  # complete, valid, weights_only
            step = payload["step"]
            last = saved[-1] if saved else good
            # The file holds the last save that said it was done, or the one after it when the
            # kill came between its rename and its "saved" line; never anything older or broken.
            assert step in (last, (last if saved else base) + 1), (kills, step, saved[-3:], good)
            good = step
            left = {p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")}
            mid_write += bool(left - temps)  # this kill interrupted a save: its temporary file is left
            temps = left
    finally:
        server.close()
    print(f"\n{kills} kills, {mid_write} mid-write, last step {good}")
    assert kills >= 20, f"only {kills} kills in {KILL_BUDGET_S} s"
    # Most kills hit a save in progress (each one left its temporary file behind).
    assert mid_write >= kills // 3, (mid_write, kills)
    # The survivor is usable as a model, and the models listing shows it and nothing else
    # (stray temporary files are hidden, never listed as broken models).
    assert load_model(path).arch in ("digitnet", "seednet")
    entries = [e for e in store.list_models(path.parent) if not e.shipped]
    assert [(e.path, e.usable) for e in entries] == [(path, True)]


# --------------------------------------------------------------------------- full disk, read-only folder


def _valid() -> dict:
    return {"format": "digitlib-checkpoint", "format_version": 1, "arch": "seednet",
            "model_state": SeedNet().state_dict(), "step": 1}


def _tempfile_on(device: str | None = None, error: OSError | None = None):
    """A stand-in for the ``tempfile`` module in digitlib.checkpoint: ``mkstemp`` opens
    ``device`` (e.g. /dev/full, where every write fails with ENOSPC) or raises ``error``."""

    def mkstemp(prefix="", suffix="", dir=None):
        if error is not None:
            raise error
        return os.open(device, os.O_WRONLY), os.path.join(dir, f"{prefix}fake{suffix}")

    return types.SimpleNamespace(mkstemp=mkstemp)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_gives_enospc_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_checkpoint(_valid(), path)
    before = path.read_bytes()
    monkeypatch.setattr(files, "tempfile", _tempfile_on("/dev/full"))
    with pytest.raises(OSError) as info:
        save_checkpoint({**_valid(), "step": 2}, path)
    assert info.value.errno == errno.ENOSPC
    message = describe_error(info.value)
    assert "No space left on device" in message and "\n" not in message
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    assert load_checkpoint(path)["step"] == 1


@pytest.mark.parametrize("code,reason", [(errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission denied")])
def test_read_only_folder_gives_a_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch, code, reason):
    """Root ignores permissions, so the refusal is simulated at the point where the kernel gives it
    (creating the temporary file); test_read_only_folder_for_real does it with chmod when not root."""
    path = tmp_path / "models" / "m.pt"
    save_checkpoint(_valid(), path)
    before = path.read_bytes()
    monkeypatch.setattr(files, "tempfile", _tempfile_on(
        error=OSError(code, os.strerror(code), str(path.parent / ".m.pt.x.tmp"))))
    with pytest.raises(OSError) as info:
        save_checkpoint({**_valid(), "step": 2}, path)
    message = describe_error(info.value)
    assert reason in message and str(path.parent) in message, message
    assert path.read_bytes() == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_folder_for_real(tmp_path):
    folder = tmp_path / "models"
    path = folder / "m.pt"
    save_checkpoint(_valid(), path)
    before = path.read_bytes()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            save_checkpoint({**_valid(), "step": 2}, path)
        assert store.folder_problem(folder) is not None
        assert path.read_bytes() == before
    finally:
        folder.chmod(0o755)


def tiny_cfg(data_dir):
    from digitlib.presets import recipe

    cfg = recipe("seednet")
    cfg.epochs, cfg.limit, cfg.test_limit, cfg.log_every = 1, 640, 300, 2
    cfg.data_dir, cfg.download, cfg.device = str(data_dir), False, "cpu"
    return cfg


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_training_on_a_full_disk_fails_clearly_and_keeps_the_last_good_checkpoint(tmp_path, data_dir, monkeypatch):
    """The Train page's path: a job whose checkpoint cannot be written ends FAILED with a
    one-line message, and the checkpoint of the previous run at that path is untouched."""
    path = tmp_path / "run.pt"
    first = JobRegistry().start(tiny_cfg(data_dir), path)
    assert first.wait(60) and first.snapshot().status != FAILED, first.snapshot().error
    before = path.read_bytes()
    monkeypatch.setattr(files, "tempfile", _tempfile_on("/dev/full"))
    job = JobRegistry().start(tiny_cfg(data_dir), path)
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == FAILED
    assert "No space left on device" in snap.error and "\n" not in snap.error
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]
    load_checkpoint(path)


def test_a_checkpoint_cut_at_any_length_is_refused_with_one_line(tmp_path):
    """What a non-atomic writer would leave behind after a kill: every prefix of a real
    checkpoint is refused as truncated, never half-loaded."""
    path = tmp_path / "m.pt"
    save_checkpoint(_valid(), path)
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    for n in sorted({0, 1, 10, 100, 512, *range(1000, len(data), max(1, len(data) // 23)), len(data) - 1}):
        cut.write_bytes(data[:n])
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(cut)
        assert "\n" not in str(info.value)
