"""Recognize: read a handwritten number from the webcam, uploaded photos or a built-in sample.

The page only gathers input, calls ``digitlib`` and draws the result. Reading is
``Recognizer.read`` (cached in ``pages/ui/reader.py``); tables, CSV, samples and model
choices come from ``digitlib.app_support``. The active model is
``st.session_state["active_model"]`` (a checkpoint path, or None for the shipped model),
shared with the Train page and remembered (``pages/ui/app_state.py``). The photo tools
(turn, crop, digit colour, smallest digit) sit above the photo and re-read it when
changed; one reading's view is ``pages/ui/recognize_view.py``, its corrections (typed
number, single digits, box edits, saving to My digits) ``pages/ui/recognize_fix.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from digitlib import app_support as support
from digitlib.rescue import MAX_CROP_PERCENT
from pages.ui import recognize_fix as fix
from pages.ui.app_state import set_active_model
from pages.ui.draw_canvas import drawing
from pages.ui.navigation import ensure_app_navigation
from pages.ui.reader import DRAWING_INK, PHOTO_INK, load_recognizer, read_image
from pages.ui.recognize_view import show_reading

MODES = {
    "camera": ":material/photo_camera: Camera",
    "upload": ":material/upload_file: Upload",
    "samples": ":material/image: Samples",
    "draw": ":material/draw: Draw",
}
POLARITIES = {"auto": "Auto", "dark": "Dark ink", "light": "Light ink"}
ALL_SAMPLES = -1


# --------------------------------------------------------------------------- model and reading


SHIPPED = ""  # the selector's value for the shipped model (a None option would read as "no choice")


def _use_model() -> None:
    set_active_model(st.session_state["recognize_model"] or None)


def model_selector() -> str | None:
    """The sidebar's model choice, kept in step with ``st.session_state["active_model"]``."""
    active = support.active_model_path(st.session_state.get("active_model"))
    choices = support.model_choices(active)
    labels = {c.path or SHIPPED: c.label for c in choices}
    if (active or SHIPPED) not in labels:
        st.warning(f"The model `{Path(active).name}` is no longer there; using the shipped model.")
        set_active_model(None)
        active = None
    if st.session_state.get("recognize_model") != (active or SHIPPED):
        st.session_state["recognize_model"] = active or SHIPPED
    st.selectbox(
        "Model",
        list(labels),
        format_func=lambda p: labels.get(p, str(p)),
        key="recognize_model",
        on_change=_use_model,
        help="The shipped model, or one trained on the Train page.",
    )
    return active


def pick_one(label: str, options: dict[str, str], default: str, key: str, **kwargs) -> str | None:
    """A segmented control over ``options`` (value -> text) that always has a choice and keeps
    it for the session."""
    return st.segmented_control(label, list(options), format_func=options.get, default=default, required=True,
                                key=key, persist_state="session", **kwargs)


CROP_SIDES = ("left", "top", "right", "bottom")
TOOL_KEYS = ["recognize_turns", *(f"recognize_crop_{side}" for side in CROP_SIDES)]  # reset for a new photo


def sidebar() -> str | None:
    with st.sidebar:
        st.header("Model")
        model_path = model_selector()
        st.caption("The photo tools (turn, crop, digit colour) are above the photo, on the page.")
    return model_path


def _turn(by: int) -> None:
    st.session_state["recognize_turns"] = (st.session_state.get("recognize_turns", 0) + by) % 4


