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


# --------------------------------------------------------------------------- presets


def small(cfg: TrainConfig, data_dir, **kw) -> TrainConfig:
    """A preset's recipe on a small subset: two epochs over 4,096 images, tested on 1,000."""
    cfg.data_dir, cfg.download = str(data_dir), False
    cfg.limit, cfg.test_limit, cfg.epochs, cfg.log_every = 4096, 1000, 2, 4
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@pytest.mark.parametrize("name, floor", [("quick", 0.85), ("best", 0.75), ("article", 0.5), ("shipped", 0.75)])
def test_each_preset_trains_and_its_checkpoint_loads(data_dir, tmp_path, name, floor):
    from digitlib.presets import PRESETS, matching_preset, preset

    cfg = small(preset(name), data_dir)
    assert matching_preset(cfg) is None  # fewer epochs than the preset's
    cfg.epochs = PRESETS[name].settings["epochs"]
    assert matching_preset(cfg) == name
    cfg.epochs = 2
    result = train(cfg, tmp_path / f"{name}.pt")
    assert result.test_accuracy > floor, (name, result.test_accuracy)
    loaded = load_model(result.checkpoint)  # weights_only=True, as every checkpoint is loaded
    assert loaded.arch == PRESETS[name].settings["arch"]
    saved = TrainConfig.from_dict(load_checkpoint(result.checkpoint)["train_args"])
    assert saved.epochs == 2 and saved.augment == PRESETS[name].settings["augment"]


def test_finetune_preset_starts_from_a_model_and_tests_the_held_out_digits(data_dir, tmp_path):
    import cv2

    from digitlib.data import load_mnist
    from digitlib.presets import FINETUNE_IMAGES, finetune_recipe, preset

    base = train(small(preset("quick"), data_dir), tmp_path / "base.pt")
    test = load_mnist(train=False, root=data_dir, download=False)
    mine = tmp_path / "mine"  # 0/ to 9/ of 28x28 PNGs: a digit set from elsewhere
    for i in range(9000, 9100):
        (mine / str(int(test.labels[i]))).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(mine / str(int(test.labels[i])) / f"{i}.png"), test.images[i].numpy())
    cfg = finetune_recipe("quicknet", extra_data=str(mine))
    assert cfg.arch == "quicknet" and cfg.epochs == 2 and cfg.limit == FINETUNE_IMAGES
    assert cfg.lr < preset("quick").lr
    cfg.data_dir, cfg.download, cfg.limit, cfg.test_limit, cfg.epochs = str(data_dir), False, 2048, 1000, 1
    events = []
    tuned = train(cfg, tmp_path / "tuned.pt", init_from=base.checkpoint, on_event=events.append)
    (epoch,) = [e for e in events if isinstance(e, EpochEvent)]
    assert epoch.extra_accuracy is not None and epoch.extra_accuracy > 0.8
    assert tuned.test_accuracy > base.test_accuracy - 0.03
    assert load_checkpoint(tuned.checkpoint)["init_from"] == str(base.checkpoint)


