"""Training and scoring of the learned ink stage (``digitlib.reading.ink_net``).

``train_ink`` renders a fixed, seeded set of scenes (``digitlib.ink_pages``, MNIST
**training** digits), trains the network on them for a fixed number of steps
and writes its weights (fp16) with a record of how they were made. The same
config and seed give the same scenes, batches and initial weights.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .data import load_mnist
from .ink_pages import SCENE_SIZE, make_ink_pages
from .reading.ink_net import (WIDTHS, InkNet, ink_mask, ink_probability, load_ink_net_and_record, model_widths,
                              save_weights, to_input)

VALIDATION_SEED_OFFSET = 1_000_003  # validation scenes come from a stream training never draws from
EVAL_SIZE, EVAL_UNIT = (640, 480), 2.5  # webcam-sized pages, read by the network at 256x192


@dataclass
class InkTrainConfig:
    seed: int = 0
    pages: int = 16_000  # scenes rendered once, then sampled in batches
    steps: int = 5_500  # 35 min with rendering on the 2-core CPU of 2026-12-03 (README, the ink network's card)
    batch_size: int = 16
    lr: float = 3e-3  # peak of a one-cycle schedule, AdamW
    weight_decay: float = 1e-4
    dice_weight: float = 0.5  # soft Dice beside BCE: ink is a few % of the pixels
    val_pages: int = 256
    widths: tuple[int, ...] = WIDTHS
    scene_size: int = SCENE_SIZE
    threads: int | None = None  # torch threads; None leaves torch's default
    log_every: int = 50
    # Weights to go on from (a second round on fresh scenes, ``seed`` apart from the first's);
    # their widths replace ``widths``. "": start from scratch.
    init_from: str = ""


@dataclass
class MaskScores:
    """Per-pixel scores of a predicted mask against the target, pooled over pages."""

    iou: float
    f1: float
    precision: float
    recall: float


def mask_scores(predicted: np.ndarray, target: np.ndarray) -> MaskScores:
    """Scores of bool (..., H, W) ``predicted`` against bool ``target`` of the same shape."""
    tp = int(np.count_nonzero(predicted & target))
    fp = int(np.count_nonzero(predicted & ~target))
    fn = int(np.count_nonzero(~predicted & target))
    precision = tp / max(1, tp + fp)
    recall = tp / max(1, tp + fn)
    return MaskScores(iou=tp / max(1, tp + fp + fn), f1=2 * tp / max(1, 2 * tp + fp + fn),
                      precision=precision, recall=recall)


def ink_loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float) -> torch.Tensor:
    """BCE plus ``dice_weight`` x soft Dice loss (over the batch) of float32 (N, 1, H, W) logits against 0/1 targets."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    dice = 1 - (2 * (prob * target).sum() + 1) / (prob.sum() + target.sum() + 1)
    return bce + dice_weight * dice


