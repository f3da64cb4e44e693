"""The app's Streamlit-side helpers, beside the pages: navigation, remembered settings (app_state),
the server's job registry, the Train page's parts (its settings form, results and models table,
charts) and the Recognize page's (reader, one reading's view, its corrections, the Draw canvas).

A folder, not ``pages/*.py`` files, so that Streamlit's pages-folder mode never lists them as
pages. Everything that needs no Streamlit lives in ``digitlib`` instead.
"""
