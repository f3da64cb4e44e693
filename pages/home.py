"""Home: what the app does and where to start."""

import streamlit as st

from digitlib.app_support import ensure_app_navigation

ensure_app_navigation()

st.title("Digits")
st.markdown(
    "Read **handwritten numbers** from a webcam snapshot, a phone photo or a scan. "
    "A small convolutional network trained on MNIST reads each digit; the app shows the "
    "number, how sure the model is of every digit, and each step from the photo to the digits."
)

left, middle, right = st.columns(3, gap="large")
with left.container(border=True):
    st.subheader(":material/photo_camera: Recognize")
    st.markdown(
        "1. Write a number on paper with a dark pen or marker.\n"
        "2. Hold it up to the webcam and take a photo, or upload photos and scans "
        "(several at once give a table and a CSV).\n"
        "3. No webcam? Try one of the built-in samples."
    )
    st.page_link("pages/recognize.py", label="Read a number", icon=":material/arrow_forward:")
with middle.container(border=True):
    st.subheader(":material/model_training: Train")
    st.markdown(
        "Train your own model on MNIST, watch its accuracy grow, compare it with the "
        "shipped model, and use it on the Recognize page."
    )
    st.page_link("pages/train.py", label="Train a model", icon=":material/arrow_forward:")
with right.container(border=True):
    st.subheader(":material/collections: My digits")
    st.markdown(
        "Correct a misread digit on the Recognize page and it is kept here. Fine-tune a model "
        "on your own digits on the Train page, so it learns your handwriting."
    )
    st.page_link("pages/my_digits.py", label="See my digits", icon=":material/arrow_forward:")

with st.expander("Tips for a good reading", icon=":material/lightbulb:"):
    st.markdown(
        "- Thick strokes read better than thin ones; leave a gap between digits.\n"
        "- Fill most of the picture with the number, in even light, without a shadow across it.\n"
        "- If a number is misread, open *How it was read* to see which step went wrong, and try "
        "the *Digit colour* or *Minimum digit height* settings in the sidebar."
    )
