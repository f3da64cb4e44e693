"""The Train page's sidebar form: a preset, then every setting it fills, still editable.

The form's values live in ``st.session_state`` under ``train_*`` keys; ``config_from_form``
turns them into the ``TrainConfig`` of a new run. Picking a preset (``digitlib.presets``)
or an architecture fills the fields; "Include my digits" loads the fine-tuning preset.
"""

from __future__ import annotations

import streamlit as st

from digitlib import digit_sets, personal, store
from digitlib.checkpoint import SHIPPED_MODEL
from digitlib.data import MNIST_FILES, mnist_present, resolve_data_dir
from digitlib.model import arch_label
from digitlib.presets import ARCH_PRESETS, PRESETS, finetune_recipe, matching_preset, preset
from digitlib.training import TrainConfig
from pages.ui.app_state import set_data_folder

ARCH_NOTES = {
    "quicknet": "QuickNet: a small, fast CNN (0.11 M parameters, 0.6 M multiply-adds a digit); 99 % in one epoch.",
    "digitnet": "DigitNet: the project's CNN with batch norm (0.19 M parameters); the shipped reader's network.",
    "seednet": "SeedNet: the small CNN of the original article (21 k parameters); about 98-99 %.",
}
AUGMENT_LABELS = {"none": "None", "shift": "Shifts (cheap)", "photo": "Photo-like (rotate, slant, blur)"}
SCRATCH = ""  # the "Start from" choice for random weights (None would show as no choice)
RECIPE_KEYS = {  # widget key -> TrainConfig field filled from a preset
    "train_arch": "arch", "train_epochs": "epochs", "train_batch": "batch_size", "train_lr": "lr",
    "train_optimizer": "optimizer", "train_augment": "augment", "train_momentum": "momentum",
    "train_wd": "weight_decay", "train_schedule": "schedule", "train_smoothing": "label_smoothing",
}
DEFAULT_PRESET = "quick"

state = st.session_state


def say(kind: str, text: str) -> None:
    """A message shown once, at the top of the page, on this run or the next."""
    state["train_message"] = (kind, text)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def fill(cfg: TrainConfig) -> None:
    for key, name in RECIPE_KEYS.items():
        state[key] = getattr(cfg, name)


def fill_preset() -> None:
    """A preset was picked: load its recipe into the form."""
    state["train_mine"] = False
    fill(preset(state["train_preset"]))


def fill_arch_recipe() -> None:
    """The architecture changed: load the preset it starts from."""
    state["train_preset"] = ARCH_PRESETS[state["train_arch"]]
    fill_preset()


def init_form() -> None:
    if "train_mine" not in state:
        state["train_mine"] = False
    if "train_preset" in state:
        return
    state["train_preset"] = DEFAULT_PRESET
    fill_preset()
    state["train_seed"] = 1
    state["train_init"] = SCRATCH
    state["train_data"] = state.get("saved_data_folder") or str(resolve_data_dir())
    state["train_download"] = True
    state["train_limit"] = 0
    state["train_test_limit"] = 0
    state["train_log_every"] = 5  # frequent points: the live curves move every second or two


