"""The Train page under Streamlit's AppTest: start a tiny run and watch it, a second Start
refused, stop and resume, the models table, and the faults a user can meet.

AppTest does not fire a fragment's ``run_every`` by itself, so the tests call ``at.run()``
while the worker trains, and check the server-wide job registry directly as well.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from tests.support import slowed_train
from digitlib import jobs, store
from pages.ui.jobs import server_registry
from digitlib.checkpoint import load_checkpoint
from digitlib.training import train

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "train.py")


@pytest.fixture
def registry(monkeypatch, tmp_path, data_dir):
    """The page's registry (shared through st.cache_resource), idle, with models in tmp."""
    monkeypatch.setenv("DIGITLIB_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("DIGITLIB_DATA", str(data_dir))
    reg = server_registry()
    reg.stop_all(60)
    yield reg
    reg.stop_all(60)
    reg.train_fn = train




def open_page(**form) -> AppTest:
    """The page with a tiny SeedNet run set in the form (640 images, 10 steps, log every 2)."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    at.selectbox(key="train_arch").set_value("seednet").run()
    values = {"train_epochs": 1, "train_limit": 640, "train_test_limit": 300, "train_log_every": 2, **form}
    for key, value in values.items():
        at.number_input(key=key).set_value(value)
    at.toggle(key="train_download").set_value(False)
    at.run()
    return at


def loss_points(at: AppTest) -> int:
    """Rows of the raw training-loss series in the plotted chart (0 when not drawn)."""
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        if (spec.get("title") or "") != "Training loss":
            continue
        table = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pandas()
        return int((table["series"] == "raw").sum()) if "series" in table else 0  # else: the placeholder
    return 0


def metric(at: AppTest, label: str) -> str:
    """The value of the first metric whose label starts with ``label``, e.g. "Step (of 10)"."""
    return next(m.value for m in at.metric if m.label.startswith(label))


def step_counter(at: AppTest) -> str:
    """The live view's step counter as "step / total"."""
    m = next(m for m in at.metric if m.label.startswith("Step"))
    total = m.label.removeprefix("Step (of ").rstrip(")")
    return f"{m.value} / {total}"


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def run_until(at: AppTest, predicate, timeout: float = 60.0, every: float = 0.3):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        at.run()
        assert not at.exception, at.exception
        if predicate():
            return
        time.sleep(every)
    raise AssertionError("condition not reached in time")


def test_tiny_run_plots_growing_curves_and_finishes(registry):
    registry.train_fn = slowed_train(0.25)
    at = open_page()
    at.button(key="train_start").click().run()
    job = registry.running
    assert job is not None and job.cfg.arch == "seednet" and job.cfg.limit == 640 and job.cfg.test_limit == 300
    assert job.out.parent == registry_models_dir()

    seen = []
    run_until(at, lambda: (seen.append(loss_points(at)) or not job.active))
    at.run()
    counts = [c for c in seen if c]
    assert len(set(counts)) >= 2 and counts == sorted(counts), f"chart data did not grow: {seen}"
    assert job.status == jobs.FINISHED, job.error
    assert loss_points(at) == 5  # 10 steps, one point every 2
    assert step_counter(at) == "10 / 10"
    assert "Finished" in texts(at.markdown)
    # After training: accuracy, confusion heatmap, per-class chart, misclassified gallery.
    assert any(s.value.startswith("Results: ") for s in at.subheader)
    report_acc = [m.value for m in at.metric if m.label == "Test accuracy"]
    assert len(report_acc) == 2 and report_acc[0] == report_acc[1]
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any("Confusion matrix (rows: true digit)" in s and '"rect"' in s for s in specs)
    assert any("Accuracy per digit" in s for s in specs)
    assert len(at.get("image")) > 0 and "true **" in texts(at.caption)
    # The run is in the models table.
    table = at.dataframe[0].value
    assert list(table["Name"])[:2] == ["shipped", job.out.stem]
    assert list(table["Status"])[1] == "finished"
    assert list(table["Epochs"])[1] == "1"  # not "1.00"


def chart_table(at: AppTest, title: str):
    """The data of the plotted chart with this title, as a DataFrame."""
    for chart in at.get("vega_lite_chart"):
        if (json.loads(chart.proto.spec).get("title") or "") == title:
            return pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pandas()
    raise AssertionError(f"no chart titled {title!r}")


def test_digitnet_run_charts_the_not_digit_share(registry):
    """DigitNet's recipe learns a "not one digit" output; the accuracy chart shows how many
    held-out non-digits the model calls so, beside MNIST test accuracy."""
    at = open_page()
    at.selectbox(key="train_arch").set_value("digitnet").run()
    for key, value in {"train_epochs": 1, "train_limit": 640, "train_test_limit": 300, "train_log_every": 2}.items():
        at.number_input(key=key).set_value(value)
    at.run()
    at.button(key="train_start").click().run()
    job = registry.running
    assert job is not None and job.cfg.arch == "digitnet" and job.cfg.not_digits > 0
    run_until(at, lambda: not job.active, timeout=240)
    at.run()
    assert job.status == jobs.FINISHED, job.error
    table = chart_table(at, "Test accuracy per epoch")
    assert set(table["set"]) == {"MNIST test", "not-digits found"}
    share = float(table.loc[table["set"] == "not-digits found", "accuracy"].iloc[0])
    assert share == pytest.approx(job.snapshot().epochs[-1]["not_digit_accuracy"])


def registry_models_dir():
    from digitlib.store import models_dir

    return models_dir()


def test_second_start_is_refused_and_shows_the_running_job(registry):
    registry.train_fn = slowed_train(0.5)
    at = open_page(train_limit=1280)
    at.button(key="train_start").click().run()
    first = registry.running
    assert first is not None

    # A second tab (another session) presses Start too.
    other = open_page()
    other.button(key="train_start").click().run()
    assert "Not started: a training run is already in progress" in texts(other.error)
    assert registry.running is first and len([j for j in registry.jobs if j.active]) == 1
    assert any(m.label.startswith("Step") for m in other.metric)  # the live view of the running job
    assert "Training" in texts(other.markdown)

    first.stop()
    assert first.wait(60)


def test_stop_and_resume_continue_the_step_count(registry):
    registry.train_fn = slowed_train(0.3)
    at = open_page(train_limit=1280, train_epochs=2)  # 20 steps an epoch, 40 in all
    at.button(key="train_start").click().run()
    job = registry.running
    run_until(at, lambda: loss_points(at) >= 2)
    at.button(key="train_stop").click().run()
    assert job.wait(60)
    assert job.status == jobs.STOPPED, job.error
    stopped_at = job.snapshot().step
    at.run()
    assert "Stopped (resumable)" in texts(at.markdown)
    points_before = loss_points(at)
    assert points_before == len(job.snapshot().steps) >= 2
    table = at.dataframe[0].value
    assert list(table["Status"])[1] == "stopped (resumable)"
    stopped = load_checkpoint(job.out)
    assert stopped["training_state"] is not None
    resumed_at = stopped["step"]  # where the checkpoint stopped, so where training goes on

    registry.train_fn = train
    at.button(key="train_resume").click().run()
    resumed = registry.latest
    assert resumed is not job and resumed.resume == job.out and resumed.out == job.out
    assert resumed.wait(120)
    assert resumed.status == jobs.FINISHED, resumed.error
    steps = [s["step"] for s in resumed.snapshot().steps]
    assert steps[:points_before] == [s["step"] for s in job.snapshot().steps]
    assert steps[points_before] > stopped_at - 2 and steps[-1] == 40 and steps == sorted(steps)
    at.run()
    assert step_counter(at) == "40 / 40"
    assert loss_points(at) == len(steps)
    # The header names the step the run resumed at (the checkpoint's), not the first point of its curve.
    # The stop lands between two steps, which need not be a logged one (a point every 2 steps here).
    last_point = stopped["history"]["steps"][points_before - 1]["step"]
    assert f"resumed at step {resumed_at}" in texts(at.markdown), texts(at.markdown)
    assert resumed.snapshot().resumed_at_step == resumed_at and last_point <= resumed_at < last_point + 2
    assert resumed_at != steps[0]


def test_models_use_on_recognize_and_delete_with_confirmation(registry):
    at = open_page()
    at.button(key="train_start").click().run()
    job = registry.running
    assert job.wait(60) and job.status == jobs.FINISHED, job.error
    at.run()

    # The shipped model is first and cannot be deleted.
    assert at.selectbox(key="train_pick").value.endswith("default.pt")
    assert at.button(key="train_delete").disabled

    at.selectbox(key="train_pick").set_value(str(job.out)).run()
    at.button(key="train_use").click().run()
    assert at.session_state["active_model"] == str(job.out)
    assert "now the model of the Recognize page" in texts(at.success)

    at.button(key="train_delete").click().run()
    assert "This cannot be undone" in texts(at.warning)
    at.button(key="train_delete_no").click().run()
    assert job.out.exists()

    at.button(key="train_delete").click().run()
    at.button(key="train_delete_yes").click().run()
    assert not job.out.exists()
    assert at.session_state["active_model"] is None  # back to the shipped model
    assert list(at.dataframe[0].value["Name"]) == ["shipped"]


def test_missing_mnist_is_reported_with_where_to_put_it(registry, tmp_path):
    empty = tmp_path / "no-mnist"
    at = open_page()
    at.text_input(key="train_data").set_value(str(empty)).run()
    assert f"MNIST is not in {empty / 'MNIST' / 'raw'}" in texts(at.warning)
    at.button(key="train_start").click().run()
    job = registry.latest
    assert job.wait(30) and job.status == jobs.FAILED
    at.run()
    shown = texts(at.error)
    assert "Training failed: MNIST not found in" in shown and "train-images-idx3-ubyte" in shown
    # It failed before its first step: no empty charts, no progress bar.
    assert not at.get("vega_lite_chart") and not at.get("progress")


def test_crash_in_training_is_shown_and_the_checkpoint_survives(registry):
    def crashing(cfg, out, on_event=None, stop=None, resume=None, init_from=None):
        def boom(event):
            on_event(event)
            if event.step > 10:
                raise RuntimeError("simulated fault")

        return train(cfg, out, on_event=boom, stop=stop, resume=resume, init_from=init_from)

    registry.train_fn = crashing
    at = open_page(train_epochs=3)
    at.button(key="train_start").click().run()
    job = registry.latest
    assert job.wait(60) and job.status == jobs.FAILED
    at.run()
    shown = texts(at.error)
    assert "Training failed: training crashed: RuntimeError: simulated fault" in shown
    assert f"The last good checkpoint is untouched: `{job.out}`" in texts(at.info)
    assert load_checkpoint(job.out)["step"] == 10
    assert at.button(key="train_resume_failed") is not None


def test_unwritable_models_folder_is_reported(registry, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DIGITLIB_MODELS", str(blocker / "models"))
    at = open_page()
    assert "Trained models cannot be saved" in texts(at.error)
    at.button(key="train_start").click().run()
    shown = texts(at.error)
    assert "Not started: the models folder cannot be used" in shown and str(blocker) in shown
    assert registry.running is None


def test_presets_fill_the_form_and_stay_editable(registry):
    registry._jobs.clear()  # a server that has run nothing yet (earlier tests share the registry)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    # An empty page points at the sidebar, where the settings are.
    assert "Pick a preset and settings in the sidebar" in texts(at.info)
    # The quick preset is the default.
    assert at.selectbox(key="train_preset").value == "quick"
    assert at.selectbox(key="train_arch").value == "quicknet"
    assert at.number_input(key="train_epochs").value == 1 and at.number_input(key="train_batch").value == 256
    assert at.selectbox(key="train_optimizer").value == "adamw" and at.selectbox(key="train_augment").value == "none"
    assert "Settings changed" not in texts(at.caption)

    at.selectbox(key="train_preset").set_value("article").run()
    assert at.selectbox(key="train_arch").value == "seednet"
    assert at.number_input(key="train_epochs").value == 5
    assert at.number_input(key="train_batch").value == 64
    assert at.number_input(key="train_lr").value == pytest.approx(0.01)
    assert at.number_input(key="train_momentum").value == pytest.approx(0.5)
    assert at.selectbox(key="train_schedule").value == "constant"
    assert at.selectbox(key="train_optimizer").value == "sgd"

    # A setting changed by hand stays, and the page says the run no longer follows the preset.
    at.number_input(key="train_epochs").set_value(2).run()
    assert at.number_input(key="train_epochs").value == 2
    assert "Settings changed from the *article* preset" in texts(at.caption)
    at.button(key="train_start").click().run()
    job = registry.latest
    assert job.cfg.arch == "seednet" and job.cfg.epochs == 2 and job.cfg.batch_size == 64
    job.stop()
    assert job.wait(60)

    # Picking an architecture loads the preset it starts from.
    at.selectbox(key="train_arch").set_value("digitnet").run()
    assert at.selectbox(key="train_preset").value == "shipped"
    assert at.number_input(key="train_epochs").value == 20 and at.selectbox(key="train_augment").value == "photo"


def test_form_blocks_invalid_values(registry):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    bounds = {k: (at.number_input(key=k).min, at.number_input(key=k).max) for k in
              ("train_epochs", "train_batch", "train_lr", "train_seed", "train_limit", "train_log_every")}
    assert bounds["train_epochs"][0] == 1 and bounds["train_batch"][0] >= 1 and bounds["train_lr"][0] > 0
    assert bounds["train_seed"][0] == 0 and bounds["train_limit"] == (0, 60000) and bounds["train_log_every"][0] == 1
    # Every setting has a short note saying what it does.
    assert all(w.help for w in at.number_input) and all(w.help for w in at.selectbox if w.key != "train_pick")


def test_compare_view_draws_two_runs_on_one_chart(registry):
    at = open_page()
    finished = []
    for seed in (1, 2, 3):
        at.number_input(key="train_seed").set_value(seed).run()
        at.button(key="train_start").click().run()
        job = registry.latest
        assert job.wait(60) and job.status == jobs.FINISHED, job.error
        finished.append(job)
    at.run()
    at.multiselect(key="train_compare").set_value([str(j.out) for j in finished[:2]]).run()
    assert not at.exception, at.exception
    table = chart_table(at, "Test accuracy")
    assert len(set(table["run"])) == 2
    for job in finished[:2]:
        (row,) = table[table["run"] == store.read_entry(job.out).label].itertuples()
        assert row.accuracy == pytest.approx(job.snapshot().epochs[-1]["test_accuracy"])
    loss = chart_table(at, "Training loss (smoothed)")
    assert len(set(loss["run"])) == 2 and len(loss) == sum(len(j.snapshot().steps) for j in finished[:2])

    # A compared run deleted: the page draws the rest without it.
    at.multiselect(key="train_compare").set_value([str(j.out) for j in finished]).run()
    at.selectbox(key="train_pick").set_value(str(finished[0].out)).run()
    at.button(key="train_delete").click().run()
    at.button(key="train_delete_yes").click().run()
    assert not at.exception, at.exception
    assert at.multiselect(key="train_compare").value == [str(j.out) for j in finished[1:]]
    assert set(chart_table(at, "Test accuracy")["run"]) == {store.read_entry(j.out).label for j in finished[1:]}
