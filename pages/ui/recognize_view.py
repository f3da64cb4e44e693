"""The Recognize page's view of one reading: the number first, then the photo, corrections, digits, stages.

The number comes first and alone, so it shows as soon as the reading is done; a reading less
sure than ``app_support.UNREADABLE_BELOW`` is not shown as a number but as what to try. The
28x28 digits are a compact grid (a phone shows four to a row), and the stage images are made
only when *How it was read* is opened.
"""

from __future__ import annotations

import streamlit as st

from digitlib import app_support as support
from digitlib import rescue
from digitlib.formatting import percent
from digitlib.reading.result import Reading
from pages.ui import recognize_fix as fix

TOOLS_HINT = ("Try the photo tools above the photo: **Crop** to the number, **Turn** it upright, "
              "or another **Digit colour**; or a closer, better lit photo.")
PHOTO_MAX_WIDTH = 760  # px: a webcam photo at its own size on a desktop; a phone fits it to the screen
DIGIT_CARD_WIDTH = 80  # px: four digits to a row on a 390 px phone
STAGE_WIDTH = 168  # px: two stages to a row on a phone; each opens full size from its corner


def headline(shown: Reading, expected: str | None) -> None:
    """The number, its confidence and a copy field; or, for an unsure reading, what to try."""
    if not shown.digits:
        return  # the warnings say no digits were found, with what to try
    if not support.is_readable(shown):
        st.warning(f"**The number could not be read.** The best guess, {support.one_line(shown.text)}, is only "
                   f"{percent(shown.confidence)} sure. {TOOLS_HINT} If you know the number, type it below.",
                   icon=":material/help:")
        return
    with st.container(horizontal=True, gap="medium", vertical_alignment="center", key="recognize_headline"):
        st.metric("Number", support.one_line(shown.text), width="content")
        st.metric("Confidence", percent(shown.confidence), width="content",
                  help="The product of the digits' confidences: how sure the model is of the whole number.")
        with st.container(width=140):
            st.code(shown.text, language=None)  # its corner button copies the number
    if expected is not None:
        written = support.one_line(expected)
        if shown.text.replace("\n", "") != expected.replace("\n", ""):
            st.info(f"The sample says **{written}**.", icon=":material/info:")
        elif support.is_sure(shown):
            st.success(f"The sample says **{written}**: read correctly.", icon=":material/check_circle:")
        else:
            st.info(f"The sample says **{written}**: the reading matches, but the model was unsure "
                    f"({percent(shown.confidence)}).", icon=":material/info:")


def show_warnings(shown: Reading) -> None:
    warnings = support.shown_warnings(shown)
    if not warnings:
        return
    text = warnings[0] if len(warnings) == 1 else "\n".join(f"- {w}" for w in warnings)
    if not shown.digits:
        text += f"\n\n{TOOLS_HINT} *How it was read* below shows where the digits were lost."
    st.warning(text, icon=":material/warning:")


def show_photo(name: str, shown: Reading, pending) -> None:
    image = shown.annotated()
    if pending is not None:
        image = rescue.mark_box(image, pending)
    st.image(image, width=min(image.shape[1], PHOTO_MAX_WIDTH))
    rows = len(shown.rows)
    st.caption(f"{name}: each digit's box and label · {support.size_text(shown)} · {len(shown.digits)} digits in "
               f"{rows} row{'s' if rows != 1 else ''} · read in {shown.seconds:.2f} s")


def show_digits(photo: fix.Photo, shown: Reading) -> None:
    st.markdown("**Digits**")
    st.caption("What the model saw for each digit (28 x 28 pixels, MNIST style), its answer and how sure; "
               "orange when unsure. Pick the right digit under one that was misread.")
    with st.container(horizontal=True, gap="xsmall", key="recognize_digits"):
        for i, d in enumerate(shown.digits):
            with st.container(width=DIGIT_CARD_WIDTH, gap="xsmall", key=f"recognize_digit_{i}"):
                st.image(support.pixelated(d.image, 2), width=56)
                colour = "orange" if support.is_uncertain(d) else "green"
                st.markdown(f"**{i + 1}:** :{colour}-badge[**{d.label}** {percent(d.confidence)}]")
                others = [f"{label} {percent(p)}" for label, p in d.top3[1:] if p >= 0.01]
                if others:
                    st.caption("or " + ", ".join(others))
                fix.digit_picker(photo, shown, i)


def show_stages(shown: Reading) -> None:
    with st.expander(f"How it was read: {len(shown.stages)} steps", expanded=not shown.digits, key="recognize_stages",
                     on_change="rerun", icon=":material/account_tree:") as stages:
        if not stages.open:
            return  # the stage images are made and sent only when asked for
        st.caption("Every step from the photo to the digits, in order. "
                   "If a number was misread, look for the step where it went wrong.")
        with st.container(horizontal=True, gap="small"):
            for i, (name, image) in enumerate(shown.stages, 1):
                st.image(image, caption=support.stage_caption(i, name), width=min(STAGE_WIDTH, image.shape[1] * 3))


def show_reading(result: support.ReadResult, photo: fix.Photo, expected: str | None, classify, polarity: str) -> None:
    """The full view of one input."""
    if result.reading is None:
        st.error(result.error, icon=":material/error:")
        return
    base = result.reading
    try:
        shown = fix.edited(base, photo, classify, polarity)
    except ValueError as exc:
        st.error(f"The boxes you changed could not be used ({exc}); showing them as read.", icon=":material/error:")
        shown = base
    headline(shown, expected)
    show_warnings(shown)
    if base.image is not None:
        show_photo(result.name, shown, fix.pending_box(photo, shown))
        fix.sync_typed_text(photo, shown)
        fix.correction_panel(photo, base, shown, polarity)
    if shown.digits:
        show_digits(photo, shown)
    show_stages(shown)
