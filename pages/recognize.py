"""Recognize: read a handwritten number from the webcam, uploaded photos or a built-in sample.

The page only gathers input, calls ``digitlib`` and draws the result. Reading is
``Recognizer.read``; tables, CSV, samples and model choices come from
``digitlib.app_support``. The active model is ``st.session_state["active_model"]``
(a checkpoint path, or None for the shipped model), shared with the Train page.
After a reading the user can correct it (type the number or fix single digits); the
corrected digits go into the personal set (``digitlib.personal``), shown on My digits.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from digitlib import app_support as support
from digitlib.formatting import percent
from digitlib import personal
from digitlib import ReadOptions, Recognizer
from pages.ui.app_state import set_active_model
from pages.ui.navigation import ensure_app_navigation

DIGITS_PER_ROW = 6
STAGES_PER_ROW = 3
MODES = {
    "camera": ":material/photo_camera: Camera",
    "upload": ":material/upload_file: Upload",
    "samples": ":material/image: Samples",
}
POLARITIES = {"auto": "Auto", "dark": "Dark ink", "light": "Light ink"}
ALL_SAMPLES = -1


# --------------------------------------------------------------------------- model and reading


@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def load_recognizer(model_path: str | None, signature: tuple) -> Recognizer:
    """One Recognizer per model file, shared by every session; ``signature`` (path, mtime,
    size) makes a retrained file at the same path load afresh."""
    return Recognizer(model_path)


@st.cache_data(max_entries=24, ttl="1h", show_spinner=False)
def read_image(data: bytes, model_path: str | None, signature: tuple, polarity: str, min_digit_height: int):
    """``Recognizer.read`` on encoded image bytes, cached so reruns (opening another row,
    expanding the stages) do not read the same photo again."""
    options = ReadOptions(polarity=polarity, min_digit_height=int(min_digit_height))
    return load_recognizer(model_path, signature).read(data, options)


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


def settings() -> tuple[str | None, str, int]:
    with st.sidebar:
        st.header("Settings")
        model_path = model_selector()
        pick_one(
            "Digit colour", POLARITIES, "auto", "recognize_polarity",
            help="Auto works for most photos. Choose *Dark ink* for pen on paper, "
            "*Light ink* for chalk on a blackboard or white-on-black images.",
        )
        st.number_input(
            "Minimum digit height (px)",
            min_value=0,
            max_value=1000,
            value=0,
            step=5,
            key="recognize_min_height",
            persist_state="session",
            help="Marks shorter than this (in pixels of the working image) are ignored: raise it "
            "to skip specks and dirt. 0 decides automatically.",
        )
        st.caption("The defaults suit most photos; change them to rescue a misread one.")
    polarity = st.session_state.get("recognize_polarity") or "auto"
    min_height = int(st.session_state.get("recognize_min_height") or 0)
    return model_path, polarity, min_height


# --------------------------------------------------------------------------- input


def gather_input() -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """The images to read as (name, bytes), and the known labels of built-in samples."""
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
        return ([("Camera photo", photo.getvalue())] if photo is not None else []), {}
    if mode == "upload":
        files = st.file_uploader(
            "Photos or scans of handwritten numbers",
            type=support.UPLOAD_TYPES,
            accept_multiple_files=True,
            key="recognize_upload",
            help="PNG, JPEG, BMP, TIFF or WebP. Choose several files to read them all at once.",
        )
        return [(f.name, f.getvalue()) for f in files or []], {}
    samples = support.list_samples()
    if not samples:
        st.info("No built-in samples are installed. Run `scripts/make_samples.py` to make them.")
        return [], {}
    choice = st.selectbox(
        "Sample",
        [ALL_SAMPLES, *range(len(samples))],
        index=1,
        format_func=lambda i: "All samples (as a table)" if i == ALL_SAMPLES else samples[i].title,
        key="recognize_sample",
        help="Photo-like samples made from MNIST digits, so you can try the app without a webcam.",
    )
    chosen = samples if choice == ALL_SAMPLES else [samples[choice]]
    return [(s.name, s.path.read_bytes()) for s in chosen], {s.name: s.label for s in chosen}


# --------------------------------------------------------------------------- output


def show_reading(result: support.ReadResult, expected: str | None = None) -> None:
    """The full view of one input: number, confidence, photo, digit strip and stages."""
    if result.reading is None:
        st.error(result.error, icon=":material/error:")
        return
    r = result.reading
    number = support.one_line(r.text)

    c1, c2, c3 = st.columns([3, 2, 3], vertical_alignment="center")
    c1.metric("Number", number or "none found")
    c2.metric("Confidence", percent(r.confidence) if r.digits else "-",
              help="The product of the digits' confidences: how sure the model is of the whole number.")
    if r.digits:
        with c3:
            st.caption("Copy the number")
            st.code(r.text, language=None)
    if expected is not None and r.digits:
        written = support.one_line(expected)
        if r.text.replace("\n", "") == expected.replace("\n", ""):
            st.success(f"The sample says **{written}**: read correctly.", icon=":material/check_circle:")
        else:
            st.info(f"The sample says **{written}**.", icon=":material/info:")

    if r.warnings:
        text = r.warnings[0] if len(r.warnings) == 1 else "\n".join(f"- {w}" for w in r.warnings)
        if not r.digits:
            text += ("\n\nThe steps below show where the digits were lost. Try another *Digit colour* "
                     "or *Minimum digit height* in the sidebar, or a closer, better lit photo.")
        st.warning(text, icon=":material/warning:")

    photo_col, info_col = st.columns([3, 1])
    with photo_col:
        if r.image is not None:
            st.image(r.annotated(), caption=f"{result.name}: each digit's box and label")
    with info_col:
        st.markdown(f"**File** {result.name}")
        st.markdown(f"**Size** {support.size_text(r)}")
        st.markdown(f"**Digits** {len(r.digits)} in {len(r.rows)} row{'s' if len(r.rows) != 1 else ''}")
        st.markdown(f"**Time** {r.seconds:.2f} s")

    if r.digits:
        key = init_correction(r)
        show_digit_strip(r, key)
        correct_reading(result, key)
    show_stages(r)


def show_digit_strip(r, key: str) -> None:
    st.subheader("Digits", divider="gray")
    st.caption("What the model saw for each digit (28 x 28 pixels, MNIST style), "
               "its answer and its three best guesses.")
    for group in support.chunks(list(enumerate(r.digits, 1)), DIGITS_PER_ROW):
        for col, (i, d) in zip(st.columns(DIGITS_PER_ROW), group):
            uncertain = support.is_uncertain(d)
            with col.container(border=True):
                st.image(support.pixelated(d.image, 4), width="stretch")
                st.metric(f"Digit {i}", str(d.label), help=None)
                if uncertain:
                    st.badge("uncertain", icon=":material/warning:", color="orange")
                for label, p in d.top3:
                    st.progress(min(max(float(p), 0.0), 1.0), text=f"{label} · {percent(p)}")
                if uncertain:
                    st.caption(support.uncertain_hint(d))
                st.selectbox("Right digit", list(range(10)), key=fix_keys(key, len(r.digits))[1][i - 1],
                             on_change=_digit_fixed, args=(key, [x.row for x in r.digits]),
                             help="If this digit was misread, pick the right one, then save below.")


# --------------------------------------------------------------------------- correcting


def fix_keys(key: str, n: int) -> tuple[str, list[str]]:
    """Session-state keys of a reading's typed number and of its per-digit pickers."""
    return f"recognize_fix_{key}_text", [f"recognize_fix_{key}_{i}" for i in range(n)]


