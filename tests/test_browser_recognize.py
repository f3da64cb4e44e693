"""The Recognize page in a real browser: Debian's Chromium through Playwright against
``streamlit run``. Upload a photo, take a photo with a (fake) webcam, upload a corrupt
file; correct a dropped digit and save it; turn and crop; a phone-sized page; dark and light
themes; draw a number with mouse strokes. Each test
saves a screenshot to artifacts/screenshots/."""

from __future__ import annotations

import json
import math
import re

import cv2
import pytest
from playwright.sync_api import expect

from digitlib.checkpoint import SHIPPED_MODEL
from tests import browser
from tests.support import SAMPLES_DIR

pytestmark = pytest.mark.browser

READ_TIMEOUT_MS = 90_000  # the CPUs are shared; the first reading also loads the model


@pytest.fixture(scope="module")
def personal_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("personal")


@pytest.fixture(scope="module")
def app_url(personal_dir, tmp_path_factory):
    assert SHIPPED_MODEL.is_file(), f"the shipped model {SHIPPED_MODEL} is missing"
    env = {"DIGITLIB_PERSONAL": str(personal_dir), "DIGITLIB_MODELS": str(tmp_path_factory.mktemp("models"))}
    with browser.streamlit_server(env=env) as server:
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


def recognize(chromium, app_url, *, camera: bool = False, viewport: dict | None = None):
    page = browser.open_page(chromium, app_url + "/recognize", camera=camera, viewport=viewport)
    page.get_by_role("heading", name="Recognize").wait_for()
    return page


def choose_mode(page, name: str) -> None:
    page.get_by_role("radiogroup", name="Input").get_by_role("radio", name=re.compile(name)).click()


def number_on_page(page, expected: str) -> str:
    """Wait for the 'Number' metric to show exactly ``expected`` (not "3450" for "345") and return its text."""
    value = page.locator('[data-testid="stMetric"]').filter(has_text="Number").locator('[data-testid="stMetricValue"]')
    value.filter(has_text=re.compile(rf"^\s*{re.escape(expected)}\s*$")).wait_for(timeout=READ_TIMEOUT_MS)
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
    expect(page.locator('[class*="st-key-recognize_digits"] [data-testid="stImage"]')).to_have_count(4)
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


def upload(page, path_or_file) -> None:
    choose_mode(page, "Upload")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(path_or_file)


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    expect(box).to_have_value(str(value))
    browser.wait_until_idle(page)


def saved_labels(folder) -> list[int]:
    index = folder / "index.json"
    return [s["label"] for s in json.loads(index.read_text())["samples"]] if index.is_file() else []


