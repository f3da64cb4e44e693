"""The app's remembered settings (digitlib.app_settings): saved beside the models, atomically,
read back as defaults when missing or damaged."""

from __future__ import annotations

import json
import threading

import pytest

from digitlib import app_settings
from digitlib.app_settings import AppSettings, load_settings, settings_path, update_settings


def test_missing_file_gives_the_defaults(tmp_path):
    assert load_settings(tmp_path / "nowhere") == AppSettings(None, None)


def test_settings_live_beside_the_models(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLIB_MODELS", str(tmp_path / "models"))
    update_settings(active_model="/m/mine.pt")
    assert settings_path() == tmp_path / "models" / "settings.json"
    assert load_settings().active_model == "/m/mine.pt"


def test_update_keeps_the_other_setting_and_resets_with_empty(tmp_path):
    update_settings(tmp_path, active_model="/m/a.pt")
    saved = update_settings(tmp_path, data_folder="/data/mnist")
    assert saved == AppSettings("/m/a.pt", "/data/mnist") == load_settings(tmp_path)
    assert update_settings(tmp_path, active_model=None, data_folder="  ") == AppSettings(None, None)
    doc = json.loads((tmp_path / "settings.json").read_text())
    assert doc == {"format": "digitlib-app-settings", "version": 1, "active_model": None, "data_folder": None}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no temp file left


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"format": "other"}', b"\xff\xfe"])
def test_a_damaged_or_foreign_file_reads_as_defaults_and_is_replaced_on_save(tmp_path, content):
    (tmp_path / "settings.json").write_bytes(content)
    assert load_settings(tmp_path) == AppSettings()
    assert update_settings(tmp_path, data_folder="/d") == AppSettings(None, "/d") == load_settings(tmp_path)


def test_unknown_setting_is_refused(tmp_path):
    with pytest.raises(TypeError, match="colour"):
        update_settings(tmp_path, colour="blue")
    assert not (tmp_path / "settings.json").exists()


def test_unwritable_folder_raises_oserror_and_keeps_the_old_file(tmp_path, monkeypatch):
    update_settings(tmp_path, active_model="/m/a.pt")

    def fail(path, write):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(app_settings, "write_atomic", fail)
    with pytest.raises(OSError):
        update_settings(tmp_path, active_model="/m/b.pt")
    assert load_settings(tmp_path).active_model == "/m/a.pt"


def test_two_writers_at_once_keep_both_changes(tmp_path):
    threads = [threading.Thread(target=update_settings, args=(tmp_path,), kwargs=kw)
               for kw in ({"active_model": "/m/a.pt"}, {"data_folder": "/d"})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert load_settings(tmp_path) == AppSettings("/m/a.pt", "/d")
