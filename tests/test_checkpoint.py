import pickle

import pytest
import torch

from digitlib.checkpoint import (SHIPPED_MODEL, CheckpointError, checkpoint_summary,
                                 load_model, save_checkpoint)
from digitlib.model import SeedNet


def _valid(arch="seednet", state=None):
    return {"format": "digitlib-checkpoint", "format_version": 1, "arch": arch,
            "model_state": state if state is not None else SeedNet().state_dict(),
            "normalization": {"mean": 0.1307, "std": 0.3081}}


def _one_line_error(path) -> str:
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_roundtrip(tmp_path):
    save_checkpoint(_valid(), tmp_path / "ok.pt")
    assert load_model(tmp_path / "ok.pt").arch == "seednet"
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def test_truncated(tmp_path):
    save_checkpoint(_valid(), tmp_path / "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in _one_line_error(tmp_path / "cut.pt")


def test_garbage_and_empty(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x89PNG not a checkpoint at all" * 10)
    assert "truncated or corrupt" in _one_line_error(tmp_path / "junk.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    assert "empty" in _one_line_error(tmp_path / "empty.pt")
    assert "does not exist" in _one_line_error(tmp_path / "missing.pt")


def test_plain_tensors_file_is_not_a_checkpoint(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    assert "not a digitlib checkpoint" in _one_line_error(tmp_path / "foreign.pt")


class Evil:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_malicious_pickle_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "evil.pt", "wb") as f:
        torch.save({"format": "digitlib-checkpoint", "payload": Evil()}, f)
    assert "refused" in _one_line_error(tmp_path / "evil.pt")
    assert not (tmp_path / "PWNED").exists()
    with open(tmp_path / "evil2.pt", "wb") as f:
        pickle.dump(Evil(), f)
    _one_line_error(tmp_path / "evil2.pt")
    assert not (tmp_path / "PWNED").exists()


def test_wrong_architecture(tmp_path):
    save_checkpoint(_valid(arch="digitnet", state=SeedNet().state_dict()), tmp_path / "wrong.pt")
    assert "do not fit architecture 'digitnet'" in _one_line_error(tmp_path / "wrong.pt")
    save_checkpoint(_valid(arch="vgg"), tmp_path / "unknown.pt")
    assert "unknown architecture" in _one_line_error(tmp_path / "unknown.pt")


def test_failed_save_keeps_the_old_file(tmp_path):
    save_checkpoint(_valid(), tmp_path / "m.pt")
    before = (tmp_path / "m.pt").read_bytes()
    with pytest.raises(Exception):
        save_checkpoint({"bad": lambda: 0}, tmp_path / "m.pt")  # lambdas cannot be pickled
    assert (tmp_path / "m.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_shipped_model_is_small_and_documented():
    assert SHIPPED_MODEL.is_file() and SHIPPED_MODEL.stat().st_size <= 5 * 1024 * 1024
    meta = checkpoint_summary(SHIPPED_MODEL)
    assert meta["arch"] == "digitnet" and meta["finished"]
    # Trained on digits cut from photos and on "not one digit" pieces as well as MNIST, and still
    # above 99.6 % on MNIST test (issue 17, item 3).
    assert meta["test_accuracy"] >= 0.996
    assert meta["train_args"]["limit"] in (None, 60_000)  # trained on the full training split
    for key in ("created", "digitlib_version", "normalization", "epochs_done", "train_args"):
        assert key in meta
