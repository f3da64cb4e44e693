"""Correct and learn in a real browser (Debian's Chromium through Playwright against
``streamlit run``): read a photo on the Recognize page, try a correction with the wrong number
of digits (nothing is saved, and the page says why), fix a single digit, save, then find the
digits in the My digits gallery. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests import browser
from tests.support import SAMPLES_DIR

pytestmark = pytest.mark.browser

READ_TIMEOUT_MS = 90_000  # the CPUs are shared; the first reading also loads the model
PHOTO = "webcam-3450.png"


@pytest.fixture(scope="module")
def personal_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("personal")


@pytest.fixture(scope="module")
def app_url(personal_dir, tmp_path_factory, samples_dir):
    env = {"DIGITLIB_PERSONAL": str(personal_dir), "DIGITLIB_MODELS": str(tmp_path_factory.mktemp("models"))}
    with browser.streamlit_server(env=env) as server:
        yield server.url


def saved_labels(folder) -> list[int]:
    index = folder / "index.json"
    return [s["label"] for s in json.loads(index.read_text())["samples"]] if index.is_file() else []


def test_correct_a_reading_then_find_the_digits_in_my_digits(app_url, chromium, personal_dir):
    page = browser.open_page(chromium, app_url + "/recognize")
    page.get_by_role("heading", name="Recognize").wait_for()
    page.get_by_role("radiogroup", name="Input").get_by_role("radio", name=re.compile("Upload")).click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(SAMPLES_DIR / PHOTO))
    number = page.get_by_test_id("stMetric").filter(has_text="Number").get_by_test_id("stMetricValue")
    number.filter(has_text="3450").wait_for(timeout=READ_TIMEOUT_MS)
    typed = page.get_by_label("The number is", exact=True)
    expect(typed).to_have_value("3450")
    save = page.get_by_role("button", name=re.compile("Save to My digits"))

    # Five digits typed for four boxes: nothing is saved, and the page says why.
    typed.fill("34507")
    typed.press("Enter")
    browser.wait_until_idle(page)
    save.click()
    warning = page.get_by_test_id("stAlertContentWarning").filter(has_text="nothing was saved")
    warning.wait_for()
    assert "You typed 5 digits but the photo has 4 digit boxes" in warning.inner_text()
    assert saved_labels(personal_dir) == []

    # Fix a single digit: the fourth box is really a 7. The typed number follows.
    pickers = page.get_by_role("combobox", name="Right digit", exact=True)
    expect(pickers).to_have_count(4)
    pickers.nth(3).click()
    page.keyboard.type("7")  # the list is short on space at the page's foot: filter it to the one option
    page.get_by_role("option", name="7", exact=True).click()
    expect(typed).to_have_value("3457")
    browser.wait_until_idle(page)
    save.click()
    success = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Saved 4 digits to My digits")
    success.wait_for()
    assert "4 new" in success.inner_text()
    assert saved_labels(personal_dir) == [3, 4, 5, 7]
    browser.wait_until_idle(page)
    page.wait_for_timeout(300)
    browser.screenshot(page, "recognize-corrected")
    assert not browser.streamlit_error_texts(page), "a traceback is shown on the page"

    # The link under the message opens My digits: one digit under each label, 4 in all.
    page.get_by_role("link", name=re.compile("Open My digits")).click()
    page.get_by_role("heading", name="My digits", exact=True).wait_for()
    page.wait_for_url(re.compile(r"/my_digits$"))
    for label in (3, 4, 5, 7):
        page.get_by_role("heading", name=f"Digit {label} · 1 saved").wait_for()
    expect(page.get_by_role("heading", name=re.compile(r"Digit 0 ·"))).to_have_count(0)
    total = page.get_by_test_id("stMetric").filter(has_text="Digits").get_by_test_id("stMetricValue")
    expect(total).to_have_text("4")
    gallery_images = page.get_by_test_id("stImage")
    expect(gallery_images).to_have_count(4)
    browser.wait_until_idle(page)
    page.wait_for_timeout(300)
    browser.screenshot(page, "my-digits-gallery")
    assert not browser.streamlit_error_texts(page), "a traceback is shown on the page"

    # Delete the 7 from the gallery: it is gone from the page and from the set.
    page.get_by_role("button", name=re.compile("Delete")).last.click()
    page.get_by_text("Deleted a 7.").wait_for()
    expect(page.get_by_role("heading", name=re.compile(r"Digit 7 ·"))).to_have_count(0)
    assert saved_labels(personal_dir) == [3, 4, 5]
    # On a phone the 28x28 digits stay small tiles, not screen-wide pictures.
    page.set_viewport_size(browser.PHONE)
    browser.wait_until_idle(page)
    page.wait_for_timeout(400)
    expect(gallery_images).to_have_count(3)
    assert all(img.bounding_box()["width"] <= 90 for img in gallery_images.locator("img").all())
    browser.screenshot(page, "my-digits-gallery-phone")
    page.context.close()
