"""The digits app: read handwritten numbers from webcam photos, uploads and samples.

Run it with ``scripts/app.sh`` (or ``streamlit run streamlit_app.py``). This file only
sets up the pages; each page lives in ``pages/``.
"""

import streamlit as st

st.set_page_config(page_title="Digits", page_icon=":material/pin:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/recognize.py", title="Recognize", icon=":material/photo_camera:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/my_digits.py", title="My digits", icon=":material/collections:"),
]

st.navigation(pages).run()
