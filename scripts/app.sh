#!/usr/bin/env bash
# Install the app's requirements into .venv and start the app (http://localhost:8501).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
# digitlib itself, editable: the tests, scripts and app import the package as users do.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
exec .venv/bin/python -m streamlit run streamlit_app.py "$@"
