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
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch
from torch import nn

from .model import ARCHITECTURES, build_model, last_layer, output_count

FORMAT = "digitlib-checkpoint"
FORMAT_VERSION = 1
SHIPPED_MODEL = Path(__file__).resolve().parent / "weights" / "default.pt"
SHIPPED_SEEDNET = Path(__file__).resolve().parent / "weights" / "seednet.pt"


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message says why, in one line."""


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file atomically: ``write(f)`` fills a temp file in the same folder,
    which is fsynced and renamed over ``path``, so readers see the old file or the
    new one, never half of one. Errors (disk full, read-only folder, ...) propagate
    unchanged after the temp file is removed; the old file is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; these files are not secrets
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not exc.filename:
            exc.filename = str(path)  # "No space left on device" alone does not say where
        raise
    return path


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
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a digitlib checkpoint")
    if payload.get("format_version", 0) > FORMAT_VERSION:
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
        mean=float(norm.get("mean", 0.1307)),
        std=float(norm.get("std", 0.3081)),
        meta=meta,
        path=path,
    )


def checkpoint_summary(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a checkpoint (no weights), for listings and model cards."""
    payload = load_checkpoint(path)
    return {k: v for k, v in payload.items() if k not in ("model_state", "training_state")}
