"""The Train page in a real browser: Debian's Chromium through Playwright against
``streamlit run``. Start a run and see the step counter grow, reload mid-run and switch
pages and see the same run continue, a second tab's Start is refused, stop it and see
the checkpoint listed. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests import browser

pytestmark = pytest.mark.browser

TALL = {"width": 1280, "height": 2000}
STEP_RE = re.compile(r"Step \(of ([\d,]+)\)\s+([\d,]+)")


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def app_url(models_dir, data_dir):
    env = {"DIGITLIB_MODELS": str(models_dir), "DIGITLIB_DATA": str(data_dir)}
    with browser.streamlit_server(env=env) as server:
        yield server.url


def open_train(chromium, app_url):
    """The app's front page, then Train in the sidebar, as a person would."""
    page = browser.open_page(chromium, app_url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train").click()
    page.get_by_role("heading", name="Train a digit model").wait_for()
    page.wait_for_url(re.compile(r"/train$"))
    page.set_viewport_size(TALL)  # the app scrolls inside its own container: show it all at once
    return page


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_function(
        "([label, value]) => [...document.querySelectorAll('input')].some("
        "i => i.getAttribute('aria-label') === label && i.value.replace(/,/g, '') === value)",
        arg=[label, str(value)],
    )
    browser.wait_until_idle(page)


def choose(page, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)
    browser.wait_until_idle(page)


def step_metric(page) -> tuple[int, int] | None:
    """(step, total) from the live view's Step metric, or None before the first report."""
    metric = page.get_by_test_id("stMetric").filter(has_text="Step").first
    match = STEP_RE.search(" ".join(metric.inner_text().split()))
    if not match:
        return None
    return int(match.group(2).replace(",", "")), int(match.group(1).replace(",", ""))


def wait_for_step(page, above: int, timeout: float = 90.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = step_metric(page)
        if got is not None and got[0] > above:
            return got[0]
        page.wait_for_timeout(250)
    raise AssertionError(f"the step counter did not pass {above} within {timeout:.0f} s (last: {step_metric(page)})")


def run_name(page) -> str:
    """The checkpoint file the live view says it writes."""
    text = page.get_by_text(re.compile(r"seednet-[\d-]+\.pt")).first.inner_text()
    return re.search(r"seednet-[\d-]+\.pt", text).group(0)


def test_train_watch_reload_stop_and_list(app_url, chromium, models_dir):
    page = open_train(chromium, app_url)
    choose(page, "Architecture", "SeedNet")
    expect(page.get_by_label("Epochs", exact=True)).to_have_value("5")  # SeedNet's recipe
    set_number(page, "Epochs", 20)  # far longer than the test: it is stopped, never left to finish
    page.get_by_text("Advanced", exact=True).click()
    set_number(page, "Log every N steps", 2)
    set_number(page, "Test images used (0 = all 10,000)", 500)
    browser.screenshot(page, "train-form")

    page.get_by_role("button", name=re.compile("Start training")).click()
    first = wait_for_step(page, 0)
    page.wait_for_timeout(3000)
    second = wait_for_step(page, first)
    assert second > first
    name = run_name(page)
    assert page.get_by_test_id("stProgress").count() == 1
    browser.screenshot(page, "train-running")

    # Reload mid-run: a fresh session shows the same run, still moving.
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train a digit model").wait_for()
    after_reload = wait_for_step(page, second - 1)
    assert run_name(page) == name
    wait_for_step(page, after_reload)
    browser.screenshot(page, "train-after-reload")

    # Switch to another page and back: still the same run.
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Home").click()
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_role("heading", name="Train a digit model").wait_for(state="detached")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train").click()
    page.get_by_role("heading", name="Train a digit model").wait_for()
    wait_for_step(page, after_reload)
    assert run_name(page) == name

    # A second tab sees the same run, and its Start is refused.
    other = open_train(chromium, app_url)
    wait_for_step(other, 0)
    assert run_name(other) == name
    other.get_by_role("button", name=re.compile("Start training")).click()
    other.get_by_text(re.compile("Not started: a training run is already in progress")).wait_for()
    browser.screenshot(other, "train-second-tab-refused")
    other.context.close()

    # Stop: ends after the current step, saves a resumable checkpoint, listed as a model.
    page.get_by_role("button", name=re.compile("^.*Stop$")).click()
    page.get_by_text("Stopped (resumable)").wait_for(timeout=60_000)
    browser.wait_until_idle(page)
    assert (models_dir / name).is_file()
    page.get_by_role("button", name=re.compile("Resume")).first.wait_for()
    models = page.get_by_test_id("stDataFrame")
    models.scroll_into_view_if_needed()
    # The stopped run is in the models list (the table is a canvas: read the picker under it).
    page.get_by_role("heading", name=re.compile(r"Results: " + re.escape(name[:-3]))).wait_for()
    page.get_by_role("combobox", name="Model", exact=True).click()
    options = page.get_by_role("option").all_inner_texts()
    assert any(o.startswith(name[:-3]) and "unfinished" in o for o in options), options
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)
    browser.wait_until_idle(page)
    assert not browser.streamlit_error_texts(page), "a traceback is shown on the page"
    browser.screenshot(page, "train-stopped")
    page.context.close()