def test_unknown_preset_and_bad_settings_are_refused_in_words(data_dir, tmp_path):
    from digitlib.presets import preset, recipe

    with pytest.raises(ValueError, match="unknown preset 'fastest'; choose one of: quick, best"):
        preset("fastest")
    with pytest.raises(ValueError, match="unknown architecture"):
        recipe("resnet")
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        train(small(preset("quick"), data_dir, augment="flip"), tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_validation_split_tests_on_held_out_training_images(data_dir, tmp_path):
    from digitlib.data import load_mnist
    from digitlib.model import MNIST_MEAN, MNIST_STD
    from digitlib.presets import preset
    from digitlib.evaluation import evaluate

    cfg = small(preset("quick"), data_dir, validation=1000, test_limit=None, limit=1024)
    result = train(cfg, tmp_path / "v.pt")
    images = load_mnist(train=True, root=data_dir, download=False)
    held = type(images)(images.images[-1000:], images.labels[-1000:])
    _, accuracy, _, _ = evaluate(load_model(result.checkpoint).model, held, "cpu", MNIST_MEAN, MNIST_STD)
    assert result.test_accuracy == pytest.approx(accuracy)
    with pytest.raises(ValueError, match="validation split of 60000 images does not fit"):
        train(small(preset("quick"), data_dir, validation=60_000), tmp_path / "w.pt")


def test_checkpoints_from_before_presets_keep_their_settings():
    old = {"arch": "digitnet", "augment": True, "epochs": 20, "optimizer": "sgd"}
    cfg = TrainConfig.from_dict(old)
    assert cfg.augment == "photo" and cfg.label_smoothing == 0.0 and cfg.validation == 0
    assert TrainConfig.from_dict({**old, "augment": False}).augment == "none"
    assert TrainConfig.from_dict({"epochs": 3}).arch == "digitnet"  # the only network there was


def test_random_shift_moves_whole_digits_by_at_most_two_pixels(data_dir):
    from digitlib.data import load_mnist, random_shift

    x = load_mnist(train=False, root=data_dir, download=False).images[:256].float().div(255).unsqueeze(1)
    a = random_shift(x, 2, torch.Generator().manual_seed(5))
    assert torch.equal(a, random_shift(x, 2, torch.Generator().manual_seed(5)))
    assert a.shape == x.shape and not torch.equal(a, x)
    # A digit with two blank pixels on every side loses no ink (most of MNIST: it is
    # centred by its centre of mass, so a few touch the edge)...
    ink = x[:, 0] > 0
    margin = (~ink[:, :2].any((1, 2)) & ~ink[:, -2:].any((1, 2)) & ~ink[:, :, :2].any((1, 2))
              & ~ink[:, :, -2:].any((1, 2)))
    assert margin.sum() > 200
    torch.testing.assert_close(a.sum((1, 2, 3))[margin], x.sum((1, 2, 3))[margin])
    # ...and each image is its original moved by whole pixels, at most two each way.
    for i in range(0, 256, 37):
        padded = torch.nn.functional.pad(x[i, 0], (2, 2, 2, 2))
        assert any(torch.equal(a[i, 0], padded[dy : dy + 28, dx : dx + 28]) for dy in range(5) for dx in range(5))
    moved = sum(not torch.equal(a[i], x[i]) for i in range(256))
    assert moved > 200  # one in 25 stays put


def test_cli_trains_a_preset_with_settings_changed(data_dir, tmp_path, capsys):
    from digitlib import cli

    out = tmp_path / "q.pt"
    code = cli.main(["train", "--preset", "quick", "--epochs", "2", "--limit", "1024", "--data", str(data_dir),
                     "--no-download", "--device", "cpu", "--out", str(out)])
    assert code == 0, capsys.readouterr()
    args = load_checkpoint(out)["train_args"]
    assert (args["arch"], args["optimizer"], args["batch_size"], args["epochs"], args["limit"]) == (
        "quicknet", "adamw", 256, 2, 1024)
    assert "epoch 2: train loss" in capsys.readouterr().out
    assert cli.main(["train", "--preset", "fastest", "--data", str(data_dir)]) == 2
    assert "unknown preset 'fastest'" in capsys.readouterr().err
    assert cli.main(["train", "--preset", "finetune", "--data", str(data_dir)]) == 2
    assert "needs --init-from" in capsys.readouterr().err


def test_every_command_prints_its_help(capsys):
    # argparse %-formats help text, so a bare "%" in an option's help (a preset's "99 %")
    # crashes --help while every other use of the parser still works.
    from digitlib import cli

    for command in cli.build_parser()._subparsers._group_actions[0].choices:
        with pytest.raises(SystemExit) as exit_:
            cli.main([command, "--help"])
        assert exit_.value.code == 0, command
        assert "usage: python -m digitlib " + command in capsys.readouterr().out


def test_train_benchmark_runs_presets_side_by_side_and_beside_a_reading_load(data_dir, capsys):
    from digitlib import bench, bench_train

    assert bench_train.time_to_reach([(1, 0.96, 2.0), (2, 0.991, 4.0)], 0.975) == (2, 4.0)
    assert bench_train.time_to_reach([(1, 0.96, 2.0)], 0.99) is None
    code = bench.main(["train", "--data", str(data_dir), "--presets", "quick,article", "--seeds", "1,2",
                       "--once", "", "--load-preset", "quick", "--limit", "1024", "--epochs", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = [line.split(" | ")[:2] for line in out.splitlines() if line.startswith(("| quick | ", "| article | "))]
    # seed by seed, the presets side by side, then the mean of each
    assert rows[:4] == [["| quick", "1"], ["| article", "1"], ["| quick", "2"], ["| article", "2"]]
    assert ["| quick", "2"] in rows[4:] and ["| article", "2"] in rows[4:]
    assert "| beside a reading load |" in out and "slowdown beside the reading load: " in out
