"""Settings that last, in a real browser: the model chosen for Recognize and the MNIST data folder
typed on the Train page survive a reload of the page and a restart of the server (they are kept
in settings.json beside the models, digitlib.app_settings)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from playwright.sync_api import expect

from digitlib.checkpoint import SHIPPED_MODEL
from tests import browser

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    shutil.copy(SHIPPED_MODEL, folder / "mine.pt")
    return folder


def server_env(models_dir, data_dir, tmp_path_factory) -> dict[str, str]:
    return {"DIGITLIB_MODELS": str(models_dir), "DIGITLIB_DATA": str(data_dir),
            "DIGITLIB_PERSONAL": str(tmp_path_factory.getbasetemp() / "personal")}


def model_box(page):
    return page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model", exact=True)


def open_recognize(chromium, url):
    page = browser.open_page(chromium, url + "/recognize")
    page.get_by_role("heading", name="Recognize").wait_for()
    return page


def data_field(page):
    return page.get_by_label("MNIST data folder", exact=True)


def open_train(chromium, url):
    page = browser.open_page(chromium, url + "/train")
    page.get_by_role("heading", name="Train a digit model").wait_for()
    return page


def test_model_and_data_folder_survive_reload_and_restart(chromium, models_dir, data_dir, tmp_path_factory):
    env = server_env(models_dir, data_dir, tmp_path_factory)
    typed_folder = str(tmp_path_factory.mktemp("my-mnist-copy"))
    with browser.streamlit_server(env=env) as server:
        page = open_recognize(chromium, server.url)
        expect(model_box(page)).to_have_value(re.compile("^Shipped model"))
        model_box(page).click()
        page.get_by_role("option", name=re.compile("^mine")).click()
        expect(model_box(page)).to_have_value(re.compile("^mine"))
        browser.wait_until_idle(page)
        page.reload()
        page.get_by_role("heading", name="Recognize").wait_for()
        expect(model_box(page)).to_have_value(re.compile("^mine"))  # a new session, the same model
        page.context.close()

        page = open_train(chromium, server.url)
        expect(data_field(page)).to_have_value(str(data_dir))  # $DIGITLIB_DATA until one is typed
        data_field(page).fill(typed_folder)
        data_field(page).press("Enter")
        browser.wait_until_idle(page)
        page.get_by_text(re.compile("MNIST is not in")).wait_for()  # the empty folder is noticed
        page.reload()
        page.get_by_role("heading", name="Train a digit model").wait_for()
        expect(data_field(page)).to_have_value(typed_folder)
        # The models table marks the remembered model as the active one.
        browser.screenshot(page, "settings-train-after-reload")
        page.context.close()

    saved = json.loads((models_dir / "settings.json").read_text())
    assert saved["active_model"] == str(models_dir / "mine.pt") and saved["data_folder"] == typed_folder

    with browser.streamlit_server(env=env) as server:  # a restart
        page = open_recognize(chromium, server.url)
        expect(model_box(page)).to_have_value(re.compile("^mine"))
        page.context.close()
        page = open_train(chromium, server.url)
        expect(data_field(page)).to_have_value(typed_folder)
        # Emptying the field goes back to $DIGITLIB_DATA, and that is remembered too.
        data_field(page).fill("")
        data_field(page).press("Enter")
        browser.wait_until_idle(page)
        page.reload()
        page.get_by_role("heading", name="Train a digit model").wait_for()
        expect(data_field(page)).to_have_value(str(data_dir))
        assert not browser.streamlit_error_texts(page)
        page.context.close()
