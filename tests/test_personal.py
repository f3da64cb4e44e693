"""The personal data set (digitlib.personal): where it lives, saving without losing or
doubling digits, deleting, zip export and validated import, the held-out split, matching a
typed correction to the digit boxes, and mixing the set into training (data.oversample,
TrainConfig.extra_data, the CLI's --extra-data)."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from digitlib import digit_sets, personal
from digitlib.data import MnistSplit, oversample
from digitlib.personal import PersonalSet, PersonalSetError, match_correction, save_correction


def digit(seed: int) -> np.ndarray:
    """A distinct random 28x28 uint8 'digit'."""
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != ".lock")


@pytest.fixture(autouse=True)
def no_real_personal_set(monkeypatch, tmp_path):
    """Whatever a test does, the user's own personal set is never touched."""
    monkeypatch.setenv("DIGITLIB_PERSONAL", str(tmp_path / "default-personal"))


@pytest.fixture
def pset(tmp_path) -> PersonalSet:
    return PersonalSet(tmp_path / "personal")


# --------------------------------------------------------------------------- where


def test_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITLIB_PERSONAL", str(tmp_path / "p"))
    assert digit_sets.personal_dir() == tmp_path / "p"
    assert PersonalSet().folder == tmp_path / "p"
    monkeypatch.delenv("DIGITLIB_PERSONAL")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert digit_sets.personal_dir() == tmp_path / "xdg" / "digitlib" / "personal"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert digit_sets.personal_dir() == Path.home() / ".local" / "share" / "digitlib" / "personal"


def test_a_missing_folder_is_an_empty_set(pset):
    assert pset.samples() == [] and len(pset) == 0
    assert pset.counts() == dict.fromkeys(range(10), 0)
    assert not pset.folder.exists()  # reading creates nothing


# --------------------------------------------------------------------------- saving


def test_add_list_count_and_the_same_image_is_stored_once(pset):
    report = pset.add_many([(digit(1), 3), (digit(2), 3), (digit(3), 7)], source="Recognize: a.png")
    assert (report.added, report.relabelled, report.unchanged) == (3, 0, 0)
    again = pset.add(digit(1), 3)
    assert (again.added, again.unchanged) == (0, 1)
    assert len(pset) == 3 and pset.counts()[3] == 2 and pset.counts()[7] == 1
    assert len(list((pset.folder / "images").glob("*.png"))) == 3
    s = pset.samples()[0]
    assert s.label == 3 and s.source == "Recognize: a.png" and s.added
    np.testing.assert_array_equal(s.image(), digit(1))  # lossless round trip
    assert s.id == digit_sets.digit_id(digit(1))
    # The index is plain JSON naming each PNG.
    doc = json.loads((pset.folder / "index.json").read_text())
    assert doc["format"] == "digitlib-personal" and doc["samples"][0]["file"] == f"images/{s.id}.png"


def test_saving_again_with_another_label_relabels(pset):
    pset.add(digit(1), 3)
    report = pset.add(digit(1), 8)
    assert (report.added, report.relabelled) == (0, 1)
    assert [s.label for s in pset.samples()] == [8] and len(pset) == 1


def test_bad_input_saves_nothing(pset):
    pset.add(digit(1), 1)
    before = files_in(pset.folder)
    with pytest.raises(PersonalSetError, match="0-9"):
        pset.add_many([(digit(2), 2), (digit(3), 10)])
    with pytest.raises(PersonalSetError, match="28x28 uint8"):
        pset.add_many([(digit(2), 2), (np.zeros((20, 20), np.uint8), 4)])
    with pytest.raises(PersonalSetError, match="0-9"):
        pset.add(digit(2), True)
    assert files_in(pset.folder) == before and len(pset) == 1


