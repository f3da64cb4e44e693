"""The upload limits and their messages.

Two limits stand between an upload and the decoder: the size of the file
(``server.maxUploadSize`` in .streamlit/config.toml, enforced by Streamlit: its uploader
refuses bigger files with "File must be 20.0MB or smaller." and its server answers 413)
and the pixel limit in code (``digitlib.reading.decode.MAX_DECODE_PIXELS`` and the decoder's
memory budget ``MAX_DECODE_BYTES``), checked from the header before any pixel is decoded.
Whatever is over either gets a one-line message naming the file, and the page keeps working.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from digitlib import app_support as support
from digitlib.reading import decode
from tests.support import ROOT, SAMPLES_DIR
from tests.test_hostile_images import png_bomb

UPLOAD_LIMIT_MB = 20
TIMEOUT = 120


def test_streamlit_reads_the_upload_limit_from_the_repo_config():
    """The value Streamlit itself parses from .streamlit/config.toml, in a fresh process."""
    code = ("import streamlit.config as c; c.get_config_options(force_reparse=True); "
            "print(c.get_option('server.maxUploadSize'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-1000:]
    assert out.stdout.strip().splitlines()[-1] == str(UPLOAD_LIMIT_MB)
    assert UPLOAD_LIMIT_MB * 2**20 <= decode.MAX_FILE_BYTES  # the library never refuses what the app accepts


def test_readme_states_both_limits():
    readme = (ROOT / "README.md").read_text()
    if "maxUploadSize" not in readme:
        pytest.skip("the README's upload-limit text is not merged yet")
    assert f"maxUploadSize = {UPLOAD_LIMIT_MB}" in readme or f"{UPLOAD_LIMIT_MB} MB" in readme
    assert f"{decode.MAX_DECODE_PIXELS // 1_000_000} megapixel" in readme


def test_read_safely_turns_each_limit_into_one_line_naming_the_file():
    cases = {
        "big.jpg": (b"\xff\xd8\xff" + bytes(decode.MAX_FILE_BYTES), "larger than 50 MB"),
        "bomb.png": (png_bomb(10240, 10240), "more than the 50 megapixel limit"),
        "deep.png": (png_bomb(6000, 5000, 16, 6, full=False), "MB to decode"),
    }
    for name, (data, expected) in cases.items():
        result = support.read_safely(name, lambda data=data: decode.load_image(data))
        assert not result.ok and f"**{name}**" in result.error and expected in result.error, result.error
        assert "\n" not in result.error


def recognize_upload_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/recognize.py").run()
    at.segmented_control(key="recognize_mode").set_value("upload").run()
    assert not at.exception, at.exception
    return at


def test_the_uploader_tells_the_browser_the_size_limit_and_over_limit_images_get_a_message():
    at = recognize_upload_page()
    uploader = at.file_uploader(key="recognize_upload")
    assert uploader.proto.max_upload_size_mb == UPLOAD_LIMIT_MB
    uploader.set_value(("bomb.png", png_bomb(10240, 10240), "image/png")).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "bomb.png" in message and "10240x10240" in message and "50 megapixel limit" in message
    assert not at.metric
    # Several files, one of them too deep to decode: the others are still read.
    photo = (SAMPLES_DIR / "webcam-3450.png").read_bytes()
    at.file_uploader(key="recognize_upload").set_value([
        ("deep.png", png_bomb(6000, 5000, 16, 6, full=False), "image/png"),
        ("webcam-3450.png", photo, "image/png"),
    ]).run()
    assert not at.exception, at.exception
    assert any("deep.png" in e.value and "MB to decode" in e.value for e in at.error)
    table = at.dataframe[0].value  # the readings; the file that could not be read is the error above
    assert table["file"].tolist() == ["webcam-3450.png"] and table["number"].tolist() == ["3450"], table


# --------------------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_browser_refuses_a_file_over_the_upload_limit(tmp_path, samples_dir):
    from tests import browser

    big = tmp_path / "big.jpg"
    with open(big, "wb") as f:  # a JPEG signature and 21 MB of nothing
        f.write(b"\xff\xd8\xff\xe0")
        f.truncate((UPLOAD_LIMIT_MB + 1) * 2**20)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(10240, 10240))
    with browser.streamlit_server() as server, browser.chromium() as chromium:
        page = browser.open_page(chromium, server.url + "/recognize")
        page.get_by_role("radiogroup", name="Input").get_by_role("radio", name=re.compile("Upload")).click()
        dropzone = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        dropzone.set_input_files(str(big))
        page.get_by_text(re.compile(rf"File must be {UPLOAD_LIMIT_MB}(\.0)? ?MB or smaller")).wait_for(timeout=30_000)
        dropzone.set_input_files(str(bomb))
        page.get_by_text(re.compile(r"more than the 50 megapixel limit")).wait_for(timeout=90_000)
        browser.wait_until_idle(page)
        browser.screenshot(page, "recognize-upload-limits")
        assert not browser.streamlit_error_texts(page)
        page.context.close()
