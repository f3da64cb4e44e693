"""The app's Streamlit-side helpers, beside the pages: navigation, the server's job registry, and
the Train page's parts (its settings form, results and models table, charts).

A folder, not ``pages/*.py`` files, so that Streamlit's pages-folder mode never lists them as
pages. Everything that needs no Streamlit lives in ``digitlib`` instead.
"""
