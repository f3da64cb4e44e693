"""Helpers for real-browser tests: the app under ``streamlit run`` and Debian's Chromium
driven by Playwright. Shared by every page's browser tests.

Typical use in a test module::

    import pytest
    from tests import browser

    pytestmark = pytest.mark.browser

    @pytest.fixture(scope="module")
    def app_url():
        with browser.streamlit_server() as server:     # streamlit run on a free port
            yield server.url

    @pytest.fixture(scope="module")
    def chromium():
        with browser.chromium() as b:                  # fresh profile, flags that work as root
            yield b

    def test_something(app_url, chromium):
        page = browser.open_page(chromium, app_url + "/recognize")
        page.get_by_text("Upload").click()
        ...
        browser.screenshot(page, "recognize-upload")   # artifacts/screenshots/recognize-upload.png

What is here:

- ``streamlit_server(script, ...)``: a context manager that starts ``python -m streamlit run``
  as a subprocess (headless, no usage stats, no file watcher, on ``127.0.0.1`` and a free port),
  waits until ``/_stcore/health`` answers ``ok``, yields a ``StreamlitServer`` (``.url``,
  ``.port``, ``.log_text()``) and stops the whole process group afterwards. If the server
  dies or never gets healthy, the error includes the end of its log.
- ``chromium(extra_args=..., fake_camera=...)``: a context manager yielding a Playwright
  ``Browser`` launched from ``/usr/bin/chromium`` (``$DIGITS_CHROMIUM`` overrides) with
  ``CHROMIUM_ARGS``. ``fake_camera=path.mjpeg`` adds the flags that make Chromium's webcam play
  that file. Playwright's ``launch`` gives every browser a fresh temporary profile.
- ``open_page(browser, url, camera=False)``: a new context (1280x900 viewport, ``camera``
  permission granted when asked) and page, navigated to ``url`` and waited until the app has
  rendered.
- ``wait_until_idle(page)``: wait until the Streamlit script is no longer running.
- ``screenshot(page, name)``: save a full-page PNG to ``artifacts/screenshots/NAME.png``
  (gitignored; CI can keep the folder as an artifact) and return its path.
- ``mjpeg_from_image(src, dst)``: write a one-frame MJPEG file (640x480) from an image, for
  ``--use-file-for-fake-video-capture``.
- ``streamlit_error_texts(page)``: the text of every exception box on the page (to assert that
  no traceback is shown).

Chromium must be installed (``scripts/test.sh`` installs Debian's ``chromium`` when missing);
these helpers fail loudly rather than skip when it is not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("DIGITS_CHROMIUM", "/usr/bin/chromium")

#: Flags that let Chromium run headless as root in a container without network chatter.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # a phone held upright


def content_height(page) -> float:
    """How tall the page's content is, in CSS px, from the top of the document to the bottom of
    its last element (Streamlit scrolls inside its main container, not the document)."""
    return page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            const items = [...document.querySelectorAll('[data-testid="stMainBlockContainer"] [data-testid="stElementContainer"]')]
                .filter(e => e.getBoundingClientRect().height > 0);
            return Math.max(...items.map(e => e.getBoundingClientRect().bottom)) + (main ? main.scrollTop : 0);
        }"""
    )


# --------------------------------------------------------------------------- the app


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StreamlitServer:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def log_text(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


@contextlib.contextmanager
def streamlit_server(
    script: str | os.PathLike = "streamlit_app.py",
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 90.0,
) -> Iterator[StreamlitServer]:
    """Run ``streamlit run script`` (relative to the repository root) until the block ends.

    ``env`` is added to the current environment (e.g. ``{"DIGITLIB_MODELS": tmp}``);
    ``extra_args`` go after the script's Streamlit options (e.g. ``["--server.maxUploadSize=1"]``).
    """
    port = port or free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="streamlit-log-"))
    log_path = log_dir / "server.log"
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--browser.gatherUsageStats=false",
        "--global.developmentMode=false",
        *extra_args,
    ]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH", "")]))
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = StreamlitServer(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path)
    try:
        _wait_healthy(server, timeout)
        yield server
    finally:
        _stop(process)


