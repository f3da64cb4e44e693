#!/usr/bin/env python3
"""Load test for the Recognize page: N browser sessions upload photos at once for a fixed time.

Not a CI test. It starts the app with ``streamlit run`` on a free port on 127.0.0.1, opens N
Playwright contexts (separate sessions: own cookies, own websocket) in one headless Chromium,
and in each one uploads photos one after another on the Recognize page, waiting for every
result, until the time is up. Every upload is a built-in sample photo made unique (a comment
added to the file), so Streamlit's cache never answers for the reader. It reports:

- throughput (results per second) and the time from choosing the file to seeing the number
  (median, p95, max), after the warm-up and over the whole run;
- errors: results that never came (timeout), error or exception boxes on the page, lost
  connections; misreads (a number other than the sample's) are counted apart;
- the server's resident memory (RSS): at start, after the warm-up, at the end, and its peak;
  growth after the warm-up in percent.

Bounded: loopback only, at most --max-uploads uploads, --duration seconds plus a grace period
for the uploads in flight, --result-timeout per upload; the server and the browser are stopped
at the end whatever happens.

    .venv/bin/python -m tests.load_test                         # 8 sessions, 120 s
    .venv/bin/python -m tests.load_test --sessions 4 --duration 60 --json load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import struct
import sys
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from digitlib import app_support as support
from tests import browser



# --------------------------------------------------------------------------- measurements


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class MemoryWatch:
    """Samples a process's RSS every ``every`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.5, record_every: float = 5.0) -> None:
        self.pid, self.every, self.peak = pid, every, rss_mb(pid)
        self.record_every, self.timeline = record_every, [(0.0, round(self.peak, 1))]
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            value = rss_mb(self.pid)
            if value == value:  # not NaN
                self.peak = max(self.peak, value)
                t = time.monotonic() - self._t0
                if t - self.timeline[-1][0] >= self.record_every:
                    self.timeline.append((round(t, 1), round(value, 1)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Upload:
    session: int
    name: str
    expected: str
    started: float  # seconds since the run began
    seconds: float | None = None  # time to result; None when none came
    got: str | None = None
    error: str | None = None


@dataclass
class Report:
    settings: dict
    uploads: list[Upload] = field(default_factory=list)
    rss_start_mb: float = 0.0
    rss_after_warmup_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_timeline: list = field(default_factory=list)  # (seconds since the sessions began, MiB)
    warmup_ended_at: float = 0.0
    measured_until: float = 0.0
    load_before: tuple = ()
    load_after: tuple = ()
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        done = [u for u in self.uploads if u.seconds is not None and u.error is None]
        after = [u for u in done if u.started >= self.warmup_ended_at]
        window = max(1e-9, self.measured_until - self.warmup_ended_at)
        errors: dict[str, int] = {}
        for u in self.uploads:
            if u.error:
                kind = u.error.split(":")[0]
                errors[kind] = errors.get(kind, 0) + 1

        def stats(items):
            times = sorted(u.seconds for u in items)
            if not times:
                return {"n": 0}
            return {"n": len(times), "median_s": round(statistics.median(times), 2),
                    "p95_s": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2),
                    "max_s": round(times[-1], 2)}

        return {
            "uploads": len(self.uploads),
            "results": len(done),
            "errors": sum(errors.values()),
            "errors_by_kind": errors,
            "misreads": sum(1 for u in done if u.got != u.expected),
            "throughput_per_s_after_warmup": round(
                sum(1 for u in after if u.started + u.seconds <= self.measured_until) / window, 3),
            "time_to_result_after_warmup": stats(after),
            "time_to_result_all": stats(done),
            "rss_mb": {"start": round(self.rss_start_mb, 1), "after_warmup": round(self.rss_after_warmup_mb, 1),
                       "end": round(self.rss_end_mb, 1), "peak": round(self.rss_peak_mb, 1)},
            "rss_growth_after_warmup_pct": round(
                100.0 * (self.rss_end_mb - self.rss_after_warmup_mb) / max(self.rss_after_warmup_mb, 1e-9), 1),
            "rss_timeline_mb": self.rss_timeline,
            "warmup_s": round(self.warmup_ended_at, 1),
            "measured_s": round(window, 1),
            "loadavg_before": self.load_before,
            "loadavg_after": self.load_after,
        }


# --------------------------------------------------------------------------- photos


def unique_copy(data: bytes, tag: str) -> bytes:
    """The same photo with a comment that makes its bytes (and Streamlit's cache key) unique."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        body = b"Comment\0" + tag.encode()
        chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
        return data[:33] + chunk + data[33:]  # right after IHDR
    if data[:2] == b"\xff\xd8":
        text = tag.encode()
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + data[2:]
    raise ValueError("only PNG and JPEG samples can be made unique")


def load_photos(folder: Path | None) -> list[tuple[str, bytes, str]]:
    samples = support.list_samples(folder) if folder else support.list_samples()
    photos = [(s.path.name, s.path.read_bytes(), s.label) for s in samples
              if s.path.suffix.lower() in (".png", ".jpg", ".jpeg")]
    if not photos:
        raise SystemExit(f"no PNG or JPEG samples with labels in {folder or support.SAMPLES_DIR}")
    return photos


# --------------------------------------------------------------------------- one session


RESULT_JS = """([name]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return null;
  const running = app.getAttribute('data-test-script-state') === 'running';
  const exc = document.querySelectorAll('[data-testid="stException"]').length;
  const alerts = [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(e => e.innerText);
  const main = document.querySelector('[data-testid="stMain"]');
  const text = main ? main.innerText : '';
  let number = null;
  for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
    if (m.innerText.startsWith('Number')) {
      const v = m.querySelector('[data-testid="stMetricValue"]');
      number = v ? v.innerText.trim() : null;
    }
  }
  const uploadError = [...document.querySelectorAll('[data-testid="stFileChip"]')]
    .filter(c => c.querySelector('[data-testid="stFileChipIconError"]')).map(c => c.innerText);
  const chips = document.querySelectorAll('[data-testid="stFileChip"]').length;
  return {running, exc, alerts, hasName: text.includes(name), number, uploadError, chips,
          connection: app.getAttribute('data-test-connection-state')};
}"""


async def run_session(index: int, browser_obj, url: str, photos, args, report: Report, t0: float,
                      deadline: float, counter: list[int]) -> None:
    context = await browser_obj.new_context(viewport=browser.VIEWPORT)
    context.set_default_timeout(args.result_timeout * 1000)
    page = await context.new_page()
    try:
        await page.goto(url + "/recognize", wait_until="domcontentloaded")
        await page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]')
        await page.get_by_role("radiogroup", name="Input").get_by_role(
            "radio", name=re.compile("Upload")).click()
        dropzone = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        await dropzone.wait_for(state="attached")
        n = 0
        while time.monotonic() < deadline and counter[0] < args.max_uploads:
            counter[0] += 1
            n += 1
            sample_name, data, label = photos[(index + n * 3) % len(photos)]
            stem, ext = os.path.splitext(sample_name)
            name = f"s{index}-{n}-{stem}{ext}"
            payload = unique_copy(data, f"{index}-{n}-{time.time_ns()}")
            mime = "image/png" if ext.lower() == ".png" else "image/jpeg"
            # Clear the previous file (the uploader takes several; a new one would be added to it).
            delete = page.locator('[data-testid="stFileChipDeleteBtn"] button')
            if await delete.count():
                while await delete.count():
                    await delete.first.click()
                    await page.wait_for_timeout(50)
                await wait_cleared(page)  # the rerun that the deletion started is over
            upload = Upload(index, name, label, started=time.monotonic() - t0)
            report.uploads.append(upload)
            start = time.monotonic()
            await dropzone.set_input_files(files=[{"name": name, "mimeType": mime, "buffer": payload}])
            upload.error = await wait_for_result(page, name, upload, start, args.result_timeout)
            if upload.error and args.screenshots:
                shot = browser.ARTIFACTS / f"load-error-{name}.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(shot), full_page=True)
                state = await page.evaluate(RESULT_JS, [name])
                report.notes.append(f"{name}: {upload.error}; page state {state}; screenshot {shot}")
            if upload.error and upload.error.startswith("disconnected"):
                break
    except Exception as exc:  # noqa: BLE001 - one broken session must not stop the others
        report.notes.append(f"session {index}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        report.uploads.append(Upload(index, "(session)", "", time.monotonic() - t0, None, None,
                                     f"session: {type(exc).__name__}"))
    finally:
        await context.close()


async def wait_cleared(page, timeout: float = 30.0) -> None:
    """Wait until the page shows no reading and no script runs: the rerun after a deletion is done.
    (A file chosen while that rerun is still on its way can be dropped by it.)"""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = await page.evaluate(RESULT_JS, [""])
        if state and state["number"] is None and not state["running"] and not state["chips"]:
            return
        await asyncio.sleep(0.05)


async def wait_for_result(page, name: str, upload: Upload, start: float, timeout: float) -> str | None:
    """Poll the page until ``name``'s reading (or an error about it) is shown; the error kind, or None."""
    end = start + timeout
    while time.monotonic() < end:
        state = await page.evaluate(RESULT_JS, [name])
        if state and not state["chips"] and not state["hasName"] and time.monotonic() - start > 15:
            return "upload lost: no file on the page 15 s after choosing it"
        if state:
            if state["connection"] not in ("CONNECTED", None) and time.monotonic() - start > 5:
                return f"disconnected: {state['connection']}"
            if state["exc"]:
                return "exception box"
            if state["uploadError"]:
                return f"upload refused: {state['uploadError'][0][:80]}"
            if state["hasName"] and not state["running"]:
                if any(name in a for a in state["alerts"]):
                    return "error box: " + next(a for a in state["alerts"] if name in a)[:80]
                if state["number"] is not None:
                    upload.seconds = time.monotonic() - start
                    upload.got = "" if state["number"] == "none found" else state["number"].replace(" / ", "\n")
                    return None
        await asyncio.sleep(0.05)
    upload.seconds = None
    return "timeout"


# --------------------------------------------------------------------------- the run


async def drive(url: str, server_pid: int, args, photos) -> Report:
    from playwright.async_api import async_playwright

    report = Report(settings={k: v for k, v in vars(args).items() if k != "json"})
    report.load_before = tuple(round(x, 2) for x in os.getloadavg())
    report.rss_start_mb = rss_mb(server_pid)
    watch = MemoryWatch(server_pid)
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=browser.CHROMIUM, headless=True,
                                           args=browser.CHROMIUM_ARGS)
        try:
            t0 = time.monotonic()
            deadline = t0 + args.duration
            counter = [0]
            sessions = [asyncio.create_task(run_session(i, chromium, url, photos, args, report, t0, deadline, counter))
                        for i in range(args.sessions)]

            async def mark_warmup():
                # Warm-up: until --warmup seconds have passed and --warmup-uploads results came
                # (enough to fill Streamlit's cache of readings and load every code path).
                while time.monotonic() < deadline:
                    done = sum(1 for u in report.uploads if u.seconds is not None)
                    if time.monotonic() - t0 >= args.warmup and done >= args.warmup_uploads:
                        break
                    await asyncio.sleep(0.25)
                report.warmup_ended_at = time.monotonic() - t0
                report.rss_after_warmup_mb = rss_mb(server_pid)

            warm = asyncio.create_task(mark_warmup())
            hard_stop = args.duration + args.result_timeout + 60
            try:
                await asyncio.wait_for(asyncio.gather(*sessions), timeout=hard_stop)
            except asyncio.TimeoutError:
                report.notes.append(f"stopped by the hard limit of {hard_stop} s")
                for task in sessions:
                    task.cancel()
            report.measured_until = min(time.monotonic() - t0, args.duration)
            await warm
            if report.warmup_ended_at >= args.duration:
                report.notes.append("the warm-up never ended: too few results for --warmup-uploads")
        finally:
            await chromium.close()
    await asyncio.sleep(2)  # let the server drop the closed sessions
    report.rss_end_mb = rss_mb(server_pid)
    watch.stop()
    report.rss_peak_mb = max(watch.peak, report.rss_end_mb)
    report.rss_timeline = watch.timeline
    report.load_after = tuple(round(x, 2) for x in os.getloadavg())
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=8, help="concurrent browser sessions (default 8)")
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of uploading (default 120)")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds before measuring (default 60)")
    ap.add_argument("--warmup-uploads", type=int, default=48,
                    help="results before measuring: twice the 24 readings the page caches (default 48)")
    ap.add_argument("--max-uploads", type=int, default=5000, help="uploads in all, at most (default 5000)")
    ap.add_argument("--result-timeout", type=float, default=90.0, help="seconds to wait for one result")
    ap.add_argument("--samples", type=Path, default=None, help="folder with labels.tsv (default: built-in)")
    ap.add_argument("--json", type=Path, default=None, help="also write the full report here")
    ap.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                    help="environment for the server, e.g. MALLOC_ARENA_MAX=2 (repeatable)")
    ap.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                    help="extra streamlit option, e.g. --server-arg=--server.maxCacheDataSize=256mb (repeatable)")
    ap.add_argument("--screenshots", action="store_true",
                    help="save a screenshot of every failed upload to artifacts/screenshots/")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 32:
        ap.error("--sessions must be 1..32")
    if not 5 <= args.duration <= 1800:
        ap.error("--duration must be 5..1800 s")

    photos = load_photos(args.samples)
    print(f"{args.sessions} sessions, {args.duration:.0f} s, {len(photos)} photos; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env.update(item.split("=", 1) for item in args.server_env)
    with browser.streamlit_server(env=env, extra_args=args.server_arg) as server:
        assert server.url.startswith("http://127.0.0.1:"), server.url  # loopback only
        time.sleep(1.0)
        report = asyncio.run(drive(server.url, server.process.pid, args, photos))
        log_tail = server.log_text(3000)
    summary = report.summary()
    summary["python"] = platform.python_version()
    print(json.dumps(summary, indent=2))
    for note in report.notes:
        print("note:", note)
    if summary["errors"]:
        print("server log (end):\n" + log_tail)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "notes": report.notes,
                                         "uploads": [asdict(u) for u in report.uploads]}, indent=1))
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