def init_correction(r) -> str:
    """Fill the correction widgets of this reading with what was read; returns its key."""
    key = personal.reading_key([d.image for d in r.digits])
    text_key, digit_keys = fix_keys(key, len(r.digits))
    if text_key not in st.session_state:
        st.session_state[text_key] = personal.correction_text([d.label for d in r.digits], [d.row for d in r.digits])
    for k, d in zip(digit_keys, r.digits):
        if k not in st.session_state:
            st.session_state[k] = d.label
    return key


def _typed(key: str, n: int) -> None:
    """The typed number changed: when it fits the boxes, set each digit's picker to match."""
    text_key, digit_keys = fix_keys(key, n)
    st.session_state.pop("recognize_fix_message", None)  # an old "saved" would mislead now
    for k, label in zip(digit_keys, personal.match_correction(st.session_state[text_key], n).labels):
        st.session_state[k] = label


def _digit_fixed(key: str, rows: list[int]) -> None:
    """A digit's picker changed: rewrite the typed number to match."""
    text_key, digit_keys = fix_keys(key, len(rows))
    st.session_state.pop("recognize_fix_message", None)
    st.session_state[text_key] = personal.correction_text([st.session_state[k] for k in digit_keys], rows)


def _save_correction(result: support.ReadResult, key: str) -> None:
    r = result.reading
    text_key, _ = fix_keys(key, len(r.digits))
    try:
        correction, report = personal.save_correction(
            [d.image for d in r.digits], st.session_state[text_key], source=f"Recognize: {result.name}"
        )
    except (personal.PersonalSetError, OSError) as exc:
        st.session_state["recognize_fix_message"] = (key, "error", f"Nothing was saved: {exc}")
        return
    if report is None:
        st.session_state["recognize_fix_message"] = (key, "warning", correction.message)
    else:
        n = len(correction.labels)
        st.session_state["recognize_fix_message"] = (
            key, "success", f"Saved {n} digit{'s' if n != 1 else ''} to My digits ({report.describe()}).")


