"""Home: what the app does and where to start."""

import streamlit as st

from pages.ui.navigation import ensure_app_navigation

CARDS = [  # (title, what it does, page, link label)
    (":material/photo_camera: Recognize",
     "1. Write a number on paper with a dark pen or marker.\n"
     "2. Hold it up to the webcam and take a photo, or upload photos and scans "
     "(several at once give a table and a CSV).\n"
     "3. No webcam? Try one of the built-in samples.",
     "pages/recognize.py", "Read a number"),
    (":material/model_training: Train",
     "Train your own model on MNIST, watch its accuracy grow, compare it with the "
     "shipped model, and use it on the Recognize page.",
     "pages/train.py", "Train a model"),
    (":material/collections: My digits",
     "Correct a misread digit on the Recognize page and it is kept here. Fine-tune a model "
     "on your own digits on the Train page, so it learns your handwriting.",
     "pages/my_digits.py", "See my digits"),
]


def main() -> None:
    ensure_app_navigation()
    st.title("Digits")
    st.markdown(
        "Read **handwritten numbers** from a webcam snapshot, a phone photo or a scan. "
        "A small convolutional network trained on MNIST reads each digit; the app shows the "
        "number, how sure the model is of every digit, and each step from the photo to the digits."
    )

    for column, (title, text, page, label) in zip(st.columns(len(CARDS), gap="large"), CARDS):
        with column.container(border=True):
            st.subheader(title)
            st.markdown(text)
            st.page_link(page, label=label, icon=":material/arrow_forward:")

    with st.expander("Tips for a good reading", icon=":material/lightbulb:"):
        st.markdown(
            "- Thick strokes read better than thin ones; leave a gap between digits.\n"
            "- Fill most of the picture with the number, in even light, without a shadow across it.\n"
            "- If a number is misread, open *How it was read* to see which step went wrong, and try "
            "the photo tools above the photo: *Turn*, *Crop*, *Digit colour* or *Smallest digit*."
        )


main()