def test_a_misplaced_box_is_moved_and_the_digits_saved(app_url, chromium, personal_dir):
    page = recognize(chromium, app_url)
    upload(page, str(SAMPLES_DIR / "webcam-3450.png"))
    number_on_page(page, "3450")
    # Digits under 130 px are ignored (the 0 is 125 px tall): the segmenter drops the 0.
    page.get_by_role("button", name=re.compile("Smallest digit")).click()
    set_number(page, "Minimum digit height (px)", 130)
    page.keyboard.press("Escape")
    # The sequence reader, reading the row whole, sees the left half of the 0 at the row's edge
    # and boxes it as a "6"; the readers disagree, and ink was left out where the 0 is: "3456" is
    # too unsure to be shown as the number. The page says so.
    page.get_by_test_id("stAlertContentWarning").filter(has_text="could not be read").filter(has_text="3456").wait_for()
    browser.wait_until_idle(page)
    typed = page.get_by_label("The number is", exact=True)
    expect(typed).to_have_value("3456")

    # The user deletes the box on half the 0 (to draw it again, whole) ...
    page.get_by_text("Fix the boxes: add, move or delete").click()
    page.get_by_test_id("stButtonGroup").get_by_text("4: 6", exact=True).click()
    assert number_on_page(page, "345") == "345"
    browser.wait_until_idle(page)
    # ... and types what is written: four digits for three boxes. Saving says how to go on.
    typed.fill("3450")
    typed.press("Enter")
    page.get_by_text("You typed 4 digits; the photo has 3 boxes.").wait_for()
    browser.wait_until_idle(page)
    page.get_by_role("button", name=re.compile("Save to My digits")).click()
    warning = page.get_by_test_id("stAlertContentWarning").filter(has_text="Nothing was saved")
    warning.wait_for()
    assert "You typed 4 digits but the photo has 3 digit boxes" in warning.inner_text()
    assert "Fix the boxes" in warning.inner_text()
    assert saved_labels(personal_dir) == []

    # Place a box on the 0 and add it.
    for label, value in (("X", 513), ("Y", 150), ("Width", 105), ("Height", 130)):
        set_number(page, label, value)
    page.get_by_role("button", name=re.compile("Add box")).click()
    assert number_on_page(page, "3450") == "3450"
    expect(typed).to_have_value("3450")  # what the user typed is kept
    browser.wait_until_idle(page)
    page.get_by_role("button", name=re.compile("Save to My digits")).click()
    success = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Saved 4 digits to My digits")
    success.wait_for()
    assert "4 new" in success.inner_text()
    assert saved_labels(personal_dir) == [3, 4, 5, 0]
    finish(page, "recognize-moved-box-saved")

    # Saving again adds nothing, and says so.
    page.get_by_role("button", name=re.compile("Save to My digits")).click()
    page.get_by_test_id("stAlertContentInfo").filter(has_text="nothing new was saved").wait_for()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_have_count(0)
    assert saved_labels(personal_dir) == [3, 4, 5, 0]
    page.context.close()


def test_turn_and_crop_before_reading(app_url, chromium, tmp_path):
    sideways = tmp_path / "sideways-3450.png"
    cv2.imwrite(str(sideways), cv2.rotate(cv2.imread(str(SAMPLES_DIR / "webcam-3450.png")),
                                          cv2.ROTATE_90_COUNTERCLOCKWISE))
    page = recognize(chromium, app_url)
    upload(page, str(sideways))
    caption = page.get_by_text(re.compile(r"each digit's box and label"))
    caption.filter(has_text="480 x 640 px").wait_for(timeout=READ_TIMEOUT_MS)
    page.get_by_role("button", name="Turn right").click()
    assert number_on_page(page, "3450") == "3450"
    caption.filter(has_text="640 x 480 px").wait_for()
    # Crop a fifth off the right: the 0 is cut away, and the photo is narrower.
    page.get_by_role("button", name=re.compile("Crop")).click()
    set_number(page, "Right (%)", 20)
    page.keyboard.press("Escape")
    assert number_on_page(page, "345") == "345"
    caption.filter(has_text="512 x 480 px").wait_for()
    finish(page, "recognize-turned-and-cropped")
    page.context.close()


def test_phone_sized_four_digit_reading_fits_in_about_two_screens(app_url, chromium):
    page = recognize(chromium, app_url, viewport=browser.PHONE)
    upload(page, str(SAMPLES_DIR / "webcam-3450.png"))
    assert number_on_page(page, "3450") == "3450"
    browser.wait_until_idle(page)
    page.wait_for_timeout(500)
    # The four 28x28 digits are one row of small pictures, not four screen-wide ones.
    digits = page.locator('[class*="st-key-recognize_digits"] [data-testid="stImage"] img')
    expect(digits).to_have_count(4)
    tops = {round(d.bounding_box()["y"]) for d in digits.all()}
    assert len(tops) == 1, f"the digits are not in one row: tops {sorted(tops)}"
    assert all(d.bounding_box()["width"] <= 60 for d in digits.all())
    height = browser.content_height(page)
    assert height <= 2.2 * browser.PHONE["height"], f"a four-digit reading is {height:.0f} px tall on a phone"
    finish(page, "recognize-phone")
    page.set_viewport_size(browser.VIEWPORT)
    finish(page, "recognize-desktop")
    page.context.close()


