"""The app's settings that outlast a session: the model the Recognize page uses and the MNIST folder.

They are kept as JSON in ``settings.json`` beside the models (``store.models_dir()``)::

    {"format": "digitlib-app-settings", "version": 1,
     "active_model": "/path/to/model.pt" or null (the shipped model),
     "data_folder": "/path/to/data" or null ($DIGITLIB_DATA, else the per-user cache)}

so they survive a reload of the page and a restart of the server. The file is written
atomically (``files.write_atomic``) under a lock, so two sessions saving at once each keep
their own change. A missing, unreadable or foreign file reads as the defaults: settings are a
convenience, never a reason for the app not to start.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .digit_sets import locked
from .files import write_atomic
from .store import models_dir

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
SETTINGS_FORMAT = "digitlib-app-settings"
SETTINGS_VERSION = 1


@dataclass(frozen=True)
class AppSettings:
    """``active_model``: a checkpoint path, None for the shipped model. ``data_folder``: the
    folder holding ``MNIST/raw``, None for the default (``data.resolve_data_dir()``)."""

    active_model: str | None = None
    data_folder: str | None = None


def settings_path(folder: str | os.PathLike | None = None) -> Path:
    """``folder/settings.json``; ``folder`` defaults to the models folder."""
    return Path(folder if folder is not None else models_dir()) / SETTINGS_FILE


def _text_or_none(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def load_settings(folder: str | os.PathLike | None = None) -> AppSettings:
    """The saved settings; the defaults when there are none or the file cannot be used."""
    path = settings_path(folder)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return AppSettings()
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        log.warning("ignoring the settings file %s: %s", path, exc)
        return AppSettings()
    if not isinstance(doc, dict) or doc.get("format") != SETTINGS_FORMAT:
        log.warning("ignoring the settings file %s: not a digitlib settings file", path)
        return AppSettings()
    return AppSettings(active_model=_text_or_none(doc.get("active_model")),
                       data_folder=_text_or_none(doc.get("data_folder")))


def update_settings(folder: str | os.PathLike | None = None, **changes) -> AppSettings:
    """Change some settings (``active_model=...``, ``data_folder=...``; "" or None resets one
    to its default) and save them; returns the settings as saved. Raises OSError when the
    file cannot be written (a read-only folder, a full disk)."""
    path = settings_path(folder)
    unknown = set(changes) - set(AppSettings.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    changes = {k: _text_or_none(v) for k, v in changes.items()}
    with locked(path.parent):
        settings = replace(load_settings(path.parent), **changes)
        doc = {"format": SETTINGS_FORMAT, "version": SETTINGS_VERSION, **asdict(settings)}
        write_atomic(path, lambda f: f.write((json.dumps(doc, indent=1) + "\n").encode("utf-8")))
    return settings


__all__ = ["AppSettings", "load_settings", "settings_path", "update_settings"]
