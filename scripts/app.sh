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

# MNIST for the Train page: $DIGITLIB_DATA when set (DIGITLIB_DATA=~/mnist bash scripts/app.sh), else the
# project's shared copy when present. Made absolute, and checked now rather than at the first training run.
if [ -z "${DIGITLIB_DATA:-}" ] && [ -d ../shared/data/MNIST ]; then
  export DIGITLIB_DATA="$(cd ../shared/data && pwd)"
fi
if [ -n "${DIGITLIB_DATA:-}" ]; then
  if [ -d "$DIGITLIB_DATA" ]; then
    export DIGITLIB_DATA="$(cd "$DIGITLIB_DATA" && pwd)"
  fi
  if [ ! -d "$DIGITLIB_DATA/MNIST/raw" ]; then
    echo "warning: DIGITLIB_DATA=$DIGITLIB_DATA has no MNIST/raw folder; the Train page will try to download MNIST there" >&2
  fi
fi
exec .venv/bin/python -m streamlit run streamlit_app.py "$@"
