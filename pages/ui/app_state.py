"""What the app remembers across reloads and server restarts, mirrored in session state.

``digitlib.app_settings`` keeps the settings file; this module reads it once per session
(``init_session``, called by the entry point before any page) and writes it whenever the user
changes a remembered setting. ``st.session_state["active_model"]`` stays the one place pages
read the active model from.
"""

from __future__ import annotations

import threading

import streamlit as st

from digitlib import app_settings
from digitlib.app_support import log

state = st.session_state


def init_session() -> None:
    """Load the saved settings into a new session (an explicit session value wins)."""
    if "active_model" in state and "saved_data_folder" in state:
        return
    saved = app_settings.load_settings()
    state.setdefault("active_model", saved.active_model)
    state.setdefault("saved_data_folder", saved.data_folder or "")


def _save(**changes) -> None:
    try:
        app_settings.update_settings(**changes)
    except OSError as exc:
        log.warning("could not save the settings: %s", exc)
        st.toast(f"This choice holds for this visit only: the settings file could not be written ({exc}).",
                 icon=":material/warning:")


def set_active_model(path: str | None) -> None:
    """Make ``path`` (None: the shipped model) the Recognize page's model, now and after a restart."""
    state["active_model"] = path or None
    _save(active_model=path or None)


def set_data_folder(folder: str) -> None:
    """Remember the MNIST data folder typed on the Train page ("" goes back to the default)."""
    state["saved_data_folder"] = folder.strip()
    _save(data_folder=folder.strip() or None)


_warm_up_started = threading.Event()


def warm_up_reader() -> None:
    """Load the active model in a background thread, once per server process (at its first
    session, whatever the page): torch and the model take seconds to load, and the first visitor
    to Recognize should not wait for them. The page shows a spinner if it is not done yet."""
    if _warm_up_started.is_set():
        return
    _warm_up_started.set()
    model_path = state.get("active_model")

    def load() -> None:
        try:
            from pages.ui.reader import load_recognizer  # imports torch: in this thread, not the page's
            from digitlib.app_support import model_signature

            load_recognizer(model_path, model_signature(model_path))
        except Exception:  # noqa: BLE001 - the page loads it again, and says what is wrong
            log.exception("could not warm up the model %s", model_path)

    threading.Thread(target=load, name="digits-warm-up", daemon=True).start()
