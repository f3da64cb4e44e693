"""My digits: the personal data set of digits corrected on the Recognize page.

A gallery grouped by label with counts, delete, and export/import as a zip. The page only
draws; ``digitlib.personal`` keeps the set (folder ``$DIGITLIB_PERSONAL`` or the per-user
data folder) and validates imports.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from digitlib import digit_sets, personal
from digitlib.app_support import pixelated
from pages.ui.navigation import ensure_app_navigation

TILE_WIDTH = 84  # px: a 28x28 digit three times enlarged
SHOWN_PER_LABEL = 40  # newest first; "Show all" lifts the limit
state = st.session_state


@st.cache_data(max_entries=5000, show_spinner=False)
def _tile(sample_id: str, path: str) -> np.ndarray:
    """A digit enlarged with crisp pixels; cached by id (the id is a hash of the pixels)."""
    with open(path, "rb") as f:
        image = digit_sets.decode_png(f.read())
    if image is None:
        raise ValueError(f"{path} is not a 28x28 image")
    return pixelated(image, 3)


def tile(sample: digit_sets.SavedDigit) -> np.ndarray:
    try:
        return _tile(sample.id, str(sample.path))
    except (OSError, ValueError):  # e.g. deleted in another tab a moment ago; failures are not cached
        return np.zeros((84, 84), np.uint8)


def say(kind: str, text: str) -> None:
    state["my_digits_message"] = (kind, text)


def delete(pset: personal.PersonalSet, sample_id: str, label: int) -> None:
    try:
        pset.delete([sample_id])
    except (personal.PersonalSetError, OSError) as exc:
        say("error", f"Could not delete the digit: {exc}")
    else:
        say("success", f"Deleted a {label}.")


def import_zip(pset: personal.PersonalSet) -> None:
    upload = state.get("my_digits_import")
    if upload is None:
        return
    try:
        report = pset.import_zip(upload.getvalue())
    except personal.PersonalSetError as exc:
        say("error", f"Nothing was imported: {exc}.")
    except OSError as exc:
        say("error", f"Nothing was imported: the personal set cannot be written ({exc}).")
    else:
        say("success", f"Imported {upload.name}: {report.total} digits ({report.describe()}).")


def gallery(pset: personal.PersonalSet, samples: list[digit_sets.SavedDigit]) -> None:
    by_label: dict[int, list[digit_sets.SavedDigit]] = {}
    for s in reversed(samples):  # newest first
        by_label.setdefault(s.label, []).append(s)
    show_all = st.toggle("Show all digits", key="my_digits_all",
                         help=f"Each label shows its {SHOWN_PER_LABEL} newest digits unless this is on.")
    for label in sorted(by_label):
        group = by_label[label]
        st.subheader(f"Digit {label} · {len(group)} saved", divider="gray", anchor=f"label-{label}")
        shown = group if show_all else group[:SHOWN_PER_LABEL]
        # A wrapping row of small tiles (not screen-wide columns): four or more to a row on a phone.
        with st.container(horizontal=True, gap="small", key=f"my_digits_label_{label}"):
            for s in shown:
                with st.container(width=TILE_WIDTH, gap="xsmall"):
                    st.image(tile(s), width=84)
                    if s.held_out:
                        st.caption("held out")
                    st.button("Delete", key=f"my_digits_delete_{s.id}", icon=":material/delete:", type="tertiary",
                              on_click=delete, args=(pset, s.id, label), help=f"Delete this {label}")
        if len(shown) < len(group):
            st.caption(f"{len(group) - len(shown)} older {label}s not shown.")


def main() -> None:
    ensure_app_navigation()
    pset = personal.PersonalSet()
    st.title("My digits")
    st.caption(
        "The digits you corrected on the Recognize page, each with its right label. On the Train page, "
        "*Include my digits* fine-tunes the model on them; one digit in five is held out to measure "
        "how well a model reads your handwriting."
    )
    message = state.pop("my_digits_message", None)
    if message:
        kind, text = message
        (st.success if kind == "success" else st.error)(text)
    try:
        samples = pset.samples()
    except personal.PersonalSetError as exc:
        st.error(str(exc), icon=":material/error:")
        samples = None

    if samples:
        counts = pset.counts()
        held = sum(s.held_out for s in samples)
        a, b = st.columns([1, 4])
        a.metric("Digits", len(samples))
        a.metric("Held out", held, help="One digit in five, chosen by its content, is kept for testing only: "
                                        "training never sees it. These are marked *held out* below.")
        b.bar_chart({"digits": [counts[d] for d in range(10)]}, x_label="label", y_label="digits",
                    height=200, width="stretch")
        with st.expander("The counts as a table"):
            st.dataframe({"label": list(range(10)), "digits": [counts[d] for d in range(10)]}, hide_index=True)
    elif samples is not None:
        st.info("No digits yet. Read a number on the **Recognize** page, correct it if it was misread, "
                "and press **Save to My digits**.", icon=":material/info:")
        st.page_link("pages/recognize.py", label="Read a number", icon=":material/arrow_forward:")

    with st.expander("Export or import", icon=":material/import_export:", expanded=not samples):
        left, right = st.columns(2, gap="large")
        with left:
            st.markdown("**Export** all digits as a zip (a backup, or to train elsewhere: "
                        "`python -m digitlib train --extra-data FOLDER` on the unzipped folder).")
            st.download_button("Export as zip", data=pset.export_zip, file_name="my-digits.zip",
                               mime="application/zip", icon=":material/download:", on_click="ignore",
                               disabled=not samples, key="my_digits_export")
        with right:
            st.file_uploader("Import a zip exported from this page", type=["zip"], key="my_digits_import",
                             help="Everything in it is checked first: a bad zip is refused and nothing is imported.")
            st.button("Import", key="my_digits_import_button", icon=":material/upload:",
                      disabled=state.get("my_digits_import") is None or samples is None,
                      on_click=import_zip, args=(pset,))
        st.caption(f"Saved in `{pset.folder}` (set `{digit_sets.PERSONAL_ENV_VAR}` to use another folder).")

    if samples:
        gallery(pset, samples)


main()
