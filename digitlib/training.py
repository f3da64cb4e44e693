"""Training on MNIST, in the spirit of PyTorch's ``examples/mnist/main.py``.

The data stays in memory as tensors: each step takes a batch by index, augments it
with tensor operations and takes one optimizer step. The loop never prints. Progress
goes out as events to a callback: ``StepEvent`` every ``log_every`` steps and
``EpochEvent`` after each test pass. Stopping is cooperative: set ``stop`` (a
``threading.Event``) and the loop ends after the current step, saving a checkpoint
that ``resume`` continues from. Named recipes are in ``digitlib.presets``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from . import __version__
from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, load_checkpoint, model_from_checkpoint, save_checkpoint
from .data import (
    Augmentation, MnistSplit, augment, load_mnist, make_not_digits, normalise, oversample, random_shift,
)
from .digit_sets import load_extra
from .evaluation import evaluate, not_digit_accuracy
from .model import MNIST_MEAN, MNIST_STD, NOT_A_DIGIT, build_model, output_count, pick_device

AUGMENTATIONS = ("none", "shift", "photo")  # see TrainConfig.augment
SHIFT_PX = 2  # how far "shift" moves a digit, each way
PHOTO_AUGMENTATION = Augmentation()  # what "photo" does
ADAM_BETA2 = 0.99  # Adam's second-moment decay; its first (the momentum) is TrainConfig.momentum
EVAL_BATCH = 2500  # test images per forward pass: large batches, few Python round trips


@dataclass
class TrainConfig:
    """Everything that defines a training run; stored in its checkpoints.

    The defaults are the ``quick`` preset's; ``digitlib.presets`` holds the named recipes.
    """

    arch: str = "quicknet"
    epochs: int = 1
    batch_size: int = 256
    lr: float = 0.03
    optimizer: str = "adamw"  # "sgd" (Nesterov when momentum >= 0.9) or "adamw"
    momentum: float = 0.7  # SGD's momentum, or AdamW's first beta
    weight_decay: float = 0.0
    schedule: str = "onecycle"  # "onecycle" or "constant"
    # "photo": rotate, scale, slant, shift, thicken and blur, as digits cut from photos are;
    # "shift": whole-pixel shifts only, far cheaper; "none". (Older checkpoints say True/False.)
    augment: str = "none"
    label_smoothing: float = 0.1
    seed: int = 1
    limit: int | None = None  # train on the first N training images only
    test_limit: int | None = None  # test on the first N test images only
    # Hold out the last N training images and test on them instead of the test set:
    # recipes are chosen on these, so the test set stays unseen until it is reported.
    validation: int = 0
    extra_data: str | None = None  # a folder of your own digits (digitlib.personal) mixed into MNIST
    extra_share: float = 0.2  # the extra digits are repeated to make up about this share of an epoch
    # Share of each epoch made of pieces that are not one digit (two touching digits,
    # fragments), labelled NOT_A_DIGIT; 0 trains a plain ten-output model.
    not_digits: float = 0.0
    data_dir: str | None = None
    download: bool = True
    log_every: int = 20
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        # Runs saved before an option existed trained without it.
        d = {"arch": "digitnet", "not_digits": 0.0, "label_smoothing": 0.0, "validation": 0, **d}
        if isinstance(d.get("augment"), bool):  # before "shift", augmentation was on or off
            d["augment"] = "photo" if d["augment"] else "none"
        return cls(**{k: v for k, v in d.items() if k in names})

    def check(self) -> None:
        """Raise ValueError, in words, for settings no run can use."""
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {self.augment!r}; choose one of: {', '.join(AUGMENTATIONS)}")
        if not 0.0 <= self.not_digits < 1.0:
            raise ValueError(f"the share of non-digits must be at least 0 and below 1, not {self.not_digits}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label smoothing must be at least 0 and below 1, not {self.label_smoothing}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs, batch size and learning rate must be positive")


@dataclass
class StepEvent:
    epoch: int  # 1-based
    step: int  # global optimizer steps so far
    epoch_step: int
    steps_per_epoch: int
    total_steps: int
    samples_seen: int
    train_loss: float  # mean over the steps since the last StepEvent
    lr: float
    images_per_s: float


@dataclass
class EpochEvent:
    epoch: int
    step: int
    samples_seen: int
    train_loss: float  # mean over the epoch
    test_loss: float
    test_accuracy: float  # fraction in [0, 1]
    per_class_accuracy: list[float]
    elapsed_s: float  # training time so far, across resumes
    extra_accuracy: float | None = None  # on the held-out part of cfg.extra_data, if any
    not_digit_accuracy: float | None = None  # share of held-out non-digits the model calls so


@dataclass
class TrainResult:
    checkpoint: Path
    stopped: bool  # True if ended by the stop event before the last epoch
    epochs_done: int
    step: int
    test_accuracy: float | None
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.momentum, ADAM_BETA2),
                                 weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
            nesterov=cfg.momentum >= 0.9, weight_decay=cfg.weight_decay,
        )
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd or adamw")


def make_scheduler(optimizer, cfg: TrainConfig, total_steps: int):
    if cfg.schedule == "onecycle" and total_steps >= 10:  # one-cycle needs room for its warm-up phase
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=cfg.lr, total_steps=total_steps, pct_start=0.2,
            div_factor=20.0, final_div_factor=200.0,
        )
    if cfg.schedule in ("constant", "onecycle"):
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    raise ValueError(f"unknown schedule {cfg.schedule!r}; choose onecycle or constant")


def _epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    # The shuffle of each epoch depends only on (seed, epoch), so a resumed run
    # replays exactly the batches it had not yet seen.
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


@dataclass
class RunData:
    """What a run trains and tests on, all in memory."""

    train: MnistSplit
    test: MnistSplit
    extra_test: MnistSplit | None  # the held-out part of cfg.extra_data
    not_digit_test: torch.Tensor | None  # pieces that are not one digit, made of test digits


def load_run_data(cfg: TrainConfig, classes: int) -> RunData:
    """MNIST cut to ``cfg``'s limits, plus the user's digits and the non-digit pieces it asks for."""
    train_set = load_mnist(train=True, root=cfg.data_dir, download=cfg.download)
    if cfg.validation:
        if not 0 < cfg.validation < len(train_set):
            raise ValueError(f"a validation split of {cfg.validation} images does not fit in {len(train_set)}")
        test_set = MnistSplit(train_set.images[-cfg.validation :], train_set.labels[-cfg.validation :])
        train_set = MnistSplit(train_set.images[: -cfg.validation], train_set.labels[: -cfg.validation])
    else:
        test_set = load_mnist(train=False, root=cfg.data_dir, download=cfg.download)
    if cfg.limit:
        train_set = MnistSplit(train_set.images[: cfg.limit], train_set.labels[: cfg.limit])
    if cfg.test_limit:
        test_set = MnistSplit(test_set.images[: cfg.test_limit], test_set.labels[: cfg.test_limit])
    extra_test = None
    if cfg.extra_data:  # the user's own digits: train on most of them, test on the held-out rest
        extra_train, extra_test = load_extra(cfg.extra_data)
        train_set = oversample(train_set, extra_train, cfg.extra_share)
    not_digit_test = None
    if cfg.not_digits and classes > NOT_A_DIGIT:  # tested on pieces of test digits, which it never saw
        n = round(cfg.not_digits / (1.0 - cfg.not_digits) * len(train_set))
        train_set = MnistSplit(
            images=torch.cat([train_set.images, make_not_digits(train_set.images, n, seed=cfg.seed)]),
            labels=torch.cat([train_set.labels, torch.full((n,), NOT_A_DIGIT, dtype=torch.long)]),
        )
        not_digit_test = make_not_digits(test_set.images, min(2000, len(test_set)), seed=cfg.seed + 1)
    return RunData(train_set, test_set, extra_test, not_digit_test)


def training_batch(data: MnistSplit, idx: torch.Tensor, cfg: TrainConfig, gen: torch.Generator):
    """The images and labels at ``idx``, augmented as ``cfg`` says and normalised."""
    x = data.images[idx].float().div_(255.0).unsqueeze_(1)
    y = data.labels[idx]
    if cfg.augment == "shift":
        x = random_shift(x, SHIFT_PX, gen)
    elif cfg.augment == "photo":
        x = augment(x, gen, PHOTO_AUGMENTATION, labels=y)
    return normalise(x, MNIST_MEAN, MNIST_STD), y



def train(
    cfg: TrainConfig,
    out: str | os.PathLike,
    on_event: Callable[[StepEvent | EpochEvent], None] | None = None,
    stop: threading.Event | None = None,
    resume: str | os.PathLike | None = None,
    init_from: str | os.PathLike | None = None,
) -> TrainResult:
    """Train ``cfg.arch`` on MNIST, writing a checkpoint to ``out`` each epoch and on stop.

    ``resume``: a checkpoint of an unfinished run; its config and optimizer,
    scheduler, RNG and history are restored and training continues where it
    stopped (``cfg`` only supplies the data folder). ``init_from``: start from
    these weights (same architecture) with a fresh optimizer, e.g. to fine-tune.
    ``cfg.extra_data``: a folder of the user's own digits; its training part is
    oversampled into MNIST and its held-out part is tested after each epoch.
    ``cfg.not_digits``: the share of each epoch made of ``make_not_digits``
    examples; the model then has an eleventh output, NOT_A_DIGIT (an ``init_from``
    model with ten outputs keeps them, and trains without).
    """
    emit = on_event or (lambda event: None)
    stop = stop or threading.Event()
    state = load_checkpoint(resume) if resume else None
    if state is not None:
        data_dir, download = cfg.data_dir, cfg.download
        cfg = TrainConfig.from_dict(state["train_args"])
        cfg.data_dir, cfg.download = data_dir, download
        if state.get("training_state") is None:
            raise ValueError(f"{resume} holds no training state to resume from (finished or exported model)")
    cfg.check()
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)

    if state is not None:
        model = model_from_checkpoint(state, resume)
    elif init_from:
        model = model_from_checkpoint(load_checkpoint(init_from), init_from)
    else:
        model = build_model(cfg.arch, classes=NOT_A_DIGIT + 1 if cfg.not_digits else NOT_A_DIGIT)
    if output_count(model) <= NOT_A_DIGIT:
        cfg.not_digits = 0.0  # a ten-output model (e.g. fine-tuned) keeps its ten outputs
    model = model.to(device, memory_format=torch.channels_last)
    data = load_run_data(cfg, output_count(model))
    steps_per_epoch = max(1, len(data.train) // cfg.batch_size)  # drop the last partial batch
    total_steps = steps_per_epoch * cfg.epochs
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg, total_steps)
    aug_gen = torch.Generator().manual_seed(cfg.seed)
    history: dict[str, list[dict[str, Any]]] = {"steps": [], "epochs": []}
    epoch, epoch_step, step, elapsed, test_accuracy = 1, 0, 0, 0.0, None
    started_from = str(init_from) if init_from else None  # recorded, to compare before and after

    if state is not None:
        ts = state["training_state"]
        optimizer.load_state_dict(ts["optimizer"])
        scheduler.load_state_dict(ts["scheduler"])
        torch.set_rng_state(ts["torch_rng"])
        aug_gen.set_state(ts["aug_rng"])
        epoch, epoch_step, step = ts["epoch"], ts["epoch_step"], state["step"]
        elapsed, test_accuracy = state.get("train_seconds", 0.0), state.get("test_accuracy")
        history = state.get("history") or history
        started_from = state.get("init_from")

    def checkpoint(finished: bool) -> Path:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "arch": cfg.arch,
            "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "normalization": {"mean": MNIST_MEAN, "std": MNIST_STD},
            "epochs_done": epoch - 1 if epoch_step == 0 else epoch - 1 + epoch_step / steps_per_epoch,
            "epochs_planned": cfg.epochs,
            "step": step,
            "total_steps": total_steps,
            "finished": finished,
            "test_accuracy": test_accuracy,
            "train_seconds": elapsed,
            "train_samples": len(data.train),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "digitlib_version": __version__,
            "train_args": cfg.to_dict(),
            "init_from": started_from,
            "history": history,
            "training_state": None if finished else {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "aug_rng": aug_gen.get_state(),
                "epoch": epoch,
                "epoch_step": epoch_step,
            },
        }
        return save_checkpoint(payload, out)

    while epoch <= cfg.epochs:
        # ---- one epoch of training ----
        model.train()
        order = _epoch_order(cfg.seed, epoch, len(data.train))
        window_loss, window_steps, window_start = torch.zeros((), device=device), 0, time.perf_counter()
        epoch_loss, epoch_batches = torch.zeros((), device=device), 0
        while epoch_step < steps_per_epoch:
            if stop.is_set():
                path = checkpoint(finished=False)
                return TrainResult(path, True, epoch - 1, step, test_accuracy, history)
            idx = order[epoch_step * cfg.batch_size : (epoch_step + 1) * cfg.batch_size]
            x, y = training_batch(data.train, idx, cfg, aug_gen)
            x, y = x.to(device, memory_format=torch.channels_last), y.to(device)

            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y, label_smoothing=cfg.label_smoothing)
            loss.backward()
            optimizer.step()
            scheduler.step()

            # Losses add up as tensors; reading one out (.item()) waits only at each report.
            step, epoch_step = step + 1, epoch_step + 1
            window_loss, window_steps = window_loss + loss.detach(), window_steps + 1
            epoch_loss, epoch_batches = epoch_loss + loss.detach(), epoch_batches + 1
            if window_steps == cfg.log_every or epoch_step == steps_per_epoch:
                seconds = time.perf_counter() - window_start
                elapsed += seconds
                event = StepEvent(
                    epoch=epoch, step=step, epoch_step=epoch_step, steps_per_epoch=steps_per_epoch,
                    total_steps=total_steps, samples_seen=step * cfg.batch_size,
                    train_loss=window_loss.item() / window_steps, lr=optimizer.param_groups[0]["lr"],
                    images_per_s=window_steps * cfg.batch_size / max(seconds, 1e-9),
                )
                history["steps"].append(dataclasses.asdict(event))
                emit(event)
                window_loss, window_steps, window_start = torch.zeros((), device=device), 0, time.perf_counter()

        # ---- test, then checkpoint ----
        with torch.inference_mode():
            test_loss, test_accuracy, per_class, _ = evaluate(model, data.test, device, batch_size=EVAL_BATCH)
            extra_accuracy = (evaluate(model, data.extra_test, device, batch_size=EVAL_BATCH)[1]
                              if data.extra_test else None)
            not_digits_found = (not_digit_accuracy(model, data.not_digit_test, device)
                                if data.not_digit_test is not None else None)
        event = EpochEvent(
            epoch=epoch, step=step, samples_seen=step * cfg.batch_size,
            train_loss=epoch_loss.item() / max(1, epoch_batches), test_loss=test_loss,
            test_accuracy=test_accuracy, per_class_accuracy=per_class, elapsed_s=elapsed,
            extra_accuracy=extra_accuracy, not_digit_accuracy=not_digits_found,
        )
        history["epochs"].append(dataclasses.asdict(event))
        epoch, epoch_step = epoch + 1, 0
        path = checkpoint(finished=epoch > cfg.epochs)
        emit(event)

    return TrainResult(path, False, cfg.epochs, step, test_accuracy, history)
