"""The Recognize page in a real browser: Debian's Chromium through Playwright against
``streamlit run``. Upload a photo, take a photo with a (fake) webcam, upload a corrupt
file. Each test saves a screenshot to artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest

from digitlib.checkpoint import SHIPPED_MODEL
from tests import browser
from tests.support import SAMPLES_DIR

pytestmark = pytest.mark.browser

READ_TIMEOUT_MS = 90_000  # the CPUs are shared; the first reading also loads the model


@pytest.fixture(scope="module")
def app_url():
    assert SHIPPED_MODEL.is_file(), f"the shipped model {SHIPPED_MODEL} is missing"
    with browser.streamlit_server() as server:
        yield server.url


@pytest.fixture(scope="module")
def webcam_video(tmp_path_factory, samples_dir):
    """A one-frame MJPEG 'webcam' showing a real webcam sample of 68539."""
    return browser.mjpeg_from_image(samples_dir / "webcam-68539.png",
                                    tmp_path_factory.mktemp("webcam") / "photo.mjpeg")


@pytest.fixture(scope="module")
def chromium(webcam_video):
    with browser.chromium(fake_camera=webcam_video) as b:
        yield b


def recognize(chromium, app_url, *, camera: bool = False):
    page = browser.open_page(chromium, app_url + "/recognize", camera=camera)
    page.get_by_role("heading", name="Recognize").wait_for()
    return page


def choose_mode(page, name: str) -> None:
    page.get_by_role("radiogroup", name="Input").get_by_role("radio", name=re.compile(name)).click()


def number_on_page(page, expected: str) -> str:
    """Wait for the 'Number' metric to show ``expected`` and return the metric's text."""
    value = page.locator('[data-testid="stMetric"]').filter(has_text="Number").locator('[data-testid="stMetricValue"]')
    value.filter(has_text=expected).wait_for(timeout=READ_TIMEOUT_MS)
    return value.inner_text().strip()


def finish(page, name: str) -> None:
    browser.wait_until_idle(page)
    page.wait_for_timeout(300)  # let images finish painting
    browser.screenshot(page, name)
    assert not browser.streamlit_error_texts(page), "a traceback is shown on the page"


def test_upload_a_photo_and_read_the_number(app_url, chromium):
    # The first visit to a fresh server is a deep link to /recognize: the app's own
    # navigation (titled pages), not Streamlit's plain pages/ listing, must be shown.
    page = recognize(chromium, app_url)
    nav = page.locator('[data-testid="stSidebarNav"]')
    for title in ("Home", "Recognize", "Train"):
        nav.get_by_text(title, exact=True).wait_for()
    assert nav.get_by_text("streamlit app").count() == 0
    choose_mode(page, "Upload")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(SAMPLES_DIR / "webcam-3450.png"))
    assert number_on_page(page, "3450") == "3450"
    # The digits strip and the stages are there as well.
    page.get_by_role("heading", name="Digits").wait_for()
    page.get_by_text(re.compile(r"How it was read: \d+ steps")).wait_for()
    finish(page, "recognize-upload")
    page.context.close()


def test_take_a_photo_with_the_webcam(app_url, chromium):
    page = recognize(chromium, app_url, camera=True)
    take = page.get_by_role("button", name="Take Photo")
    take.wait_for()
    # The button is enabled once the (fake) webcam's stream is playing.
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Take Photo' && !b.disabled)",
        timeout=30_000,
    )
    page.wait_for_timeout(500)  # a frame or two, so the snapshot is not black
    take.click()
    assert number_on_page(page, "68539") == "68539"
    finish(page, "recognize-webcam")
    page.context.close()


def test_corrupt_upload_shows_an_error(app_url, chromium):
    page = recognize(chromium, app_url)
    choose_mode(page, "Upload")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\nthis is not really a PNG"}
    )
    error = page.locator('[data-testid="stAlertContentError"]').filter(has_text="could not be read")
    error.wait_for(timeout=READ_TIMEOUT_MS)
    assert "broken.png" in error.inner_text()
    finish(page, "recognize-corrupt-upload")
    page.context.close()
