"""The app's pages and the one workaround that keeps ``pages/`` and the app's navigation together.

Streamlit has two multipage modes. The app uses ``st.navigation`` in ``streamlit_app.py``
(titles, icons, page config). But a server whose main script has a ``pages/`` folder beside
it starts in the old pages-folder mode, and stays in it until some session has run
``st.navigation`` once: a deep link such as ``/train`` as the first visit to a fresh server
runs ``pages/train.py`` on its own, with a sidebar made from file names and without the
entry point's page config. Streamlit has no setting to turn that mode off (it is decided by
``PagesManager.uses_pages_directory``, set from whether ``pages/`` exists; see the README's
developer notes for what else was tried), so ``ensure_app_navigation`` switches the server
the way ``st.navigation`` itself does and reruns. It is the only place that touches a
Streamlit internal; ``tests/test_navigation.py`` fails loudly when an upgrade moves it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages.ui.app_state import init_session, warm_up_reader

PAGES_DIR = Path(__file__).resolve().parent.parent

#: (script in pages/, title, icon); the first is the default page.
PAGES = [
    ("home.py", "Home", ":material/home:"),
    ("recognize.py", "Recognize", ":material/photo_camera:"),
    ("train.py", "Train", ":material/model_training:"),
    ("my_digits.py", "My digits", ":material/collections:"),
]


def run_app() -> None:
    """The entry point's whole work: page config, then the page the URL names."""
    st.set_page_config(page_title="Digits", page_icon=":material/pin:", layout="wide")
    init_session()  # the remembered settings, before any page reads them
    warm_up_reader()
    pages = [st.Page(f"pages/{script}", title=title, icon=icon, default=i == 0)
             for i, (script, title, icon) in enumerate(PAGES)]
    st.navigation(pages).run()


def ensure_app_navigation() -> None:
    """Call first in every page script: a page opened in the pages-folder mode (see the
    module's docstring) switches the server to ``st.navigation`` mode, as the entry point's
    own ``st.navigation`` call would, and reruns, so the same page opens through
    ``streamlit_app.py``. Does nothing once the server is in ``st.navigation`` mode."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