def test_a_failed_index_write_keeps_earlier_samples_and_leaves_no_files(pset, monkeypatch):
    pset.add_many([(digit(1), 1), (digit(2), 2)])
    index_before = (pset.folder / "index.json").read_bytes()
    files_before = files_in(pset.folder)
    real = personal.write_atomic

    def failing(path, write):
        if path.name == "index.json":
            raise OSError(28, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(personal, "write_atomic", failing)
    with pytest.raises(OSError):
        pset.add_many([(digit(3), 3), (digit(4), 4)])
    assert (pset.folder / "index.json").read_bytes() == index_before
    assert files_in(pset.folder) == files_before  # the two new PNGs were taken back
    monkeypatch.undo()
    assert [s.label for s in pset.samples()] == [1, 2]


def test_the_index_is_replaced_atomically(pset, monkeypatch):
    pset.add(digit(1), 1)
    before = (pset.folder / "index.json").read_bytes()

    def crash(src, dst):
        raise KeyboardInterrupt  # killed between writing the temp file and the rename

    monkeypatch.setattr(personal.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        pset.add(digit(2), 2)
    monkeypatch.undo()
    assert (pset.folder / "index.json").read_bytes() == before
    assert not [p for p in pset.folder.rglob("*.tmp")], "temporary files were left behind"
    assert len(pset) == 1


def test_a_damaged_index_is_reported_and_never_overwritten(pset):
    pset.add(digit(1), 1)
    (pset.folder / "index.json").write_text('{"format": "digitlib-personal", "samples": [{"id": ')
    with pytest.raises(PersonalSetError, match="damaged"):
        pset.samples()
    with pytest.raises(PersonalSetError, match="damaged"):
        pset.add(digit(2), 2)
    assert (pset.folder / "index.json").read_text().endswith('"id": ')


def test_saves_from_many_threads_are_all_kept(pset):
    errors = []

    def save(seed):
        try:
            pset.add_many([(digit(seed * 10 + k), k) for k in range(5)])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(pset) == 40


def test_delete(pset):
    pset.add_many([(digit(i), i % 10) for i in range(4)])
    ids = [s.id for s in pset.samples()]
    assert pset.delete([ids[1], "0000000000000000"]) == 1
    assert [s.id for s in pset.samples()] == [ids[0], ids[2], ids[3]]
    assert not (pset.folder / "images" / f"{ids[1]}.png").exists()
    assert pset.delete([]) == 0


# --------------------------------------------------------------------------- zip


def test_export_then_import_elsewhere(pset, tmp_path):
    pset.add_many([(digit(i), i % 10) for i in range(12)], source="test")
    data = pset.export_zip()
    other = PersonalSet(tmp_path / "other")
    other.add(digit(100), 5)
    report = other.import_zip(data)
    assert (report.added, report.relabelled, report.unchanged) == (12, 0, 0)
    assert len(other) == 13 and other.counts()[5] == 2
    mine = {s.id: (s.label, s.image().tobytes()) for s in pset.samples()}
    theirs = {s.id: (s.label, s.image().tobytes()) for s in other.samples()}
    assert all(theirs[k] == v for k, v in mine.items())
    again = other.import_zip(data)  # importing twice doubles nothing
    assert (again.added, again.unchanged) == (0, 12) and len(other) == 13
    path = tmp_path / "my-digits.zip"
    path.write_bytes(data)
    assert PersonalSet(tmp_path / "third").import_zip(path).added == 12


def png_bytes(image: np.ndarray) -> bytes:
    import cv2

    return cv2.imencode(".png", image)[1].tobytes()


def make_zip(index, files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        if index is not None:
            z.writestr("index.json", index if isinstance(index, str) else json.dumps(index))
        for name, data in files.items():
            z.writestr(name, data)
    return buffer.getvalue()


def good_entry(n: int, label: int = 1) -> tuple[dict, dict[str, bytes]]:
    name = f"images/{n}.png"
    return {"id": "x", "label": label, "file": name}, {name: digit_sets.encode_png(digit(n))}


def index_of(*entries) -> dict:
    return {"format": "digitlib-personal", "version": 1, "samples": list(entries)}


BAD_ZIPS = {
    "not a zip": (b"PK\x03\x04 this is not really a zip", "not a zip file"),
    "no index": (make_zip(None, {"images/a.png": b""}), "no index.json"),
    "index not JSON": (make_zip("{nope", {}), "not valid JSON"),
    "another format": (make_zip({"format": "something-else", "samples": []}, {}), "not a digitlib personal set"),
    "no digits": (make_zip(index_of(), {}), "holds no digits"),
    "newer version": (make_zip({**index_of(good_entry(1)[0]), "version": 99}, good_entry(1)[1]), "newer"),
    "image missing": (make_zip(index_of(good_entry(1)[0], {"label": 2, "file": "images/gone.png"}),
                               good_entry(1)[1]), "missing from the zip"),
    "bad label": (make_zip(index_of(good_entry(1)[0], good_entry(2, label=12)[0]),
                           {**good_entry(1)[1], **good_entry(2)[1]}), "not a digit 0-9"),
    "not an image": (make_zip(index_of(good_entry(1)[0], {"label": 2, "file": "images/x.png"}),
                              {**good_entry(1)[1], "images/x.png": b"\x89PNG garbage"}), "28x28"),
    "wrong size": (make_zip(index_of(good_entry(1)[0], {"label": 2, "file": "images/big.png"}),
                            {**good_entry(1)[1], "images/big.png": png_bytes(np.zeros((32, 32), np.uint8))}),
                   "28x28"),
}


@pytest.mark.parametrize("case", list(BAD_ZIPS))
def test_a_bad_zip_is_rejected_and_nothing_is_imported(pset, case):
    pset.add_many([(digit(500), 5), (digit(501), 6)])
    before_files, before_index = files_in(pset.folder), (pset.folder / "index.json").read_bytes()
    data, message = BAD_ZIPS[case]
    with pytest.raises(PersonalSetError, match=message):
        pset.import_zip(data)
    assert files_in(pset.folder) == before_files
    assert (pset.folder / "index.json").read_bytes() == before_index


def test_a_good_entry_before_a_bad_one_is_not_imported(pset):
    # The first digit is fine, the second is broken: neither may be imported.
    data, _ = BAD_ZIPS["bad label"]
    with pytest.raises(PersonalSetError, match="digit 2 of the file"):
        pset.import_zip(data)
    assert len(pset) == 0 and not list(pset.folder.glob("images/*.png"))


# --------------------------------------------------------------------------- held-out split


def test_held_out_split_is_deterministic_and_about_a_fifth(pset, tmp_path):
    items = [(digit(i), i % 10) for i in range(400)]
    pset.add_many(items)
    train, held = pset.split()
    assert len(train) + len(held) == 400 and 50 <= len(held) <= 110
    # The same digits added in another order (and in two goes) are split the same way.
    other = PersonalSet(tmp_path / "other")
    other.add_many(items[200:][::-1])
    other.add_many(items[:200])
    train2, held2 = other.split()
    as_set = lambda s: {x.numpy().tobytes() for x in s.images}  # noqa: E731
    assert as_set(held) == as_set(held2) and as_set(train) == as_set(train2)
    held_ids = {s.id for s in pset.samples() if s.held_out}
    assert held_ids == {digit_sets.digit_id(img) for img in held.images.numpy()}


def test_load_extra_reads_a_personal_set_or_label_folders(pset, tmp_path):
    import cv2

    pset.add_many([(digit(i), i % 10) for i in range(30)])
    train, held = digit_sets.load_extra(pset.folder)
    assert len(train) + len(held) == 30 and train.images.dtype == torch.uint8
    folders = tmp_path / "byfolder"
    for i in range(30):
        (folders / str(i % 10)).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folders / str(i % 10) / f"{i}.png"), digit(i))
    train2, held2 = digit_sets.load_extra(folders)
    assert sorted(train2.labels.tolist()) == sorted(train.labels.tolist())
    assert len(held2) == len(held)
    with pytest.raises(PersonalSetError, match="does not exist"):
        digit_sets.load_extra(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PersonalSetError, match="holds no digits"):
        digit_sets.load_extra(tmp_path / "empty")


def test_load_extra_for_training_needs_a_digit_outside_the_held_out_part(tmp_path):
    only_held = next(d for d in (digit(i) for i in range(100)) if digit_sets.is_held_out(digit_sets.digit_id(d)))
    small = PersonalSet(tmp_path / "small")
    small.add(only_held, 4)
    with pytest.raises(PersonalSetError, match="held out"):
        digit_sets.load_extra(small.folder)
    train, held = digit_sets.load_extra(small.folder, for_training=False)
    assert len(train) == 0 and len(held) == 1


# --------------------------------------------------------------------------- correcting a reading


def test_match_correction():
    assert match_correction("3450", 4).labels == [3, 4, 5, 0]
    assert match_correction(" 34 50 ", 4).labels == [3, 4, 5, 0]
    assert match_correction("12 / 34", 4).labels == [1, 2, 3, 4]
    assert match_correction("12\n34", 4).ok
    wrong = match_correction("34500", 4)
    assert not wrong.ok and wrong.labels == []
    assert "You typed 5 digits but the photo has 4 digit boxes." in wrong.message
    assert "*Fix the boxes*" in wrong.message and "What you typed is kept" in wrong.message
    assert "1 digit box." in match_correction("12", 1).message
    assert "digits only" in match_correction("34a0", 4).message
    assert not match_correction("", 3).ok


def test_save_correction_saves_each_box_with_its_label(pset):
    images = [digit(1), digit(2), digit(3)]
    correction, report = save_correction(images, "7 1 7", source="Recognize: x.png", personal=pset)
    assert correction.ok and report.added == 3
    by_id = {s.id: s.label for s in pset.samples()}
    assert [by_id[digit_sets.digit_id(img)] for img in images] == [7, 1, 7]
    correction, report = save_correction(images, "71", personal=pset)
    assert not correction.ok and report is None and len(pset) == 3


# --------------------------------------------------------------------------- training with it


def test_oversample_makes_the_extra_digits_a_share_of_the_epoch():
    base = MnistSplit(torch.zeros(8000, 28, 28, dtype=torch.uint8), torch.zeros(8000, dtype=torch.long))
    extra = MnistSplit(torch.ones(100, 28, 28, dtype=torch.uint8), torch.full((100,), 7))
    mixed = oversample(base, extra, share=0.2)
    n_extra = int((mixed.labels == 7).sum())
    assert n_extra == 2000 and len(mixed) == 10000  # 20% of the epoch, 20 repeats
    assert len(oversample(base, extra, 0.2, max_repeats=5)) == 8500
    big = MnistSplit(torch.ones(5000, 28, 28, dtype=torch.uint8), torch.full((5000,), 7))
    assert len(oversample(base, big, 0.01)) == 13000  # always at least once
    assert oversample(base, MnistSplit(extra.images[:0], extra.labels[:0])) is base
    with pytest.raises(ValueError):
        oversample(base, extra, 1.0)


def test_training_with_extra_data_tests_the_held_out_part(data_dir, tmp_path, pset):
    from digitlib.data import load_mnist
    from digitlib.presets import recipe
    from digitlib.training import EpochEvent, train

    test = load_mnist(train=False, root=data_dir, download=False)
    pset.add_many(list(zip(test.images[-60:].numpy(), test.labels[-60:].tolist())))
    cfg = recipe("seednet")
    cfg.epochs, cfg.limit, cfg.test_limit, cfg.log_every = 1, 640, 200, 5
    cfg.data_dir, cfg.download, cfg.extra_data = str(data_dir), False, str(pset.folder)
    events = []
    result = train(cfg, tmp_path / "m.pt", on_event=events.append)
    epoch = [e for e in events if isinstance(e, EpochEvent)][0]
    assert epoch.extra_accuracy is not None and 0.0 <= epoch.extra_accuracy <= 1.0
    assert result.history["epochs"][0]["extra_accuracy"] == epoch.extra_accuracy
    n_train = len(digit_sets.load_extra(pset.folder)[0])
    assert result.step == (640 + n_train * round(0.25 * 640 / n_train)) // 64  # MNIST plus the repeats


def test_cli_train_with_extra_data(data_dir, tmp_path, pset, capsys):
    from digitlib import cli
    from digitlib.checkpoint import SHIPPED_SEEDNET, load_checkpoint
    from digitlib.data import load_mnist

    test = load_mnist(train=False, root=data_dir, download=False)
    pset.add_many(list(zip(test.images[-60:].numpy(), test.labels[-60:].tolist())))
    out = tmp_path / "tuned.pt"
    code = cli.main(["train", "--arch", "seednet", "--init-from", str(SHIPPED_SEEDNET), "--extra-data",
                     str(pset.folder), "--epochs", "1", "--limit", "256", "--data", str(data_dir),
                     "--no-download", "--device", "cpu", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "your digits (held out)" in printed and "before" in printed and "after" in printed
    args = load_checkpoint(out)["train_args"]
    assert args["extra_data"] == str(pset.folder) and args["lr"] == 0.005  # the fine-tuning recipe
    code = cli.main(["train", "--extra-data", str(tmp_path / "nowhere"), "--data", str(data_dir),
                     "--no-download", "--limit", "64", "--epochs", "1", "--out", str(tmp_path / "x.pt")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------- the pages (AppTest)


def app_page(page: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_my_digits_page_imports_validates_and_deletes(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLIB_PERSONAL", str(tmp_path / "mine"))
    at = app_page("pages/my_digits.py")
    assert any("No digits yet" in i.value for i in at.info)

    source = PersonalSet(tmp_path / "source")
    source.add_many([(digit(i), i % 3) for i in range(6)])
    at.file_uploader(key="my_digits_import").set_value(("mine.zip", source.export_zip(), "application/zip")).run()
    at.button(key="my_digits_import_button").click().run()
    assert not at.exception, at.exception
    assert any("Imported mine.zip: 6 digits (6 new)" in s.value for s in at.success)
    assert [h.value for h in at.subheader] == ["Digit 0 · 2 saved", "Digit 1 · 2 saved", "Digit 2 · 2 saved"]
    assert [m.value for m in at.metric][0] == "6"

    at.file_uploader(key="my_digits_import").set_value(("junk.zip", b"not a zip at all", "application/zip")).run()
    at.button(key="my_digits_import_button").click().run()
    assert any("Nothing was imported" in e.value and "not a zip file" in e.value for e in at.error)
    assert len(PersonalSet()) == 6

    first = PersonalSet().samples()[-1]  # the gallery shows the newest first
    at.button(key=f"my_digits_delete_{first.id}").click().run()
    assert any(f"Deleted a {first.label}." in s.value for s in at.success)
    assert len(PersonalSet()) == 5 and first.id not in {s.id for s in PersonalSet().samples()}


def test_train_page_fine_tunes_with_my_digits_and_shows_before_and_after(tmp_path, monkeypatch, data_dir):
    from streamlit.testing.v1 import AppTest

    from digitlib import jobs
    from digitlib.checkpoint import SHIPPED_MODEL
    from digitlib.data import load_mnist

    monkeypatch.setenv("DIGITLIB_PERSONAL", str(tmp_path / "mine"))
    monkeypatch.setenv("DIGITLIB_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("DIGITLIB_DATA", str(data_dir))
    from pages.ui.jobs import server_registry

    registry = server_registry()
    registry.stop_all(60)
    test = load_mnist(train=False, root=data_dir, download=False)
    PersonalSet().add_many(list(zip(test.images[-50:].numpy(), test.labels[-50:].tolist())))

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "pages" / "train.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert any("50 digits in My digits" in c.value for c in at.sidebar.caption)
    at.toggle(key="train_mine").set_value(True).run()
    # The fine-tuning recipe, starting from the active (here: the shipped) model.
    assert at.session_state["train_init"] == str(SHIPPED_MODEL)
    assert (at.session_state["train_epochs"], at.session_state["train_lr"], at.session_state["train_limit"]) == (
        2, 0.003, 10_000)
    assert any("Fine-tuning settings loaded" in i.value for i in at.info)
    for key, value in {"train_epochs": 1, "train_limit": 640, "train_test_limit": 500}.items():
        at.number_input(key=key).set_value(value)
    at.run()
    at.button(key="train_start").click().run()
    try:
        job = registry.latest
        assert job.wait(300) and job.status == jobs.FINISHED, job.error
        assert job.cfg.extra_data == str(tmp_path / "mine")
        at.run()
        assert not at.exception, at.exception
        assert "Before and after: your digits and MNIST" in [h.value for h in at.subheader]
        labels = [m.label for m in at.metric]
        assert any(label.startswith("My digits, held out (") for label in labels)
        assert "MNIST test (500 images)" in labels
        table = next(d.value for d in at.dataframe if "My digits (held out)" in d.value.columns)
        assert list(table["Model"])[0].startswith("Before: Shipped model")
        assert all(v.endswith("%") for v in table["MNIST test"])
    finally:
        registry.stop_all(60)


def test_a_read_only_set_can_still_be_trained_on(pset, monkeypatch):
    pset.add_many([(digit(i), i % 10) for i in range(20)])
    (pset.folder / ".lock").unlink()
    real_open = open

    def no_writes(path, mode="r", *args, **kwargs):
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Read-only file system", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_writes)
    train, held = digit_sets.load_extra(pset.folder)
    assert len(train) + len(held) == 20
    with pytest.raises(PermissionError):
        pset.add(digit(99), 1)
