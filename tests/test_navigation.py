"""The app's navigation: every page is listed, and the one Streamlit internal it relies on is still there.

``pages/ui/navigation.ensure_app_navigation`` switches a fresh server out of Streamlit's
pages-folder mode (there is no supported setting for it). If an upgrade renames or drops the
switch, these tests fail, rather than deep links quietly opening pages without the app's
navigation. The browser test ``test_browser_recognize`` checks the deep link end to end.
"""

from __future__ import annotations

import inspect

from streamlit.runtime import pages_manager
from streamlit.runtime.scriptrunner import script_runner

from pages.ui.navigation import PAGES, PAGES_DIR


def test_every_page_script_is_in_the_navigation():
    scripts = {p.name for p in PAGES_DIR.glob("*.py")}
    assert {script for script, _, _ in PAGES} == scripts


def test_streamlit_still_decides_the_pages_folder_mode_by_the_flag_we_switch():
    assert hasattr(pages_manager.PagesManager, "uses_pages_directory"), (
        "Streamlit no longer has PagesManager.uses_pages_directory: revisit pages/ui/navigation.py")
    # The script runner takes the pages-folder path exactly when the flag is set.
    runner = inspect.getsource(script_runner.ScriptRunner)
    assert "PagesManager.uses_pages_directory" in runner and "_mpa_v1" in runner, (
        "Streamlit's script runner no longer keys its pages-folder mode on uses_pages_directory: "
        "revisit pages/ui/navigation.py")
    # ... and the flag starts from whether pages/ exists beside the main script.
    assert '"pages"' in inspect.getsource(pages_manager.PagesManager.__init__)
