"""The Recognize page's "Draw" mode: a canvas to write a number on, read whenever a stroke ends.

The canvas is a Streamlit component declared from the static ``canvas/`` folder beside this file
(``components.v1.declare_component(path=...)``): plain HTML and JavaScript, no npm build and nothing
fetched at run time. Its value is a PNG data URL of the drawing (dark ink on white paper).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

_canvas = components.declare_component("digit_canvas", path=str(Path(__file__).resolve().parent / "canvas"))

CANVAS_HEIGHT = 260  # px: room for a few digits a finger's width tall, on a phone too
PNG_PREFIX = "data:image/png;base64,"


def _clear() -> None:
    st.session_state["recognize_draw_clear"] = st.session_state.get("recognize_draw_clear", 0) + 1


def drawing() -> bytes | None:
    """The canvas with its pen width and Clear; the drawing as PNG bytes, None while it is blank."""
    with st.container(horizontal=True, gap="small", vertical_alignment="bottom"):
        pen = st.slider("Pen width", 4, 40, 14, step=2, key="recognize_draw_pen", width=220,
                        help="A thick pen reads best: about a seventh of the digits' height.")
        st.button("Clear", icon=":material/ink_eraser:", key="recognize_draw_clear_button", on_click=_clear)
    st.caption("Write a number with the mouse, a finger or a pen; it is read each time you lift it.")
    value = _canvas(pen=pen, height=CANVAS_HEIGHT, clear=st.session_state.get("recognize_draw_clear", 0),
                    key="recognize_draw", default=None)
    if not isinstance(value, dict) or not str(value.get("png", "")).startswith(PNG_PREFIX):
        return None
    try:
        return base64.b64decode(value["png"][len(PNG_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return None
