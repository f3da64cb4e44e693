"""The models folder: where it is, the listing, deleting, fresh names, inspecting a model."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from digitlib import evaluation, store
from digitlib.checkpoint import SHIPPED_MODEL, load_checkpoint, save_checkpoint
from digitlib.presets import recipe
from digitlib.training import train


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, data_dir) -> Path:
    """A SeedNet trained on 640 images for one epoch (a second or two)."""
    cfg = recipe("seednet")
    cfg.epochs, cfg.limit, cfg.test_limit, cfg.log_every = 1, 640, 300, 5
    cfg.data_dir, cfg.download, cfg.device = str(data_dir), False, "cpu"
    out = tmp_path_factory.mktemp("tiny") / "seednet-tiny.pt"
    train(cfg, out)
    return out


def with_created(src: Path, dst: Path, created: str, **changes) -> Path:
    payload = torch.load(src, map_location="cpu", weights_only=True)
    payload["created"] = created
    payload.update(changes)
    return save_checkpoint(payload, dst)


def test_models_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITLIB_MODELS", str(tmp_path / "m"))
    assert store.models_dir() == tmp_path / "m"
    monkeypatch.delenv("DIGITLIB_MODELS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert store.models_dir() == tmp_path / "xdg" / "digitlib" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.models_dir() == tmp_path / "home" / ".local" / "share" / "digitlib" / "models"


def test_listing_puts_the_shipped_model_first_then_newest_first(tmp_path, tiny_model):
    old = with_created(tiny_model, tmp_path / "old.pt", "2024-01-01T10:00:00+00:00")
    new = with_created(tiny_model, tmp_path / "new.pt", "2025-06-01T10:00:00+00:00", finished=False)
    (tmp_path / "notes.txt").write_text("ignored")
    entries = store.list_models(tmp_path)
    assert entries[0].shipped and entries[0].path == SHIPPED_MODEL and entries[0].name == "shipped"
    assert [e.path for e in entries[1:]] == [new, old]
    e_new, e_old = entries[1], entries[2]
    assert e_old.arch == "seednet" and e_old.arch_label == "SeedNet"
    assert e_old.epochs == 1.0 and 0.0 <= e_old.test_accuracy <= 1.0
    assert e_old.created == dt.datetime(2024, 1, 1, 10, tzinfo=dt.timezone.utc)
    assert e_old.size_bytes == old.stat().st_size and e_old.finished and not e_old.shipped
    assert not e_new.finished and e_new.resumable and not e_old.resumable
    assert "unfinished" in e_new.label and "SeedNet" in e_old.label


def test_broken_files_are_listed_with_a_reason_not_raised(tmp_path, tiny_model):
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "garbage.pt").write_bytes(b"\x00not a checkpoint" * 10)
    (tmp_path / "truncated.pt").write_bytes(tiny_model.read_bytes()[:2000])
    torch.save({"hello": 1}, tmp_path / "foreign.pt")
    shutil.copy(tiny_model, tmp_path / "good.pt")
    entries = {e.name: e for e in store.list_models(tmp_path)}
    assert entries["good"].usable
    assert "is empty" in entries["empty"].error
    assert entries["garbage"].error.startswith(f"checkpoint {tmp_path / 'garbage.pt'}")
    assert "truncated or corrupt" in entries["truncated"].error
    assert "not a digitlib checkpoint" in entries["foreign"].error
    for name in ("empty", "garbage", "truncated", "foreign"):
        assert not entries[name].usable and not entries[name].resumable and "unreadable" in entries[name].label


def test_a_missing_or_unreadable_folder_lists_just_the_shipped_model(tmp_path):
    entries = store.list_models(tmp_path / "does-not-exist")
    assert len(entries) == 1 and entries[0].shipped
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert len(store.list_models(blocker)) == 1


def test_the_shipped_model_cannot_be_deleted(tmp_path, tiny_model):
    with pytest.raises(ValueError, match="shipped model cannot be deleted"):
        store.delete_model(SHIPPED_MODEL)
    with pytest.raises(ValueError, match="shipped"):
        store.delete_model(None)
    victim = shutil.copy(tiny_model, tmp_path / "victim.pt")
    assert any(e.path == Path(victim) for e in store.list_models(tmp_path))
    store.delete_model(victim)
    assert not Path(victim).exists()
    assert all(e.path != Path(victim) for e in store.list_models(tmp_path))
    with pytest.raises(ValueError, match="not a model file"):
        store.delete_model(tmp_path / "readme.txt")


def test_new_run_path_is_fresh_and_creates_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLIB_MODELS", str(tmp_path / "models"))
    a = store.new_run_path("DigitNet")
    assert a.parent == tmp_path / "models" and a.parent.is_dir()
    assert a.name.startswith("digitnet-") and a.suffix == ".pt"
    a.write_bytes(b"taken")
    b = store.new_run_path("digitnet")
    assert b != a and not b.exists()


def test_an_unusable_models_folder_raises_oserror_with_the_path(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OSError) as info:
        store.new_run_path("seednet", blocker / "models")
    assert "a-file" in str(info.value)
    assert store.folder_problem(blocker / "models") is not None
    assert store.folder_problem(tmp_path / "fresh" / "models") is None


def test_evaluate_checkpoint_reports_accuracy_confusion_and_mistakes(tiny_model, data_dir):
    report = evaluation.evaluate_checkpoint(tiny_model, data_dir=data_dir, test_limit=300, max_examples=12)
    assert report.n_test == 300 and report.arch == "seednet"
    confusion = np.array(report.confusion)
    assert confusion.shape == (10, 10) and confusion.sum() == 300
    assert report.accuracy == pytest.approx(np.trace(confusion) / 300)
    assert report.n_misclassified == 300 - np.trace(confusion)
    assert len(report.per_class) == 10
    assert len(report.misclassified) == min(12, report.n_misclassified)
    confs = [m.confidence for m in report.misclassified]
    assert confs == sorted(confs, reverse=True)
    for m in report.misclassified:
        assert m.true != m.predicted and m.image.shape == (28, 28) and m.image.dtype == np.uint8
        assert confusion[m.true, m.predicted] >= 1
    stored = load_checkpoint(tiny_model)
    assert report.accuracy == pytest.approx(stored["test_accuracy"])


@pytest.mark.skipif(not SHIPPED_MODEL.exists(), reason="the shipped model is not built yet")
def test_the_shipped_model_lists_as_usable():
    entry = store.list_models(Path(os.devnull))[0]
    assert entry.usable and entry.finished and entry.arch in ("digitnet", "seednet")
