import threading

import pytest
import torch

from digitlib.checkpoint import load_checkpoint, load_model
from digitlib.presets import recipe
from digitlib.training import EpochEvent, StepEvent, TrainConfig, train


def tiny(data_dir, **kw) -> TrainConfig:
    cfg = recipe("digitnet")
    cfg.data_dir, cfg.download = str(data_dir), False
    cfg.limit, cfg.test_limit, cfg.epochs, cfg.batch_size, cfg.log_every = 3000, 1000, 2, 64, 5
    cfg.not_digits = 0.0  # these tests count steps of digits only; the NOT_A_DIGIT test adds them
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def test_short_training_learns_and_reports_progress(data_dir, tmp_path):
    events = []
    result = train(tiny(data_dir), tmp_path / "m.pt", on_event=events.append)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert len(epochs) == 2 and [e.epoch for e in epochs] == [1, 2]
    assert steps[0].step == 5 and steps[-1].step == result.step == 2 * (3000 // 64)
    assert all(s.images_per_s > 0 and s.lr > 0 and s.samples_seen == s.step * 64 for s in steps)
    # the loss falls and the model generalises to held-out test digits
    assert sum(s.train_loss for s in steps[-3:]) / 3 < 0.5 * sum(s.train_loss for s in steps[:3]) / 3
    assert epochs[-1].test_accuracy > 0.90 and result.test_accuracy == epochs[-1].test_accuracy
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt["finished"] and ckpt["training_state"] is None and ckpt["epochs_done"] == 2
    assert ckpt["train_args"]["limit"] == 3000 and ckpt["test_accuracy"] == result.test_accuracy
    assert len(ckpt["history"]["epochs"]) == 2


def test_not_digit_examples_train_an_eleventh_output(data_dir, tmp_path):
    from digitlib.model import output_count

    events = []
    result = train(tiny(data_dir, not_digits=0.2, epochs=1), tmp_path / "m.pt", on_event=events.append)
    # 3000 digits make up 80 % of the epoch; 750 non-digits the rest
    assert result.step == 3750 // 64
    (epoch,) = [e for e in events if isinstance(e, EpochEvent)]
    assert epoch.test_accuracy > 0.85 and epoch.not_digit_accuracy > 0.5
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt["model_state"]["classifier.5.bias"].shape == (11,) and ckpt["train_args"]["not_digits"] == 0.2
    assert output_count(load_model(result.checkpoint).model) == 11


def test_checkpoint_written_per_epoch_not_per_batch(data_dir, tmp_path, monkeypatch):
    import digitlib.training as training

    saves = []
    real = training.save_checkpoint
    monkeypatch.setattr(training, "save_checkpoint", lambda p, path: saves.append(1) or real(p, path))
    train(tiny(data_dir, epochs=2, limit=640), tmp_path / "m.pt")
    assert len(saves) == 2


def _stop_after(step: int, stop: threading.Event):
    def on_event(event):
        if isinstance(event, StepEvent) and event.step >= step:
            stop.set()
    return on_event


def test_stop_then_resume_continues_exactly(data_dir, tmp_path):
    cfg = tiny(data_dir, limit=1280, epochs=2, test_limit=500)
    full = train(cfg, tmp_path / "full.pt")

    stop = threading.Event()
    stopped = train(cfg, tmp_path / "part.pt", on_event=_stop_after(25, stop), stop=stop)
    assert stopped.stopped and stopped.step == 25  # mid-way through epoch 2 (20 steps per epoch)
    state = load_checkpoint(stopped.checkpoint)
    assert state["training_state"]["epoch"] == 2 and state["training_state"]["epoch_step"] == 5
    assert state["training_state"]["optimizer"]["state"], "optimizer momentum must be saved"

    events = []
    resumed = train(cfg, tmp_path / "part.pt", on_event=events.append, resume=tmp_path / "part.pt")
    assert not resumed.stopped and resumed.step == full.step == 40
    assert [e.epoch for e in events if isinstance(e, EpochEvent)] == [2]
    assert min(e.step for e in events if isinstance(e, StepEvent)) > 25
    # the curves continue: the history holds both the steps before and after the stop
    assert len(resumed.history["epochs"]) == 2
    # same seed, same batches, same optimizer state: the same model as an uninterrupted run
    a, b = load_checkpoint(full.checkpoint)["model_state"], load_checkpoint(resumed.checkpoint)["model_state"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_training_is_repeatable(data_dir, tmp_path):
    cfg = tiny(data_dir, limit=640, epochs=1, test_limit=200)
    a = load_checkpoint(train(cfg, tmp_path / "a.pt").checkpoint)["model_state"]
    b = load_checkpoint(train(cfg, tmp_path / "b.pt").checkpoint)["model_state"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_of_finished_run_is_refused(data_dir, tmp_path):
    done = train(tiny(data_dir, limit=320, epochs=1, test_limit=100), tmp_path / "d.pt")
    with pytest.raises(ValueError, match="no training state"):
        train(tiny(data_dir), tmp_path / "x.pt", resume=done.checkpoint)


def test_seednet_recipe_is_the_articles():
    cfg = recipe("seednet")
    assert (cfg.optimizer, cfg.lr, cfg.momentum, cfg.batch_size, cfg.epochs, cfg.augment) == (
        "sgd", 0.01, 0.5, 64, 5, "none")


def test_init_from_starts_from_given_weights(data_dir, tmp_path):
    base = train(tiny(data_dir, limit=640, epochs=1, test_limit=500), tmp_path / "base.pt")
    tuned = train(tiny(data_dir, limit=64, epochs=1, test_limit=500, lr=1e-4), tmp_path / "t.pt",
                  init_from=base.checkpoint)
    # one tiny step at a tiny rate from good weights keeps them good
    assert tuned.test_accuracy > base.test_accuracy - 0.05
    assert load_model(tuned.checkpoint).arch == "digitnet"
