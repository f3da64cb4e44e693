#!/usr/bin/env bash
# Install everything the tests need, then run them. Used by the README and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# digitlib itself, editable: the tests, scripts and app import the package as users do.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .

# The browser tests drive Debian's Chromium through Playwright (Playwright cannot download its own here).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
  else
    echo "error: the browser tests need Chromium at /usr/bin/chromium (Debian: sudo apt-get install chromium)" >&2
    exit 1
  fi
fi

# MNIST: the project's shared copy when present, else $DIGITLIB_DATA or the per-user cache.
if [ -z "${DIGITLIB_DATA:-}" ] && [ -d ../shared/data/MNIST ]; then
  export DIGITLIB_DATA="$(cd ../shared/data && pwd)"
fi
export DIGITLIB_SAMPLES="${DIGITLIB_SAMPLES:-$(cd .. && pwd)/shared/samples}"

exec .venv/bin/python -m pytest "$@"