def settings_form(entries: list[store.ModelEntry]) -> None:
    init_form()
    keep = dict(persist_state="session")
    st.selectbox(
        "Preset", list(PRESETS), key="train_preset", on_change=fill_preset, **keep,
        format_func=lambda name: PRESETS[name].title,
        help="A tried recipe: it fills in every setting below, which you can still change.",
    )
    chosen = matching_preset(config_from_form())
    if state.get("train_mine"):
        st.caption("Fine-tuning settings for your digits (the *finetune* preset), changed as you like.")
    elif chosen is None:
        st.caption(f":orange[Settings changed from the *{state['train_preset']}* preset.]")
    else:
        st.caption(PRESETS[chosen].summary)
    st.selectbox(
        "Architecture", list(ARCH_PRESETS), key="train_arch", format_func=arch_label, on_change=fill_arch_recipe,
        **keep, help="Which network to train. Changing it loads that network's recommended settings.",
    )
    st.caption(ARCH_NOTES[state["train_arch"]])
    st.number_input(
        "Epochs", min_value=1, max_value=100, step=1, key="train_epochs", **keep,
        help="How many passes over the training images. More epochs: better accuracy, longer training.",
    )
    st.number_input(
        "Batch size", min_value=8, max_value=1024, step=8, key="train_batch", **keep,
        help="Images per optimizer step. Larger batches are faster per image but need more memory.",
    )
    st.number_input(
        "Learning rate", min_value=0.0001, max_value=1.0, step=0.001, format="%.4f", key="train_lr", **keep,
        help="How big each update is (the peak rate with the one-cycle schedule). Too high diverges, too low crawls.",
    )
    st.selectbox(
        "Optimizer", ["sgd", "adamw"], key="train_optimizer", **keep,
        format_func=lambda o: {"sgd": "SGD with momentum", "adamw": "AdamW"}[o],
        help="SGD with momentum is the classic choice; AdamW adapts the step per weight and wants a smaller rate.",
    )
    st.selectbox(
        "Augmentation", list(AUGMENT_LABELS), key="train_augment", format_func=AUGMENT_LABELS.get, **keep,
        help="Vary the training digits so the model copes with real handwriting: shift them a pixel or two, "
             "or also rotate, slant, thicken and blur them as photos do (slower).",
    )
    st.number_input(
        "Seed", min_value=0, max_value=2**31 - 1, step=1, key="train_seed", **keep,
        help="Fixes the random start and shuffling: the same settings and seed give the same model.",
    )
    options = [SCRATCH] + [str(e.path) for e in entries if e.usable and e.arch == state["train_arch"]]
    if state.get("train_init") not in options:
        state["train_init"] = SCRATCH
    labels = {str(e.path): e.label for e in entries}
    st.selectbox(
        "Start from", options, key="train_init", **keep,
        format_func=lambda p: "Random weights (train from scratch)" if p == SCRATCH else labels.get(p, p),
        help="Begin from a trained model of the same architecture (fine-tuning) instead of random weights.",
    )
    my_digits_option()
    st.text_input(
        "MNIST data folder", key="train_data", **keep, on_change=lambda: set_data_folder(state["train_data"]),
        help="Folder holding MNIST/raw/ with the four MNIST files (torchvision's layout). Remembered across "
             "visits and restarts; empty goes back to $DIGITLIB_DATA or the per-user cache.",
    )
    folder = resolve_data_dir(state["train_data"] or None)
    if not mnist_present(folder):
        st.warning(
            f"MNIST is not in {folder / 'MNIST' / 'raw'} yet. Start will try to download it (needs internet); "
            f"or put {', '.join(MNIST_FILES)} there yourself.",
            icon=":material/folder_off:",
        )
    with st.expander("Advanced"):
        advanced_settings(keep)


def advanced_settings(keep: dict) -> None:
    st.selectbox(
        "Learning-rate schedule", ["onecycle", "constant"], key="train_schedule", **keep,
        format_func=lambda s: {"onecycle": "One-cycle (warm up, then anneal)", "constant": "Constant"}[s],
        help="One-cycle raises the rate for the first 20% of steps, then lowers it to almost zero.",
    )
    st.number_input(
        "Momentum", min_value=0.0, max_value=0.99, step=0.05, format="%.2f", key="train_momentum", **keep,
        help="How much of the previous update carries over (AdamW: its first beta). "
             "SGD uses Nesterov momentum from 0.9.",
    )
    st.number_input(
        "Weight decay", min_value=0.0, max_value=0.1, step=0.0001, format="%.4f", key="train_wd", **keep,
        help="Pulls weights towards zero a little each step, against overfitting.",
    )
    st.number_input(
        "Label smoothing", min_value=0.0, max_value=0.5, step=0.05, format="%.2f", key="train_smoothing", **keep,
        help="Aim a little below 100 % certainty for the right digit: steadier training, better-calibrated confidence.",
    )
    st.number_input(
        "Log every N steps", min_value=1, max_value=1000, step=1, key="train_log_every", **keep,
        help="How often the training loss is reported and plotted. Lower: a livelier curve; the page thins long curves for drawing.",
    )
    st.number_input(
        "Quick run: first N training images (0 = all 60,000)", min_value=0, max_value=60000,
        step=500, key="train_limit", **keep,
        help="Train on a subset for a fast try-out of the settings.",
    )
    st.number_input(
        "Test images used (0 = all 10,000)", min_value=0, max_value=10000, step=500,
        key="train_test_limit", **keep,
        help="A smaller test set makes the test after each epoch faster but its accuracy noisier.",
    )
    st.toggle("Download MNIST if missing", key="train_download", **keep,
              help="Fetch MNIST from the internet when the data folder lacks it (about 12 MB).")


