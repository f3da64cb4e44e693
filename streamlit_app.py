"""The digits app: read handwritten numbers from webcam photos, uploads and samples.

Run it with ``scripts/app.sh`` (or ``streamlit run streamlit_app.py``). This file only
sets up the pages; each page lives in ``pages/``, their list in ``pages/ui/navigation.py``.
"""

from pages.ui.navigation import run_app

run_app()
