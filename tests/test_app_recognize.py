"""The Recognize page through Streamlit's AppTest: uploads, the camera, several files,
bad input, settings and the built-in samples, without a browser."""

from __future__ import annotations

import csv
import io
import shutil

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from digitlib import app_support as support
from digitlib.formatting import percent
from digitlib.checkpoint import SHIPPED_MODEL
from tests.support import ROOT, SAMPLES_DIR

TIMEOUT = 120  # seconds per run: the CPUs are shared and the first run loads torch and the model


def recognize_page(**state) -> AppTest:
    """An AppTest at the Recognize page, entered through the app's navigation."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    at.switch_page("pages/recognize.py").run()
    assert not at.exception, at.exception
    return at


def use_mode(at: AppTest, mode: str) -> AppTest:
    at.segmented_control(key="recognize_mode").set_value(mode).run()
    assert not at.exception, at.exception
    return at


def sample_bytes(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


def as_jpeg(name: str) -> bytes:
    img = cv2.imread(str(SAMPLES_DIR / name), cv2.IMREAD_COLOR)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[(m.label, m.value) for m in at.metric]}"
    return values[0]


def no_traceback(at: AppTest) -> None:
    assert not at.exception, at.exception


@pytest.fixture(scope="module", autouse=True)
def _shipped_model():
    assert SHIPPED_MODEL.is_file(), f"the shipped model {SHIPPED_MODEL} is missing"


@pytest.fixture(autouse=True)
def _own_folders(tmp_path, monkeypatch):
    """Remembered settings and saved digits in a folder of the test's own, never the user's."""
    monkeypatch.setenv("DIGITLIB_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("DIGITLIB_PERSONAL", str(tmp_path / "personal"))


# --------------------------------------------------------------------------- structure


def test_app_has_home_recognize_and_settings(samples_dir):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    no_traceback(at)
    assert at.title[0].value == "Digits"  # Home is the default page
    # Home has a way into every page.
    assert [h.value.split(": ", 1)[-1] for h in at.subheader] == ["Recognize", "Train", "My digits"]
    at.switch_page("pages/recognize.py").run()
    no_traceback(at)
    assert at.title[0].value == "Recognize"
    # Three ways in, the camera first.
    mode = at.segmented_control(key="recognize_mode")
    assert mode.value == "camera" and list(mode.options) == ["Camera", "Upload", "Samples", "Draw"]
    assert len(at.camera_input) == 1
    # The model in the sidebar, with a default that works.
    model = at.sidebar.selectbox(key="recognize_model")
    assert model.value == "" and model.options[0].startswith("Shipped model")
    use_mode(at, "upload")
    uploader = at.file_uploader(key="recognize_upload")
    assert uploader.accept_multiple_files
    assert set(uploader.allowed_type) >= {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
    # The photo tools come with a photo, on the page, with defaults that work.
    uploader.set_value(("webcam-3450.png", sample_bytes("webcam-3450.png"), "image/png")).run()
    no_traceback(at)
    assert at.segmented_control(key="recognize_polarity").value == "auto"
    assert at.number_input(key="recognize_min_height").value == 0
    assert [at.number_input(key=f"recognize_crop_{side}").value for side in ("left", "top", "right", "bottom")] \
        == [0, 0, 0, 0]
    assert {b.label for b in at.button} >= {"Turn left", "Turn right"}
    assert not at.sidebar.segmented_control  # nothing left in the sidebar that belongs to the photo


# --------------------------------------------------------------------------- one image


def test_upload_sample_shows_number_photo_digits_and_stages(samples_dir):
    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value(
        ("webcam-3450.png", sample_bytes("webcam-3450.png"), "image/png")).run()
    no_traceback(at)
    assert not at.error
    assert metric(at, "Number") == "3450"
    assert metric(at, "Confidence").endswith("%")
    assert [c.value for c in at.code] == ["3450"]  # the copy field
    assert not at.warning and not at.info  # a sure reading of an ordinary photo: nothing to warn about
    # The annotated photo and one 28x28 input per digit; the stages wait until they are opened.
    assert any("each digit's box and label" in c.value for c in at.caption)
    reading = support.read_safely("x", lambda: _read_direct("webcam-3450.png")).reading
    assert len(at.image) == 1 + len(reading.digits)
    stages = [e for e in at.expander if e.label.startswith("How it was read")]
    assert stages[0].label == f"How it was read: {len(reading.stages)} steps"
    # Each digit: its number, its label and its confidence.
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert badges == [f"**{i}:** :green-badge[**{d.label}** {percent(d.confidence)}]"
                      for i, d in enumerate(reading.digits, 1)]
    # Opened, every stage shows, in order.
    at.session_state["recognize_stages"] = True
    at.run()
    no_traceback(at)
    stage_captions = [support.stage_caption(i, name) for i, (name, _) in enumerate(reading.stages, 1)]
    assert [c for img in at.image for c in img.captions][-len(stage_captions):] == stage_captions
    assert len(at.image) == 1 + len(reading.digits) + len(reading.stages)


def _read_direct(name: str):
    from digitlib import Recognizer

    return Recognizer().read(SAMPLES_DIR / name)


def test_camera_photo_is_read(samples_dir):
    at = recognize_page()
    assert at.segmented_control(key="recognize_mode").value == "camera"
    at.camera_input(key="recognize_camera").set_value(("image.jpg", as_jpeg("webcam-68539.png"), "image/jpeg")).run()
    no_traceback(at)
    assert not at.error
    assert metric(at, "Number") == "68539"


# --------------------------------------------------------------------------- several files


def test_several_files_give_a_table_csv_and_full_views(samples_dir):
    files = [("webcam-3450.png", "3450"), ("photo-13540.jpg", "13540"), ("webcam-0869.png", "0869")]
    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value([
        (name, sample_bytes(name), "image/jpeg" if name.endswith(".jpg") else "image/png") for name, _ in files
    ] + [("junk.png", b"this is not a picture", "image/png")]).run()
    no_traceback(at)

    table = at.dataframe[0].value
    assert list(table.columns) == ["file", "number", "confidence", "review", "digits", "seconds", "notes"]
    # The table holds the readings; the bad file is an error above it, never a row of "None"s.
    assert list(table["file"]) == [n for n, _ in files]
    assert list(table["number"]) == [label for _, label in files]  # leading zero kept
    assert (table["digits"] == [4, 5, 4]).all()
    assert table["confidence"].between(0, 1).all() and (table["seconds"] >= 0).all()
    assert not table.isna().any().any()
    assert len(at.error) == 1 and "junk.png" in at.error[0].value
    assert at.subheader[0].value.startswith("4 images, 3 read")
    assert at.download_button[0].label == "Download CSV (every image)"  # the bad one with its error

    # The first row's full view shows at once; any other row opens from the selector.
    assert metric(at, "Number") == "3450"
    at.selectbox(key="recognize_open").set_value(1).run()
    no_traceback(at)
    assert metric(at, "Number") == "13540"


def test_needs_review_filter_keeps_only_unsure_readings(samples_dir):
    sure = ("webcam-3450.png", sample_bytes("webcam-3450.png"), "image/png")
    # A photo turned on its side reads as something, but not surely: it needs review.
    sideways = cv2.rotate(cv2.imread(str(SAMPLES_DIR / "webcam-0869.png")), cv2.ROTATE_90_CLOCKWISE)
    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value([sure, ("sideways.png", png(sideways), "image/png")]).run()
    no_traceback(at)
    table = at.dataframe[0].value
    assert list(table["review"]) == ["", "needs review"]
    at.toggle(key="recognize_review_only").set_value(True).run()
    no_traceback(at)
    assert list(at.dataframe[0].value["file"]) == ["sideways.png"]
    assert at.selectbox(key="recognize_open").options == ["sideways.png: " + at.dataframe[0].value["number"][0]]


def test_results_csv_keeps_numbers_as_text():
    reading = _read_direct("webcam-0869.png")
    results = [support.ReadResult("a.png", reading=reading), support.ReadResult("b.png", error="**b.png** bad")]
    rows = list(csv.DictReader(io.StringIO(support.results_csv(results).decode())))
    assert [r["file"] for r in rows] == ["a.png", "b.png"]
    assert rows[0]["number"] == reading.text == "0869"
    assert rows[0]["digits"] == "4" and float(rows[0]["confidence"]) == pytest.approx(reading.confidence, abs=1e-4)
    assert rows[1]["notes"] == "b.png bad" and rows[1]["number"] == ""


# --------------------------------------------------------------------------- bad input


def test_bad_file_shows_an_error_and_the_page_keeps_working(samples_dir):
    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value(("broken.png", b"\x89PNG\r\n\x1a\n garbage", "image/png")).run()
    no_traceback(at)
    assert len(at.error) == 1
    assert "broken.png" in at.error[0].value and "could not be read" in at.error[0].value
    assert not at.metric
    # The next upload works as usual.
    at.file_uploader(key="recognize_upload").set_value(
        ("webcam-3450.png", sample_bytes("webcam-3450.png"), "image/png")).run()
    no_traceback(at)
    assert not at.error and metric(at, "Number") == "3450"


def test_no_digits_warns_and_shows_the_stages():
    blank = np.full((300, 400, 3), 235, np.uint8)
    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value(("blank.png", png(blank), "image/png")).run()
    no_traceback(at)
    assert not at.error
    assert any("No digits" in w.value for w in at.warning)
    assert any("**Crop**" in w.value and "**Turn**" in w.value for w in at.warning)  # what to try
    stages = [e for e in at.expander if e.label.startswith("How it was read")][0]
    assert stages.proto.expanded  # the stages are open, to see where it went wrong
    assert len(at.image) >= 2
    assert not at.code and not at.metric  # nothing to copy, no number


def test_an_unsure_reading_is_not_shown_as_a_number(samples_dir):
    # A wide blot of ink (almost three times as wide as tall) reads as a digit the model is not at
    # all sure of (a "2" at 0.08): a guess, not a number to copy. (A squarer one is read as no
    # digit at all: the sequence reader sees none in it.)
    crossed = np.full((300, 400, 3), 235, np.uint8)
    cv2.rectangle(crossed, (120, 110), (340, 190), (20, 20, 20), -1)
    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value(("blot.png", png(crossed), "image/png")).run()
    no_traceback(at)
    reading = _read_direct_image(crossed)
    assert reading.digits and not support.is_readable(reading), "the test photo must be an unsure reading"
    assert not at.metric and not at.code
    assert any("could not be read" in w.value and "**Crop**" in w.value for w in at.warning)
    # The way out is still there: type the number and fix the boxes.
    assert [t.label for t in at.text_input] == ["The number is"] and at.text_input[0].value == reading.text
    assert any(e.label.startswith("Fix the boxes") for e in at.expander)


def _read_direct_image(bgr):
    from digitlib import Recognizer

    return Recognizer().read(bgr)


def test_huge_photo_is_downscaled_with_a_note_only_when_it_matters(samples_dir):
    img = cv2.imread(str(SAMPLES_DIR / "webcam-3450.png"))
    # An ordinary big phone photo: downscaled, said in the size line, no warning.
    huge = cv2.resize(img, (3200, 2400), interpolation=cv2.INTER_LINEAR)
    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value(("huge.png", png(huge), "image/png")).run()
    no_traceback(at)
    assert not any("downscaled" in w.value for w in at.warning)
    assert any("downscaled to 50%" in c.value for c in at.caption)
    assert metric(at, "Number") == "3450"
    # A small number in a huge photo: downscaling leaves its digits a few pixels tall (the threshold
    # ink stage loses them; the learned one finds them), and the page says so, and to crop.
    far = np.full((3600, 4800, 3), 235, np.uint8)
    cv2.putText(far, "3450", (2200, 1800), cv2.FONT_HERSHEY_SIMPLEX, 2, (30, 30, 30), 6)
    at.file_uploader(key="recognize_upload").set_value(("far.png", png(far), "image/png")).run()
    no_traceback(at)
    assert any("downscaled" in w.value and "crop" in w.value.lower() for w in at.warning)


def test_downscale_note_names_small_digits():
    from digitlib.reading.result import DigitReading, Reading

    def reading(height: int) -> Reading:
        digit = DigitReading(3, 0.99, [(3, 0.99), (8, 0.01), (5, 0.0)], (0, 0, 40, height), np.zeros((28, 28), np.uint8))
        note = "The 4800x3600 image was downscaled to 1600x1200 for reading."
        return Reading("3", [digit], 0.99, [note], [], np.zeros((1200, 1600, 3), np.uint8), scale=1 / 3)

    assert support.shown_warnings(reading(300)) == []  # 100 px tall once downscaled: nothing lost
    (shown,) = support.shown_warnings(reading(60))  # 20 px: detail lost
    assert shown.startswith("The 4800x3600 image was downscaled") and "20 px tall: crop the photo" in shown


def test_unexpected_errors_are_friendly(monkeypatch):
    from digitlib import Recognizer

    def boom(self, image, options=None):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(Recognizer, "read", boom)
    at = use_mode(recognize_page(), "upload")
    # A file no other test reads, so no cached reading hides the failure.
    at.file_uploader(key="recognize_upload").set_value(
        ("odd.png", png(np.full((50, 60, 3), 7, np.uint8)), "image/png")).run()
    no_traceback(at)
    assert len(at.error) == 1 and "Something went wrong" in at.error[0].value
    assert "internal detail" not in at.error[0].value


# --------------------------------------------------------------------------- settings


def test_model_selector_follows_active_model(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLIB_MODELS", str(tmp_path))
    mine = tmp_path / "mine.pt"
    shutil.copy(SHIPPED_MODEL, mine)
    # The Train page's "Use on Recognize" sets active_model; the selector shows it.
    at = recognize_page(active_model=str(mine))
    selector = at.sidebar.selectbox(key="recognize_model")
    assert selector.value == str(mine)
    assert selector.options[0].startswith("Shipped model") and any(o.startswith("mine") for o in selector.options)
    # Choosing the shipped model in the sidebar updates active_model for the Train page.
    selector.set_value("").run()
    no_traceback(at)
    assert at.session_state["active_model"] is None


def test_unloadable_model_falls_back_to_the_shipped_one(tmp_path, monkeypatch, samples_dir):
    monkeypatch.setenv("DIGITLIB_MODELS", str(tmp_path))
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    at = use_mode(recognize_page(active_model=str(broken)), "upload")
    at.file_uploader(key="recognize_upload").set_value(
        ("webcam-3450.png", sample_bytes("webcam-3450.png"), "image/png")).run()
    no_traceback(at)
    assert any("could not be loaded" in e.value for e in at.error)
    assert metric(at, "Number") == "3450"


def test_polarity_and_min_height_reach_the_reader(samples_dir):
    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value(
        ("webcam-3450.png", sample_bytes("webcam-3450.png"), "image/png")).run()
    at.segmented_control(key="recognize_polarity").set_value("dark").run()
    at.number_input(key="recognize_min_height").set_value(5).run()
    no_traceback(at)
    assert metric(at, "Number") == "3450"
    # Digits shorter than 130 px are ignored: the 0 (125 px) is dropped. The sequence reader
    # still sees ink there and the mark left out is flagged, so "345" is too unsure to show
    # as the number: the page says so, with its best guess.
    at.number_input(key="recognize_min_height").set_value(130).run()
    no_traceback(at)
    assert not [m for m in at.metric if m.label == "Number"]
    assert any("could not be read" in w.value and "345" in w.value for w in at.warning)
    # Light-on-dark is wrong for this photo: whatever comes out, the page stays whole.
    at.segmented_control(key="recognize_polarity").set_value("light").run()
    no_traceback(at)
    assert not at.error


def test_turn_and_crop_read_the_photo_again(samples_dir):
    sideways = cv2.rotate(cv2.imread(str(SAMPLES_DIR / "webcam-3450.png")), cv2.ROTATE_90_COUNTERCLOCKWISE)
    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value(("sideways.png", png(sideways), "image/png")).run()
    no_traceback(at)
    at.button(key="recognize_turn_right").click().run()
    no_traceback(at)
    assert metric(at, "Number") == "3450"
    assert any("640 x 480 px" in c.value for c in at.caption)
    at.number_input(key="recognize_crop_right").set_value(20).run()  # cuts the 0 away
    no_traceback(at)
    assert metric(at, "Number") == "345"
    assert any("512 x 480 px" in c.value for c in at.caption)
    # Another photo starts upright and uncropped.
    at.file_uploader(key="recognize_upload").set_value(
        ("webcam-0869.png", sample_bytes("webcam-0869.png"), "image/png")).run()
    no_traceback(at)
    assert metric(at, "Number") == "0869"
    assert at.number_input(key="recognize_crop_right").value == 0


# --------------------------------------------------------------------------- built-in samples


def test_builtin_samples():
    samples = support.list_samples()
    assert len(samples) >= 4, "digitlib/samples is empty: run scripts/make_samples.py"
    for s in samples:
        assert s.label.replace("\n", "").isdigit()
        assert s.path.stat().st_size < 150_000
    at = use_mode(recognize_page(), "samples")
    assert not at.error
    assert at.selectbox(key="recognize_sample").value == 0
    assert metric(at, "Number")  # the first sample is read at once
    at.selectbox(key="recognize_sample").set_value(-1).run()  # all samples, as a table
    no_traceback(at)
    table = at.dataframe[0].value
    assert list(table["file"]) == [s.name for s in samples]
    # They are there to try the app, not to benchmark it; still, most should be read right.
    correct = sum(n.replace(" / ", "") == s.label.replace("\n", "") for n, s in zip(table["number"], samples))
    assert correct >= len(samples) // 2 + 1, list(zip(table["number"], [s.label for s in samples]))


# --------------------------------------------------------------------------- helpers


def test_percent_is_short_and_honest():
    assert percent(0.9731) == "97%"
    assert percent(0.9983) == "99.83%"
    assert percent(0.99996) == ">99.99%"
    assert percent(1.0) == "100%"
    assert percent(0.004) == "<1%"
    assert percent(0.0) == "0%"


def test_read_safely_never_raises():
    def bad():
        raise ValueError("not a readable image (expected PNG, JPEG, BMP, TIFF or WebP)")

    r = support.read_safely("x.png", bad)
    assert not r.ok and "x.png" in r.error and "not a readable image (expected PNG" in r.error

    def worse():
        raise KeyError("secret")

    r = support.read_safely("y.png", worse)
    assert not r.ok and "Something went wrong" in r.error and "secret" not in r.error


def test_list_samples_reads_labels_as_text(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / "labels.tsv").write_text("file\tlabel\tdescription\na.jpg\t0042\tzeros\nb.jpg\t12/345\ttwo rows\n"
                                         "gone.jpg\t1\tmissing\n")
    samples = support.list_samples(tmp_path)
    assert [(s.name, s.label) for s in samples] == [("a.jpg", "0042"), ("b.jpg", "12\n345")]
    assert samples[1].title == "12 / 345 - two rows"
    assert support.list_samples(tmp_path / "nowhere") == []


def test_model_choices_put_the_shipped_model_first(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLIB_MODELS", str(tmp_path))
    (tmp_path / "junk.pt").write_bytes(b"junk")  # unreadable: not offered
    choices = support.model_choices()
    assert [c.path for c in choices] == [None] and choices[0].label.startswith("Shipped model")
    assert support.active_model_path(str(SHIPPED_MODEL)) is None
    assert support.active_model_path(None) is None


def test_fix_the_boxes_delete_one_and_save_what_was_typed(tmp_path, samples_dir):
    from digitlib.personal import PersonalSet

    at = use_mode(recognize_page(), "upload")
    at.file_uploader(key="recognize_upload").set_value(
        ("webcam-3450.png", sample_bytes("webcam-3450.png"), "image/png")).run()
    typed = at.text_input[0]
    typed.set_value("345").run()  # three digits typed for four boxes: the box editor opens
    no_traceback(at)
    editor = [e for e in at.expander if e.label.startswith("Fix the boxes")][0]
    assert editor.proto.expanded or at.session_state[editor.key]
    delete = next(w for w in at.get("button_group") if w.label == "Delete a box")
    delete.set_value(3).run()  # the 0's box
    no_traceback(at)
    assert metric(at, "Number") == "345" and at.text_input[0].value == "345"
    at.button(key=next(b.key for b in at.button if b.label == "Save to My digits")).click().run()
    no_traceback(at)
    assert any("Saved 3 digits to My digits (3 new)" in s.value for s in at.success)
    assert [s.label for s in PersonalSet(tmp_path / "personal").samples()] == [3, 4, 5]
    # Boxes as read brings the 0 back; the typed number stays what the user typed.
    at.button(key=next(b.key for b in at.button if b.label == "Boxes as read")).click().run()
    no_traceback(at)
    assert metric(at, "Number") == "3450" and at.text_input[0].value == "345"


def test_sure_readable_and_needs_review():
    from digitlib.reading.result import DigitReading, Reading

    def reading(*confidences: float, warnings=()) -> Reading:
        digits = [DigitReading(1, c, [(1, c), (7, 1 - c), (0, 0.0)], (10 * i, 0, 8, 20), np.zeros((28, 28), np.uint8))
                  for i, c in enumerate(confidences)]
        return Reading("1" * len(digits), digits, float(np.prod(confidences)) if digits else 0.0, list(warnings), [])

    sure, unsure, guess = reading(0.99, 0.98), reading(0.99, 0.69), reading(0.004)
    assert support.is_sure(sure) and not support.needs_review(sure)
    # 69 % on one digit: readable, matches a sample's label maybe, but not "read correctly" and to review.
    assert support.is_readable(unsure) and not support.is_sure(unsure) and support.needs_review(unsure)
    assert not support.is_readable(guess) and support.needs_review(guess)
    assert not support.is_readable(reading()) and support.needs_review(None)
    assert support.needs_review(reading(0.99, warnings=["A mark the size of a digit was left out."]))
