"""The digits app: read handwritten numbers from webcam photos, uploads and samples.

Run it with ``scripts/app.sh`` (or ``streamlit run streamlit_app.py``). This file only
sets up the pages; each page lives in ``pages/``.
"""

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Digits", page_icon=":material/pin:", layout="wide")

HERE = Path(__file__).resolve().parent

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/recognize.py", title="Recognize", icon=":material/photo_camera:"),
]
if (HERE / "pages" / "train.py").is_file():
    pages.append(st.Page("pages/train.py", title="Train", icon=":material/model_training:"))

st.navigation(pages).run()