def photo_tools(inputs_key: str) -> tuple[int, tuple[int, ...], str, int]:
    """Turn, crop, digit colour and smallest digit, above the photo; any change reads it again.
    A new photo starts upright and uncropped (the colour and smallest digit stay)."""
    if st.session_state.get("recognize_inputs") != inputs_key:
        st.session_state["recognize_inputs"] = inputs_key
        for key in TOOL_KEYS:
            st.session_state.pop(key, None)
    polarity = st.session_state.get("recognize_polarity") or "auto"
    # The popovers' labels say what is set, so a crop or a height limit is not forgotten.
    cropped = any(st.session_state.get(f"recognize_crop_{side}") for side in CROP_SIDES)
    min_height = int(st.session_state.get("recognize_min_height") or 0)
    with st.container(horizontal=True, gap="small", vertical_alignment="center", key="recognize_tools"):
        st.button("Turn left", icon=":material/rotate_left:", key="recognize_turn_left", on_click=_turn, args=(-1,),
                  help="Turn the photo a quarter turn anticlockwise before reading it.")
        st.button("Turn right", icon=":material/rotate_right:", key="recognize_turn_right", on_click=_turn,
                  args=(1,), help="Turn the photo a quarter turn clockwise before reading it.")
        with st.popover("Crop (on)" if cropped else "Crop", icon=":material/crop:", help="Cut away the edges of the photo, so only the number "
                        "is read: a shadow, a table edge or other writing then stays out."):
            st.caption("How much to cut from each side, in percent of the photo.")
            for side in CROP_SIDES:
                st.number_input(f"{side.capitalize()} (%)", min_value=0, max_value=MAX_CROP_PERCENT, value=0,
                                step=5, key=f"recognize_crop_{side}")
        with st.popover(f"Digit colour: {POLARITIES[polarity]}", icon=":material/palette:"):
            pick_one("Digit colour", POLARITIES, "auto", "recognize_polarity",
                     help="Auto works for most photos. Choose *Dark ink* for pen on paper, "
                     "*Light ink* for chalk on a blackboard or white-on-black images.")
        with st.popover(f"Smallest digit: {min_height} px" if min_height else "Smallest digit",
                        icon=":material/height:"):
            st.number_input(
                "Minimum digit height (px)", min_value=0, max_value=1000, value=0, step=5,
                key="recognize_min_height", persist_state="session",
                help="Marks shorter than this (in pixels of the working image) are ignored: raise it "
                "to skip specks and dirt. 0 decides automatically.",
            )
    turns = int(st.session_state.get("recognize_turns") or 0)
    margins = tuple(int(st.session_state.get(f"recognize_crop_{side}") or 0) for side in CROP_SIDES)
    polarity = st.session_state.get("recognize_polarity") or "auto"  # as changed in this run
    min_height = int(st.session_state.get("recognize_min_height") or 0)
    return turns, margins, polarity, min_height


# --------------------------------------------------------------------------- input


def gather_input() -> tuple[list[tuple[str, bytes]], dict[str, str], str]:
    """The images to read as (name, bytes), the known labels of built-in samples, and the
    ink stage that suits them (``ReadOptions.ink``)."""
    mode = pick_one("Input", MODES, "camera", "recognize_mode", label_visibility="collapsed") or "camera"
    if mode == "camera":
        left, right = st.columns([3, 2], gap="large")
        with left:
            photo = st.camera_input(
                "Hold the paper up to the camera, then take a photo",
                key="recognize_camera",
                resolution="720p",  # the camera's own size, not the (smaller) size on screen
            )
        with right.container(border=True):
            st.markdown(
                "**For a good photo**\n"
                "- a thick, dark pen or marker on plain paper\n"
                "- the number fills much of the picture\n"
                "- even light, no shadow across the digits\n"
                "- a small gap between the digits"
            )
        return ([("Camera photo", photo.getvalue())] if photo is not None else []), {}, PHOTO_INK
    if mode == "upload":
        files = st.file_uploader(
            "Photos or scans of handwritten numbers",
            type=support.UPLOAD_TYPES,
            accept_multiple_files=True,
            key="recognize_upload",
            help="PNG, JPEG, BMP, TIFF or WebP. Choose several files to read them all at once.",
        )
        return [(f.name, f.getvalue()) for f in files or []], {}, PHOTO_INK
    if mode == "draw":
        drawn = drawing()
        return ([("Drawing", drawn)] if drawn is not None else []), {}, DRAWING_INK
    samples = support.list_samples()
    if not samples:
        st.info("No built-in samples are installed. Run `scripts/make_samples.py` to make them.")
        return [], {}, PHOTO_INK
    choice = st.selectbox(
        "Sample",
        [ALL_SAMPLES, *range(len(samples))],
        index=1,
        format_func=lambda i: "All samples (as a table)" if i == ALL_SAMPLES else samples[i].title,
        key="recognize_sample",
        help="Photo-like samples made from MNIST digits, so you can try the app without a webcam.",
    )
    chosen = samples if choice == ALL_SAMPLES else [samples[choice]]
    return [(s.name, s.path.read_bytes()) for s in chosen], {s.name: s.label for s in chosen}, PHOTO_INK


def _open_selected_row() -> None:
    rows = st.session_state["recognize_table"].selection.rows
    shown = st.session_state.get("recognize_table_rows", [])
    if rows and rows[0] < len(shown):
        st.session_state["recognize_open"] = shown[rows[0]]


