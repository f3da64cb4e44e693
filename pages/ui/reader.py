"""The Recognize page's reader: one loaded model per file for every session, readings cached.

``pages.ui.app_state.warm_up_reader`` calls ``load_recognizer`` in the background when the
server's first session starts, so the first visit to Recognize finds the model loaded.
"""

from __future__ import annotations

import streamlit as st

from digitlib import ReadOptions, Recognizer, rescue


#: A drawing on the canvas is exact ink on white, no photo: the threshold ink stage reads it as
#: drawn, while the ink network, trained on photos, is weakest on large digits drawn thin.
DRAWING_INK = "threshold"
#: Photos, uploads and samples are read as the library reads them by default (both ink stages).
PHOTO_INK = ReadOptions().ink


@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def load_recognizer(model_path: str | None, signature: tuple) -> Recognizer:
    """One Recognizer per model file, shared by every session; ``signature`` (path, mtime,
    size) makes a retrained file at the same path load afresh."""
    return Recognizer(model_path)


# A resource cache, not a data cache: a hit hands back the same Reading without pickling its
# stage images (a data cache copied them on every rerun, most of the page's time). Readings
# are never changed in place (``rescue.edit_reading`` makes a new one), and few are kept.
@st.cache_resource(max_entries=8, ttl="1h", show_spinner=False)
def read_image(data: bytes, model_path: str | None, signature: tuple, polarity: str, min_digit_height: int,
               turns: int = 0, margins: tuple = (0, 0, 0, 0), ink: str = PHOTO_INK):
    """``Recognizer.read`` on encoded image bytes, turned by ``turns`` quarter turns and cropped
    by ``margins`` (percent: left, top, right, bottom) first; ``ink`` is ``ReadOptions.ink``."""
    options = ReadOptions(polarity=polarity, min_digit_height=int(min_digit_height), ink=ink)
    recognizer = load_recognizer(model_path, signature)
    if not turns % 4 and not any(margins):
        return recognizer.read(data, options)
    photo, notes = rescue.prepare_photo(data, turns, margins)
    reading = recognizer.read(photo, options)
    reading.warnings[:0] = notes  # the decoder's notes (e.g. a converted 16-bit scan), as for bytes
    return reading