def test_an_unreadable_photo_says_what_to_try(app_url, chromium, tmp_path):
    crossed = tmp_path / "blot.png"  # a wide blot of ink: read as a "2" at 0.08
    img = cv2.rectangle(cv2.UMat(300, 400, cv2.CV_8UC3, (235, 235, 235)), (120, 110), (340, 190), (20, 20, 20), -1)
    cv2.imwrite(str(crossed), img)
    page = recognize(chromium, app_url)
    upload(page, str(crossed))
    warning = page.get_by_test_id("stAlertContentWarning").filter(has_text="could not be read")
    warning.wait_for(timeout=READ_TIMEOUT_MS)
    assert "Crop" in warning.inner_text() and "Turn" in warning.inner_text()
    expect(page.get_by_test_id("stMetric")).to_have_count(0)  # no big number, nothing to copy
    finish(page, "recognize-unreadable")
    page.context.close()


def background_rgb(page) -> str:
    return page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor")


@pytest.mark.parametrize("scheme, background", [("dark", "rgb(18, 21, 28)"), ("light", "rgb(255, 255, 255)")])
def test_theme_follows_the_browser_preference(app_url, chromium, scheme, background):
    page = browser.open_page(chromium, app_url + "/recognize", color_scheme=scheme)
    page.get_by_role("heading", name="Recognize").wait_for()
    upload(page, str(SAMPLES_DIR / "webcam-3450.png"))
    assert number_on_page(page, "3450") == "3450"
    assert background_rgb(page) == background  # the designed palette of config.toml's [theme.light/dark]
    text = page.evaluate("() => getComputedStyle(document.querySelector('h1')).color")
    brightness = sum(int(v) for v in re.findall(r"\d+", text)[:3]) / 3
    assert (brightness > 180) == (scheme == "dark"), f"heading colour {text} on the {scheme} theme"
    finish(page, f"recognize-{scheme}")
    page.set_viewport_size(browser.PHONE)
    finish(page, f"recognize-{scheme}-phone")
    page.context.close()


def stroke(page, points) -> None:
    """One pen stroke with the mouse through ``points`` (page px)."""
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=4)
    page.mouse.up()


def test_draw_a_number_and_read_it(app_url, chromium):
    page = recognize(chromium, app_url)
    choose_mode(page, "Draw")
    canvas = page.locator('iframe[title*="digit_canvas"]')
    canvas.wait_for()
    page.frame_locator('iframe[title*="digit_canvas"]').locator("canvas").wait_for()
    browser.wait_until_idle(page)
    box = canvas.bounding_box()
    x, y = box["x"], box["y"]
    stroke(page, [(x + 80, y + 50), (x + 80, y + 210)])  # 1
    assert number_on_page(page, "1") == "1"  # read as soon as a stroke ends
    stroke(page, [(x + 140, y + 55), (x + 230, y + 55), (x + 175, y + 210)])  # 7
    ring = [(x + 310 + 45 * math.sin(t / 20 * 2 * math.pi), y + 130 - 78 * math.cos(t / 20 * 2 * math.pi))
            for t in range(21)]
    stroke(page, ring)  # 0
    assert number_on_page(page, "170") == "170"
    finish(page, "recognize-drawn")
    # Clear: the drawing and its reading are gone.
    page.get_by_role("button", name=re.compile("Clear")).click()
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    # A thinner pen still reads.
    page.get_by_role("slider", name="Pen width").focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("slider", name="Pen width")).to_have_value("8")
    browser.wait_until_idle(page)
    stroke(page, [(x + 140, y + 55), (x + 230, y + 55), (x + 175, y + 210)])
    assert number_on_page(page, "7") == "7"
    page.context.close()