def correct_reading(result: support.ReadResult, key: str) -> None:
    """Type the right number (or fix single digits above) and save the digits with their labels."""
    n = len(result.reading.digits)
    text_key, _ = fix_keys(key, n)
    with st.container(border=True, key="recognize_correct"):
        st.markdown("**Misread? Correct it, and teach the model your handwriting**")
        st.caption("Type the right number, or pick the right digit under each picture above, then save. "
                   "Each digit's picture is kept with its right label in *My digits*; the Train page can "
                   "fine-tune the model on them.")
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        left.text_input("The number is", key=text_key, on_change=_typed, args=(key, n),
                        help="The digits in reading order, one per box; separate rows with /. Spaces are ignored.")
        right.button("Save to My digits", key=f"recognize_fix_{key}_save", icon=":material/save:",
                     on_click=_save_correction, args=(result, key), width="stretch")
        message = st.session_state.get("recognize_fix_message")
        if message and message[0] == key:
            _, kind, text = message
            if kind == "success":
                st.success(text, icon=":material/check_circle:")
                st.page_link("pages/my_digits.py", label="Open My digits", icon=":material/arrow_forward:")
            elif kind == "warning":
                st.warning(text, icon=":material/warning:")
            else:
                st.error(text, icon=":material/error:")


def show_stages(r) -> None:
    with st.expander(f"How it was read: {len(r.stages)} steps", expanded=not r.digits,
                     icon=":material/account_tree:"):
        st.caption("Every step from the photo to the digits, in order. "
                   "If a number was misread, look for the step where it went wrong.")
        for group in support.chunks(list(enumerate(r.stages, 1)), STAGES_PER_ROW):
            for col, (i, (name, image)) in zip(st.columns(STAGES_PER_ROW), group):
                # Small stage images (e.g. a strip of 28x28 digits) at their own size, not blown up.
                col.image(image, caption=support.stage_caption(i, name),
                          width="stretch" if image.shape[1] >= 240 else "content")


def _open_selected_row() -> None:
    rows = st.session_state["recognize_table"].selection.rows
    if rows:
        st.session_state["recognize_open"] = rows[0]


def show_batch(results: list[support.ReadResult], expected: dict[str, str]) -> None:
    ok = sum(r.ok for r in results)
    st.subheader(f"{len(results)} images, {ok} read", divider="gray")
    for r in results:
        if r.error:
            st.error(r.error, icon=":material/error:")
    st.dataframe(
        support.results_table(results),
        hide_index=True,
        column_config={
            "file": st.column_config.TextColumn("File"),
            "number": st.column_config.TextColumn("Number"),
            "confidence": st.column_config.ProgressColumn("Confidence", format="percent",
                                                          min_value=0.0, max_value=1.0),
            "digits": st.column_config.NumberColumn("Digits"),
            "seconds": st.column_config.NumberColumn("Time", format="%.2f s"),
            "notes": st.column_config.TextColumn("Notes"),
        },
        key="recognize_table",
        on_select=_open_selected_row,
        selection_mode="single-row",
    )
    st.download_button(
        "Download CSV",
        support.results_csv(results),
        file_name="numbers.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )
    if st.session_state.get("recognize_open", 0) >= len(results):
        st.session_state["recognize_open"] = 0
    index = st.selectbox(
        "Open the full view of",
        range(len(results)),
        format_func=lambda i: f"{results[i].name}: "
        + (support.one_line(results[i].reading.text) or "no digits" if results[i].ok else "could not be read"),
        key="recognize_open",
        help="Or click a row of the table.",
    )
    st.divider()
    chosen = results[index or 0]
    st.subheader(chosen.name)
    show_reading(chosen, expected.get(chosen.name))


# --------------------------------------------------------------------------- page


def main() -> None:
    ensure_app_navigation()
    model_path, polarity, min_height = settings()

    st.title("Recognize")
    st.caption("Read a handwritten number from a webcam photo, a photo or scan, or a built-in sample.")

    signature = support.model_signature(model_path)
    try:
        load_recognizer(model_path, signature)
    except Exception as exc:  # noqa: BLE001 - a broken checkpoint must not break the page
        if model_path is None:
            st.error(f"The shipped model could not be loaded: {exc}", icon=":material/error:")
            st.stop()
        st.error(f"The model `{Path(model_path).name}` could not be loaded ({exc}); "
                 "using the shipped model instead.", icon=":material/error:")
        model_path = None
        signature = support.model_signature(None)

    inputs, expected = gather_input()
    if not inputs:
        return
    with st.spinner("Reading..."):
        results = [
            support.read_safely(
                name, lambda data=data: read_image(data, model_path, signature, polarity, min_height)
            )
            for name, data in inputs
        ]
    try:
        if len(results) == 1:
            show_reading(results[0], expected.get(results[0].name))
        else:
            show_batch(results, expected)
    except st.errors.StreamlitAPIException:
        raise
    except Exception:  # noqa: BLE001 - never a traceback on the page
        support.log.exception("could not draw the reading")
        st.error("Something went wrong while showing this reading. Try another photo, "
                 "or change the settings in the sidebar.", icon=":material/error:")


main()