def predict_masks(model: InkNet, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """bool (N, H, W) masks (probability > 0.5) of uint8 (N, H, W, 3) scenes at the network's scale."""
    out = []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            out.append((model(to_input(images[i : i + batch]))[:, 0] > 0).numpy())
    return np.concatenate(out) if out else np.zeros(images.shape[:3], bool)


@dataclass
class InkTrainResult:
    path: Path
    params: int
    seconds: float  # wall-clock, rendering included
    render_seconds: float
    final_loss: float
    validation: MaskScores


def train_ink(cfg: InkTrainConfig, out: str | os.PathLike, data_dir=None, download: bool = True,
              log: Callable[[str], None] = print) -> InkTrainResult:
    """Train the ink network with ``cfg`` and write its weights to ``out``."""
    start = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    digits = load_mnist(train=True, root=data_dir, download=download)
    size = (cfg.scene_size, cfg.scene_size)
    images, targets = make_ink_pages(cfg.pages, cfg.seed, digits, size)
    val_images, val_targets = make_ink_pages(cfg.val_pages, cfg.seed + VALIDATION_SEED_OFFSET, digits, size)
    render_seconds = time.perf_counter() - start
    log(f"rendered {cfg.pages} training and {cfg.val_pages} validation scenes "
        f"({cfg.scene_size}x{cfg.scene_size}, {targets.mean():.1%} ink) in {render_seconds:.0f} s")

    if cfg.init_from:
        model, started_from = load_ink_net_and_record(cfg.init_from)
        cfg = replace(cfg, widths=model_widths(model))  # recorded as trained, without changing the caller's config
        before = mask_scores(predict_masks(model, val_images), val_targets)
        started_from["validation_here"] = asdict(before)  # on this round's validation scenes, before it
        log(f"the weights gone on from, on these validation scenes: IoU {before.iou:.3f}  F1 {before.f1:.3f}")
    else:
        model, started_from = InkNet(tuple(cfg.widths)), None
    params = sum(p.numel() for p in model.parameters())
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=cfg.lr, total_steps=max(2, cfg.steps), pct_start=0.15)
    order = np.random.default_rng(cfg.seed)
    model.train()
    running = 0.0
    for step in range(1, cfg.steps + 1):
        pick = order.integers(0, cfg.pages, cfg.batch_size)
        x = to_input(images[pick])
        y = torch.from_numpy(targets[pick][:, None].astype(np.float32))
        loss = ink_loss(model(x), y, cfg.dice_weight)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        running = loss.item() if step == 1 else 0.98 * running + 0.02 * loss.item()
        if step % cfg.log_every == 0 or step == cfg.steps:
            log(f"step {step}/{cfg.steps}: loss {running:.4f}  ({time.perf_counter() - start:.0f} s)")

    validation = mask_scores(predict_masks(model, val_images), val_targets)
    seconds = time.perf_counter() - start
    log(f"validation ({cfg.val_pages} scenes): IoU {validation.iou:.3f}  F1 {validation.f1:.3f}  "
        f"precision {validation.precision:.3f}  recall {validation.recall:.3f}")
    info = {"config": {**asdict(cfg), "widths": list(cfg.widths)}, "params": params, "seconds": round(seconds, 1),
            "render_seconds": round(render_seconds, 1), "threads": torch.get_num_threads(),
            "final_loss": running, "validation": asdict(validation)}
    if started_from is not None:
        info["started_from"] = started_from  # how the weights it went on from were made
    save_weights(model, out, info)
    return InkTrainResult(Path(out), params, seconds, render_seconds, running, validation)


def threshold_mask(bgr: np.ndarray) -> np.ndarray:
    """The threshold path's ink mask, bool (H, W), of a BGR uint8 (H, W, 3) photo: what its
    "Cleaned" stage keeps (lines, specks and edges removed), at the photo's size."""
    from .reading.pipeline import STAGES, Work
    from .reading.result import ReadOptions

    work = Work(source=bgr, options=ReadOptions(), classify=None)
    for _, stage in STAGES:
        stage(work)
        if work.clean is not None:
            break
    if work.scale != 1.0:
        return cv2.resize(work.clean.view(np.uint8), bgr.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    return work.clean


def compare_on_pages(n: int, seed: int, model: InkNet | None = None, data_dir=None,
                     download: bool = True) -> tuple[MaskScores, MaskScores, float]:
    """Scores of the learned ink mask (``ink_mask``) and of the threshold path's (``threshold_mask``) on
    ``n`` 640x480 pages of the training generator (validation stream, MNIST training
    digits), and the network's mean milliseconds per page."""
    digits = load_mnist(train=True, root=data_dir, download=download)
    images, targets = make_ink_pages(n, seed + VALIDATION_SEED_OFFSET, digits, EVAL_SIZE, EVAL_UNIT)
    learned, threshold, spent = [], [], 0.0
    for image in images:
        t = time.perf_counter()
        learned.append(ink_mask(ink_probability(image, model)[0]))
        spent += time.perf_counter() - t
        threshold.append(threshold_mask(image))
    return mask_scores(np.stack(learned), targets), mask_scores(np.stack(threshold), targets), 1000 * spent / max(1, n)