def show_batch(results: list[support.ReadResult], inputs: list[tuple[str, bytes]], expected: dict[str, str],
               classify, polarity: str) -> None:
    """A table of every input read (failed ones say why above it), a *needs review* filter, the
    CSV, and the full view of one row."""
    ok = [i for i, r in enumerate(results) if r.ok]
    review = [i for i in ok if support.needs_review(results[i].reading)]
    st.subheader(f"{len(results)} images, {len(ok)} read, {len(review)} to review", divider="gray")
    for r in results:
        if r.error:
            st.error(r.error, icon=":material/error:")
    only_review = st.toggle(f"Only those that need review ({len(review)})", key="recognize_review_only",
                            help="Readings less than 80 % sure, with an unsure digit, or with a warning.")
    shown = review if only_review else ok
    st.session_state["recognize_table_rows"] = shown  # table row -> input, for a click on a row
    table = support.results_table([results[i] for i in shown])
    table.insert(3, "review", ["needs review" if i in review else "" for i in shown])
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "file": st.column_config.TextColumn("File"),
            "number": st.column_config.TextColumn("Number"),
            "confidence": st.column_config.ProgressColumn("Confidence", format="percent",
                                                          min_value=0.0, max_value=1.0),
            "review": st.column_config.TextColumn("Review"),
            "digits": st.column_config.NumberColumn("Digits"),
            "seconds": st.column_config.NumberColumn("Time", format="%.2f s"),
            "notes": st.column_config.TextColumn("Notes"),
        },
        key="recognize_table",
        on_select=_open_selected_row,
        selection_mode="single-row",
    )
    st.download_button(
        "Download CSV (every image)",
        support.results_csv(results),
        file_name="numbers.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )
    if not shown:
        return
    if st.session_state.get("recognize_open") not in shown:
        st.session_state["recognize_open"] = shown[0]
    index = st.selectbox(
        "Open the full view of",
        shown,
        format_func=lambda i: f"{results[i].name}: {support.one_line(results[i].reading.text) or 'no digits'}",
        key="recognize_open",
        help="Or click a row of the table.",
    )
    st.divider()
    chosen = results[index]
    st.subheader(chosen.name)
    show_reading(chosen, fix.Photo.of(*inputs[index]), expected.get(chosen.name), classify, polarity)


# --------------------------------------------------------------------------- page


def main() -> None:
    ensure_app_navigation()
    model_path = sidebar()

    st.title("Recognize")
    st.caption("Read a handwritten number from a webcam photo, a photo or scan, a built-in sample, or one you draw.")

    inputs, expected, ink = gather_input()
    if not inputs:
        return
    # The model is needed only now: the page above shows at once, while it loads (see warm_up_reader).
    signature = support.model_signature(model_path)
    try:
        recognizer = load_recognizer(model_path, signature)
    except Exception as exc:  # noqa: BLE001 - a broken checkpoint must not break the page
        if model_path is None:
            st.error(f"The shipped model could not be loaded: {exc}", icon=":material/error:")
            st.stop()
        st.error(f"The model `{Path(model_path).name}` could not be loaded ({exc}); "
                 "using the shipped model instead.", icon=":material/error:")
        model_path = None
        signature = support.model_signature(None)
        recognizer = load_recognizer(model_path, signature)
    inputs_key = hashlib.sha256(b"".join(hashlib.sha256(data).digest() for _, data in inputs)).hexdigest()[:12]
    turns, margins, polarity, min_height = photo_tools(inputs_key)
    with st.spinner("Reading..."):
        results = [
            support.read_safely(
                name, lambda data=data: read_image(data, model_path, signature, polarity, min_height, turns, margins, ink)
            )
            for name, data in inputs
        ]
    try:
        if len(results) == 1:
            show_reading(results[0], fix.Photo.of(*inputs[0]), expected.get(results[0].name),
                         recognizer.classify, polarity)
        else:
            show_batch(results, inputs, expected, recognizer.classify, polarity)
    except st.errors.StreamlitAPIException:
        raise
    except Exception:  # noqa: BLE001 - never a traceback on the page
        support.log.exception("could not draw the reading")
        st.error("Something went wrong while showing this reading. Try another photo, "
                 "or the photo tools above.", icon=":material/error:")


main()