def _wait_healthy(server: StreamlitServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    health = f"{server.url}/_stcore/health"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with code {server.process.returncode} before it was healthy:\n"
                + server.log_text()
            )
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"streamlit was not healthy at {health} after {timeout:.0f} s:\n" + server.log_text())


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and anything it started (it runs in its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --------------------------------------------------------------------------- the browser


def fake_camera_args(video: str | os.PathLike) -> list[str]:
    """Chromium flags that replace the webcam by ``video`` (an .mjpeg or .y4m file) and
    accept the camera prompt automatically."""
    path = Path(video).resolve()
    if not path.is_file():
        raise FileNotFoundError(path)
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={path}",
    ]


@contextlib.contextmanager
def chromium(*, extra_args: Sequence[str] = (), fake_camera: str | os.PathLike | None = None):
    """A headless Playwright ``Browser`` on Debian's Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(
            f"Chromium not found at {CHROMIUM}: install it (Debian: apt-get install chromium) "
            "or run scripts/test.sh, which does"
        )
    args = [*CHROMIUM_ARGS, *extra_args]
    if fake_camera is not None:
        args += fake_camera_args(fake_camera)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, *, camera: bool = False, timeout_ms: float = 60_000,
              viewport: dict | None = None, color_scheme: str | None = None):
    """A new context and page at ``url``, once the Streamlit app has rendered and is idle.

    ``camera=True`` grants the camera permission to the app's origin. ``viewport`` (default
    ``VIEWPORT``; ``PHONE`` for a phone) and ``color_scheme`` ("light" or "dark", the browser's
    preference) set up the context. Close the page's context with ``page.context.close()``
    when done (or let the browser close it).
    """
    context = browser.new_context(viewport=viewport or VIEWPORT, device_scale_factor=1,
                                  **({"color_scheme": color_scheme} if color_scheme else {}))
    if camera:
        context.grant_permissions(["camera"], origin=_origin(url))
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    wait_until_idle(page, timeout_ms=timeout_ms)
    return page


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def wait_until_idle(page, *, timeout_ms: float = 60_000) -> None:
    """Wait until the app is connected and its script has finished running.

    Right after an interaction the rerun may not have started yet, so prefer waiting for
    the element you expect; use this as well before a screenshot.
    """
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
        ':not([data-test-script-state="running"])',
        timeout=timeout_ms,
    )
    # The status widget ("Running...") disappears when the run ends.
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout_ms)


def screenshot(page, name: str, *, full_page: bool = True, max_height: int = 8000) -> Path:
    """Save a PNG of the page to ``artifacts/screenshots/NAME.png`` and return the path.

    Streamlit scrolls inside its main container rather than the document, so for a full-page
    shot the viewport is made as tall as the content (at most ``max_height`` px) for the shot
    and restored afterwards.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    original = page.viewport_size
    if full_page and original:
        height = page.evaluate(
            """() => Math.max(document.documentElement.scrollHeight,
                ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stMainBlockContainer"],'
                    + ' [data-testid="stSidebarContent"]')].map(e => e.scrollHeight + e.getBoundingClientRect().top))"""
        )
        height = int(min(max(height, original["height"]), max_height))
        if height > original["height"]:
            page.set_viewport_size({"width": original["width"], "height": height})
            page.wait_for_timeout(400)  # let the layout settle and lazy images load
    try:
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    finally:
        if original and page.viewport_size != original:
            page.set_viewport_size(original)
    return path


def streamlit_error_texts(page) -> list[str]:
    """The text of every Streamlit exception box (a traceback) on the page."""
    return page.locator('[data-testid="stException"]').all_inner_texts()


# --------------------------------------------------------------------------- test data


def mjpeg_from_image(src: str | os.PathLike, dst: str | os.PathLike, size: tuple[int, int] = (640, 480)) -> Path:
    """Write ``src`` as a one-frame MJPEG file of ``size`` (width, height), letterboxed on
    the image's own border colour, for Chromium's fake webcam."""
    import cv2
    import numpy as np

    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read {src}")
    w, h = size
    scale = min(w / img.shape[1], h / img.shape[0])
    resized = cv2.resize(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    border = np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]), axis=0)
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = border.astype(np.uint8)
    y, x = (h - resized.shape[0]) // 2, (w - resized.shape[1]) // 2
    canvas[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    ok, jpeg = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError(f"cannot encode {src} as JPEG")
    dst = Path(dst)
    dst.write_bytes(jpeg.tobytes())
    return dst