def config_from_form() -> TrainConfig:
    """The form's run: the chosen preset (or the fine-tuning one), with every field as set."""
    mine = bool(state.get("train_mine"))
    cfg = finetune_recipe(state["train_arch"]) if mine else preset(state["train_preset"])
    for key, name in RECIPE_KEYS.items():
        setattr(cfg, name, state[key])
    cfg.epochs, cfg.batch_size = int(cfg.epochs), int(cfg.batch_size)
    cfg.lr, cfg.momentum, cfg.weight_decay = float(cfg.lr), float(cfg.momentum), float(cfg.weight_decay)
    cfg.label_smoothing = float(cfg.label_smoothing)
    cfg.seed = int(state["train_seed"])
    cfg.limit = int(state["train_limit"]) or None
    cfg.test_limit = int(state["train_test_limit"]) or None
    cfg.log_every = int(state["train_log_every"])
    cfg.data_dir = state["train_data"].strip() or None
    cfg.download = bool(state["train_download"])
    cfg.extra_data = str(digit_sets.personal_dir()) if mine else None
    return cfg


# --------------------------------------------------------------------------- my digits


def use_my_digits() -> None:
    """'Include my digits' switched on: fine-tune the active model with the fine-tuning preset."""
    if not state.get("train_mine"):
        return
    active = state.get("active_model")
    entry = store.read_entry(active) if active else store.read_entry(SHIPPED_MODEL, shipped=True)
    if entry.usable and entry.arch in ARCH_PRESETS:
        state["train_arch"], state["train_init"] = entry.arch, str(entry.path)
        start = entry.label
    else:
        start = "the model chosen under *Start from*"
    cfg = finetune_recipe(state["train_arch"])
    fill(cfg)
    state["train_limit"] = cfg.limit
    say("info", f"Fine-tuning settings loaded: {plural(cfg.epochs, 'epoch')} over the first {cfg.limit:,} MNIST "
                f"images plus your digits, learning rate {cfg.lr:g}, starting from {start}.")


def my_digits_option() -> None:
    """The 'Include my digits' toggle and what it would train on."""
    try:
        samples = personal.PersonalSet().samples()
        problem = None
    except personal.PersonalSetError as exc:
        samples, problem = [], str(exc)
    held = sum(s.held_out for s in samples)
    usable = len(samples) - held > 0
    if not usable:
        state["train_mine"] = False
    st.toggle(
        "Include my digits", key="train_mine", on_change=use_my_digits, disabled=not usable,
        help="Mix the digits you corrected on the Recognize page into MNIST, repeated so they make up about a "
             "fifth of each epoch, and fine-tune the active model on them. One in five of your digits is "
             "held out to measure the gain.",
    )
    if problem:
        st.caption(f":red[My digits cannot be read: {problem}]")
    elif usable:
        st.caption(f"{plural(len(samples), 'digit')} in My digits: {len(samples) - held} to train on, "
                   f"{held} held out for testing.")
    else:
        st.caption("Correct some readings on the Recognize page first: My digits has "
                   f"{plural(len(samples), 'digit')}{' (all held out)' if samples else ''}.")
