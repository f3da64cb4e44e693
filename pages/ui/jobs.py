"""The server's training jobs: one ``digitlib.jobs.JobRegistry`` per Streamlit server process."""

from __future__ import annotations

import streamlit as st

from digitlib.jobs import JobRegistry


@st.cache_resource(show_spinner=False)
def server_registry() -> JobRegistry:
    """The server-wide registry, held in ``st.cache_resource`` so every session and tab of one
    Streamlit server sees the same jobs. Tests in the same process reach the same object by
    calling this too."""
    return JobRegistry()
