"""The Recognize page's corrections: type the right number, fix single digits, fix the boxes, save.

What the user typed is kept per photo (``Photo.key``, a hash of its bytes), whatever happens to
the boxes: it follows the reading only until the user types or picks a digit. Box edits (boxes
left out, boxes added) are kept per reading, so another digit colour or crop starts afresh; the
page shows the reading with them applied (``digitlib.rescue.edit_reading``), and saving pairs
each typed digit with the picture in its box (``digitlib.personal.save_correction``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st

from digitlib import personal, rescue
from digitlib.reading.result import Reading

state = st.session_state
BOX_FIELDS = ("x", "y", "width", "height")


@dataclass(frozen=True)
class Photo:
    """One input as the corrections know it: ``key`` names its widgets, ``name`` is its file name."""

    key: str
    name: str

    @classmethod
    def of(cls, name: str, data: bytes) -> "Photo":
        return cls(hashlib.sha256(data).hexdigest()[:12], name)


def _text_key(photo: Photo) -> str:
    return f"recognize_fix_{photo.key}_text"


def _typed_key(photo: Photo) -> str:
    return f"recognize_fix_{photo.key}_typed"


def _edits_key(photo: Photo, base: Reading) -> str:
    return f"recognize_boxes_{photo.key}_{personal.reading_key([d.image for d in base.digits])}"


def editor_key(photo: Photo) -> str:
    return f"recognize_boxes_open_{photo.key}"


SHOWN = "recognize_fix_shown"  # (photo key, the reading on the page): one at a time, not one per photo


def _shown(photo: Photo) -> Reading | None:
    """The reading on the page now: callbacks take it from here, not from their arguments, since a
    click can come while the page is being drawn again with other boxes. None when another
    photo is shown now (a late click on a photo gone: it does nothing)."""
    key, shown = state.get(SHOWN, (None, None))
    return shown if key == photo.key else None


def _message(photo: Photo, kind: str, text: str) -> None:
    state["recognize_fix_message"] = (photo.key, kind, text)


def _typed_count(photo: Photo) -> int:
    return sum(c.isdigit() for c in state.get(_text_key(photo), ""))


# --------------------------------------------------------------------------- the reading with its box edits


def edited(base: Reading, photo: Photo, classify, polarity: str) -> Reading:
    """``base`` with the user's box edits applied (itself when there are none)."""
    edits = state.get(_edits_key(photo, base))
    state[SHOWN] = (photo.key, base)  # until the edits are applied (they can fail: ValueError)
    if edits and (edits["removed"] or edits["added"]):
        state[SHOWN] = (photo.key, rescue.edit_reading(base, classify, edits["removed"], edits["added"], polarity))
    return state[SHOWN][1]


def pending_box(photo: Photo, shown: Reading) -> tuple[int, int, int, int] | None:
    """The box being placed in the open box editor (pixels of the photo shown), to draw on the photo."""
    if not state.get(editor_key(photo)):
        return None
    suggestion = rescue.suggest_box(shown)
    return tuple(int(state.get(f"recognize_box_{photo.key}_{f}", v)) for f, v in zip(BOX_FIELDS, suggestion))


def _add_box(photo: Photo, base: Reading, polarity: str) -> None:
    box = tuple(int(state[f"recognize_box_{photo.key}_{f}"]) for f in BOX_FIELDS)
    try:
        rescue.digit_from_box(base.image, box, rescue.box_polarity(base, polarity))  # refuse a box with no digit in it now
    except ValueError as exc:
        _message(photo, "error", f"That box was not added: {exc}.")
        return
    edits = state.setdefault(_edits_key(photo, base), {"removed": [], "added": []})
    edits["added"].append(box)
    _message(photo, "info", f"Box added at x={box[0]}, y={box[1]} ({box[2]} x {box[3]} px).")
    for f in BOX_FIELDS:  # the next box starts from a new suggestion
        state.pop(f"recognize_box_{photo.key}_{f}", None)


def _delete_box(photo: Photo, base: Reading, key: str) -> None:
    j, shown = state.get(key), _shown(photo)
    if j is None or shown is None or j >= len(shown.digits):
        return
    edits = state.setdefault(_edits_key(photo, base), {"removed": [], "added": []})
    box = shown.digits[j].box
    for i, d in enumerate(base.digits):
        if d.box == box and i not in edits["removed"]:
            edits["removed"].append(i)
            break
    else:
        edits["added"] = [b for b in edits["added"]
                          if tuple(int(round(v / base.scale)) for v in b) != tuple(box)]
    _message(photo, "info", f"Box {j + 1} deleted.")


def _reset_boxes(photo: Photo, base: Reading) -> None:
    state.pop(_edits_key(photo, base), None)
    _message(photo, "info", "The boxes are as read again.")


