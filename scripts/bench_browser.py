"""Browser benchmark of the Recognize page (issue 18, item 9): how long after an upload the number
shows, and how long the first visit after a server start takes. Not a test: figures for BENCHMARKS.md.

    .venv/bin/python scripts/bench_browser.py [--runs 10] [--photo ../shared/samples/webcam-3450.png]

It starts ``streamlit run`` (tests/browser.py) with throwaway models and personal folders, opens
Recognize in Debian's Chromium through Playwright, and for each run uploads the photo with one
pixel changed (so no cached reading is reused) and times, in the page's own clock:
``number``: from the upload's arrival at the server (the page's 'Running' state starts) to the
Number metric showing the right text (the last photo is removed first, so its number is gone); ``idle``: to the end of the run (everything drawn).
The first visit: from the server answering its health check to the Recognize heading, and to
the first number (the model warmed in the background meanwhile).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digitlib.formatting import machine_line  # noqa: E402
from tests import browser  # noqa: E402

# Resolves when the app's script starts running, then when the Number metric shows ``text``.
WATCH = """([text]) => new Promise(resolve => {
    const app = document.querySelector('[data-testid="stApp"]');
    let started = null;
    const check = () => {
        if (started === null && app.getAttribute('data-test-script-state') === 'running') started = performance.now();
        const v = [...document.querySelectorAll('[data-testid="stMetric"]')]
            .filter(m => m.innerText.includes('Number'))
            .map(m => m.querySelector('[data-testid="stMetricValue"]'))
            .find(v => v && v.innerText.trim() === text);
        if (v && started !== null) { resolve(performance.now() - started); return; }
        requestAnimationFrame(check);
    };
    check();
})"""


def photo_variants(photo: Path, n: int, folder: Path) -> list[Path]:
    """``n`` copies of ``photo``, each with one corner pixel changed, so none is a cached reading."""
    img = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    paths = []
    for i in range(n):
        img[0, 0] = (i % 256, (i * 7) % 256, 255 - i % 256)
        path = folder / f"run{i:03d}-{photo.stem}.png"
        cv2.imwrite(str(path), img)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--photo", type=Path, default=ROOT.parent / "shared" / "samples" / "webcam-3450.png")
    parser.add_argument("--expect", default="3450", help="the number on the photo")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    photos = photo_variants(args.photo, args.runs + 1, folder)
    env = {"DIGITLIB_MODELS": str(folder / "models"), "DIGITLIB_PERSONAL": str(folder / "personal")}
    print(machine_line())
    with browser.chromium() as chromium:
        start = time.perf_counter()
        with browser.streamlit_server(env=env) as server:
            healthy = time.perf_counter()
            page = browser.open_page(chromium, server.url + "/recognize")
            page.get_by_role("heading", name="Recognize").wait_for()
            heading = time.perf_counter()
            page.get_by_role("radiogroup", name="Input").get_by_role("radio", name="Upload").click()
            browser.wait_until_idle(page)
            dropzone = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
            dropzone.set_input_files(str(photos[0]))
            page.get_by_test_id("stMetricValue").filter(has_text=args.expect).wait_for(timeout=120_000)
            first = time.perf_counter()
            print(f"server start to healthy {healthy - start:.1f} s; first visit: Recognize shown after "
                  f"{heading - healthy:.1f} s, first number {first - heading:.1f} s after that")
            numbers, chosen, idles = [], [], []
            for photo in photos[1:]:
                # Remove the last photo first, so the number on the page is gone until the new one is read.
                page.get_by_test_id("stFileChipDeleteBtn").first.click()
                page.get_by_test_id("stMetric").first.wait_for(state="detached")
                browser.wait_until_idle(page)
                watch = page.evaluate_handle(f"() => {{ window.__number = ({WATCH})(['{args.expect}']); }}")
                watch.dispose()
                t0 = time.perf_counter()
                dropzone.set_input_files(str(photo))
                number_ms = page.evaluate("() => window.__number")
                chosen.append(time.perf_counter() - t0)
                browser.wait_until_idle(page)
                idles.append(time.perf_counter() - t0)
                numbers.append(number_ms / 1000)
            page.context.close()
    print(f"{args.runs} uploads of {args.photo.name}: number shown {statistics.median(numbers):.2f} s after the "
          f"upload arrived (median; max {max(numbers):.2f}), {statistics.median(chosen):.2f} s after the file was "
          f"chosen (median; max {max(chosen):.2f}); page finished {statistics.median(idles):.2f} s after "
          "the file was chosen (median)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
