"""Named training recipes: the one place that says how each kind of run is trained.

The CLI (``python -m digitlib train --preset NAME``), the Train page's preset picker and
the training benchmark all start from these. A preset fills every setting of a
``TrainConfig``; anything can be changed afterwards. ``quick`` and ``best`` were chosen on a
validation split (the last 10,000 training images, ``TrainConfig.validation``); ``article`` is
the seed article's recipe, ``shipped`` and ``finetune`` the project's earlier ones. The figures
in README.md and BENCHMARKS.md are on the MNIST test set.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .training import TrainConfig


@dataclass(frozen=True)
class Preset:
    name: str
    title: str  # for pickers
    summary: str  # one sentence: what it is for and what it reaches
    settings: dict[str, Any]  # TrainConfig fields; the rest keep their defaults


# Every recipe lists all the settings that define it, so a change of TrainConfig's
# defaults never changes a preset behind its back: one row a preset, one column a setting.
_RECIPE_FIELDS = ("arch", "epochs", "batch_size", "lr", "optimizer", "momentum",
                  "weight_decay", "schedule", "augment", "label_smoothing", "not_digits")
_RECIPES = {
    "quick":   ("quicknet", 1,  256, 0.03, "adamw", 0.7, 0.0,    "onecycle", "none",  0.1, 0.0),
    "best":    ("digitnet", 10, 256, 0.01, "adamw", 0.8, 0.0,    "onecycle", "shift", 0.1, 0.0),
    "article": ("seednet",  5,  64,  0.01, "sgd",   0.5, 0.0,    "constant", "none",  0.0, 0.0),
    "shipped": ("digitnet", 20, 128, 0.08, "sgd",   0.9, 0.0005, "onecycle", "photo", 0.0, 0.2),
}
_ABOUT = {  # name: (title for pickers, one sentence: what it is for and what it reaches)
    "quick": ("Quick: 99 % in seconds",
              "QuickNet, one epoch of AdamW with a one-cycle rate: about 99.2 % in a few seconds on two CPU cores."),
    "best": ("Best: above 99.7 %",
             "DigitNet with ten outputs, 10 epochs of AdamW on shifted digits: 99.72 % in its benchmark run, "
             "about 4 minutes on two idle CPU cores."),
    "article": ("Article: the seed article's recipe",
                "SeedNet trained as the article the project grew from did: SGD 0.01, momentum 0.5, batch 64, "
                "5 epochs."),
    "shipped": ("Shipped model's recipe",
                "How the shipped reader was trained: DigitNet, 20 epochs, photo-like augmentation and a "
                "'not one digit' output for reading photos (about 30-40 minutes on the project's CPU); "
                "the shipped model had the photo digits (--extra-data) in the same run."),
}
PRESETS: dict[str, Preset] = {
    name: Preset(name, *_ABOUT[name], dict(zip(_RECIPE_FIELDS, row))) for name, row in _RECIPES.items()
}

# The recipe each architecture starts from when it is picked on its own.
ARCH_PRESETS = {"quicknet": "quick", "digitnet": "shipped", "seednet": "article"}

FINETUNE = "finetune"  # the fine-tuning preset: built from the starting model's architecture
FINETUNE_EPOCHS, FINETUNE_IMAGES = 2, 10_000
# A low rate keeps what the model knows of MNIST while it learns a handwriting.
FINETUNE_LR = {"digitnet": 0.003, "quicknet": 0.003}


def preset(name: str) -> TrainConfig:
    """A fresh TrainConfig holding the named preset's recipe; ValueError for an unknown name."""
    try:
        chosen = PRESETS[name.lower()]
    except KeyError:
        known = ", ".join([*PRESETS, FINETUNE])
        hint = " (it needs the model to start from: finetune_recipe)" if name.lower() == FINETUNE else ""
        raise ValueError(f"unknown preset {name!r}{hint}; choose one of: {known}") from None
    return dataclasses.replace(TrainConfig(), **chosen.settings)


def recipe(arch: str) -> TrainConfig:
    """The recipe an architecture starts from: QuickNet ``quick``, DigitNet ``shipped``,
    SeedNet ``article``."""
    name = ARCH_PRESETS.get(arch.lower())
    if name is None:
        raise ValueError(f"unknown architecture {arch!r}; choose one of: {', '.join(sorted(ARCH_PRESETS))}")
    return preset(name)


def finetune_recipe(arch: str, extra_data: str | None = None) -> TrainConfig:
    """The ``finetune`` preset: fine-tune a trained ``arch`` model on MNIST plus your own digits.

    Two epochs over the first 10,000 MNIST images at a low learning rate: enough to learn
    a handwriting from a few hundred digits while keeping what the model knows of MNIST.
    """
    cfg = recipe(arch)
    cfg.epochs, cfg.limit, cfg.extra_data = FINETUNE_EPOCHS, FINETUNE_IMAGES, extra_data
    cfg.lr = FINETUNE_LR.get(cfg.arch, cfg.lr / 2)
    return cfg


def matching_preset(cfg: TrainConfig) -> str | None:
    """The name of the preset whose recipe ``cfg`` follows, if any (to label runs)."""
    for name, chosen in PRESETS.items():
        if all(getattr(cfg, k) == chosen.settings[k] for k in _RECIPE_FIELDS):
            return name
    return None


__all__ = ["ARCH_PRESETS", "FINETUNE", "PRESETS", "Preset", "finetune_recipe", "matching_preset", "preset", "recipe"]