def box_editor(photo: Photo, base: Reading, shown: Reading, polarity: str) -> None:
    """Add, delete (and so move) digit boxes on the photo. Opens by itself when the typed number
    has another count of digits than the photo has boxes."""
    key = editor_key(photo)
    typed, boxes = _typed_count(photo), len(shown.digits)
    if typed and typed != boxes and not state.get(f"{key}_opened"):
        state[key] = state[f"{key}_opened"] = True
    h, w = base.image.shape[:2]
    with st.expander("Fix the boxes: add, move or delete", key=key, on_change="rerun",
                     icon=":material/crop_free:") as editor:
        if not editor.open:
            return
        if typed and typed != boxes:
            st.caption(f":orange[You typed {typed} digits; the photo has {boxes} box{'es' if boxes != 1 else ''}.]")
        if shown.digits:
            delete_key = f"recognize_box_delete_{photo.key}_{len(shown.digits)}_{shown.text}"
            st.pills("Delete a box", list(range(len(shown.digits))), key=delete_key,
                     format_func=lambda j: f"{j + 1}: {shown.digits[j].label}",
                     on_change=_delete_box, args=(photo, base, delete_key),
                     help="Delete the box of a speck, or of a digit to draw again elsewhere (move).")
        st.caption(f"Add a box: its corner and size in pixels of the photo above ({w} x {h}); the lilac box on "
                   "the photo shows where it will go.")
        suggestion = rescue.suggest_box(shown)
        limits = (w - 1, h - 1, w, h)
        with st.container(horizontal=True, gap="small"):
            for field, value, top in zip(BOX_FIELDS, suggestion, limits):
                st.number_input(field.capitalize(), min_value=0 if field in "xy" else 2, max_value=top,
                                value=min(int(value), top), step=5, key=f"recognize_box_{photo.key}_{field}",
                                width=100)
        with st.container(horizontal=True, gap="small"):
            st.button("Add box", key=f"recognize_box_add_{photo.key}", icon=":material/add_box:",
                      on_click=_add_box, args=(photo, base, polarity))
            if state.get(_edits_key(photo, base)):
                st.button("Boxes as read", key=f"recognize_box_reset_{photo.key}", icon=":material/undo:",
                          on_click=_reset_boxes, args=(photo, base))


# --------------------------------------------------------------------------- typing and saving


def _picker_keys(photo: Photo, shown: Reading) -> list[str]:
    key = personal.reading_key([d.image for d in shown.digits])
    return [f"recognize_fix_{photo.key}_{key}_{i}" for i in range(len(shown.digits))]


def _typed(photo: Photo) -> None:
    """The typed number changed: it is the user's now; when it fits the boxes, the pickers follow."""
    shown = _shown(photo)
    if shown is None:
        return
    state[_typed_key(photo)] = True
    state.pop("recognize_fix_message", None)  # an old "saved" would mislead now
    for k, label in zip(_picker_keys(photo, shown), personal.match_correction(state[_text_key(photo)],
                                                                              len(shown.digits)).labels):
        state[k] = label


def _digit_fixed(photo: Photo) -> None:
    """A digit's picker changed: rewrite the typed number to match."""
    shown = _shown(photo)
    if shown is None:
        return
    state[_typed_key(photo)] = True
    state.pop("recognize_fix_message", None)
    state[_text_key(photo)] = personal.correction_text([state[k] for k in _picker_keys(photo, shown)],
                                                       [d.row for d in shown.digits])


def digit_picker(photo: Photo, shown: Reading, i: int) -> None:
    """The 'Right digit' picker of the ``i``-th digit (0-based) of the reading shown."""
    keys = _picker_keys(photo, shown)
    if keys[i] not in state:
        typed = personal.match_correction(state.get(_text_key(photo), ""), len(keys)).labels
        state[keys[i]] = typed[i] if typed else shown.digits[i].label
    st.selectbox("Right digit", list(range(10)), key=keys[i], on_change=_digit_fixed, args=(photo,),
                 label_visibility="collapsed")


def _save(photo: Photo) -> None:
    typed, shown = state[_text_key(photo)], _shown(photo)
    if shown is None:
        return
    try:
        correction, report = personal.save_correction([d.image for d in shown.digits], typed,
                                                      source=f"Recognize: {photo.name}")
    except (personal.PersonalSetError, OSError) as exc:
        _message(photo, "error", f"Nothing was saved: {exc}")
        return
    if report is None:
        _message(photo, "warning", f"Nothing was saved. {correction.message}")
    elif not (report.added or report.relabelled):
        _message(photo, "info", f"These {report.total} digits are already in My digits with these labels: "
                                "nothing new was saved.")
    else:
        n = report.total
        _message(photo, "success", f"Saved {n} digit{'s' if n != 1 else ''} to My digits ({report.describe()}).")


def sync_typed_text(photo: Photo, shown: Reading) -> None:
    """Until the user types, the number to correct is the reading's."""
    if not state.get(_typed_key(photo)):
        state[_text_key(photo)] = personal.correction_text([d.label for d in shown.digits],
                                                           [d.row for d in shown.digits])


def correction_panel(photo: Photo, base: Reading, shown: Reading, polarity: str) -> None:
    """Type the right number (or pick single digits), fix the boxes, and save the digits with their labels."""
    with st.container(border=True, key="recognize_correct"):
        st.markdown("**Misread? Correct it, and teach the model your handwriting**")
        st.caption("Type the right number (or pick digits below), then save: each digit's picture is kept with "
                   "its label in *My digits*, to fine-tune the model on. A digit without a box? *Fix the boxes*.")
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        left.text_input("The number is", key=_text_key(photo), on_change=_typed, args=(photo,),
                        help="The digits in reading order, one per box; separate rows with /. Spaces are ignored.")
        right.button("Save to My digits", key=f"recognize_fix_{photo.key}_save", icon=":material/save:",
                     on_click=_save, args=(photo,), width="stretch")
        message = state.get("recognize_fix_message")
        if message and message[0] == photo.key:
            _, kind, text = message
            icons = {"success": ":material/check_circle:", "warning": ":material/warning:",
                     "info": ":material/info:", "error": ":material/error:"}
            getattr(st, kind)(text, icon=icons[kind])
            if kind == "success":
                st.page_link("pages/my_digits.py", label="Open My digits", icon=":material/arrow_forward:")
        box_editor(photo, base, shown, polarity)
