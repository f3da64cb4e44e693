"""Checkpoints: one file with a model's weights and everything needed to trust,
show and resume it.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it
loads with ``torch.load(..., weights_only=True)``: no arbitrary objects are ever
unpickled. Files are written atomically (temporary file in the same folder, then
rename), so a crash or a kill mid-save leaves the previous file intact.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .files import write_atomic
from .model import ARCHITECTURES, MNIST_MEAN, MNIST_STD, build_model, last_layer, output_count

CHECKPOINT_FORMAT = "digitlib-checkpoint"
CHECKPOINT_VERSION = 1
SHIPPED_MODEL = Path(__file__).resolve().parent / "weights" / "default.pt"
SHIPPED_SEEDNET = Path(__file__).resolve().parent / "weights" / "seednet.pt"


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message says why, in one line."""


def fp16_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict with floating-point tensors stored as fp16: the reading
    networks (``reading.ink_net``, ``reading.line_net``) ship at half the size."""
    return {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}


def fp32_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An ``fp16_state`` brought back to float32, to load into a model."""
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``payload`` to ``path`` atomically (see ``write_atomic``)."""
    return write_atomic(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a checkpoint; CheckpointError with a one-line reason if unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty")
    if not zipfile.is_zipfile(path):
        # torch.save always writes a zip archive; anything else is cut short,
        # damaged or another kind of file, and is never handed to the unpickler.
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt (not a complete PyTorch archive)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"a Python object {found.group(1)}" if found else "objects other than weights and plain data"
        raise CheckpointError(f"checkpoint {path} was refused: it holds {what}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({detail})") from None
    except Exception as exc:  # anything else torch.load may raise on hostile input
        raise CheckpointError(f"checkpoint {path} could not be read ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a digitlib checkpoint")
    if payload.get("format_version", 0) > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {payload.get('format_version')}, newer than this digitlib reads"
        )
    arch = payload.get("arch")
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"checkpoint {path} names an unknown architecture {arch!r}")
    if not isinstance(payload.get("model_state"), dict):
        raise CheckpointError(f"checkpoint {path} has no model weights")
    return payload


@dataclass
class LoadedModel:
    """A model in eval mode plus the metadata of the checkpoint it came from."""

    model: nn.Module
    arch: str
    mean: float
    std: float
    meta: dict[str, Any]
    path: Path


def model_from_checkpoint(payload: dict[str, Any], path: str | os.PathLike = "<memory>") -> nn.Module:
    """Build the checkpoint's architecture and load its weights (strictly).

    The number of outputs (ten digits, or eleven with ``NOT_A_DIGIT``) is read
    from the weights of the last layer.
    """
    model = build_model(payload["arch"])
    weight = payload["model_state"].get(f"{last_layer(model)[0]}.weight")
    if isinstance(weight, torch.Tensor) and weight.ndim == 2 and weight.shape[0] != output_count(model):
        try:
            model = build_model(payload["arch"], classes=weight.shape[0])
        except ValueError as exc:
            raise CheckpointError(f"checkpoint {path}: {exc}") from None
    try:
        model.load_state_dict(payload["model_state"], strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:200]
        raise CheckpointError(
            f"checkpoint {path}: weights do not fit architecture {payload['arch']!r} ({detail})"
        ) from None
    return model


def load_model(path: str | os.PathLike | None = None) -> LoadedModel:
    """Load a checkpoint into an eval-mode model; ``None`` loads the shipped model."""
    path = Path(path) if path is not None else SHIPPED_MODEL
    payload = load_checkpoint(path)
    model = model_from_checkpoint(payload, path)
    model.eval()
    norm = payload.get("normalization") or {}
    meta = {k: v for k, v in payload.items() if k not in ("model_state", "training_state")}
    return LoadedModel(
        model=model,
        arch=payload["arch"],
        mean=float(norm.get("mean", MNIST_MEAN)),
        std=float(norm.get("std", MNIST_STD)),
        meta=meta,
        path=path,
    )


def checkpoint_summary(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a checkpoint (no weights), for listings and model cards."""
    payload = load_checkpoint(path)
    return {k: v for k, v in payload.items() if k not in ("model_state", "training_state")}
