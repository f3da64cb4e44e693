"""Train the sequence reader (``reading.line_net.LineNet``) with CTC on rows from ``digitlib.line_rows``.

``python -m digitlib train-lines`` runs ``train_lines``: rows are drawn on the fly
by one data-loader process (MNIST *training* digits, seeded), the network learns
with AdamW and a one-cycle rate under CTC loss, and the weights are written
(fp16) with how they were made. A fixed set of rows from another seed of the same
generator reports progress (exact rows); nothing is chosen on it.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from .data import load_mnist
from .line_rows import index_by_label, make_row
from .reading.line_net import (BLANK, HEIGHT, STRIDE, LineNet, load_line_net_and_record, model_config, read_inputs,
                                row_input, save_weights)

VALIDATION_SEED_OFFSET = 1000


@dataclass
class LineTrainConfig:
    seed: int = 1
    steps: int = 7000
    batch_size: int = 48
    lr: float = 2e-3
    weight_decay: float = 1e-4
    val_rows: int = 500
    widths: tuple[int, ...] = (16, 32, 64, 96)
    hidden: int = 96
    threads: int = 0  # 0: torch's default
    log_every: int = 250
    # Weights to go on from (a second round on fresh rows, ``seed`` apart from the first's);
    # their architecture replaces ``widths`` and ``hidden``. "": start from scratch.
    init_from: str = ""


def batch_tensors(rows: list[tuple[np.ndarray, str, str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows -> (inputs float32 (N, 1, 32, W) zero-padded, targets int64 (sum of lengths,),
    input lengths (N,) in CTC steps, target lengths (N,))."""
    inputs = [row_input(grey, polarity) for grey, _, polarity in rows]
    widest = max(-(-x.shape[1] // STRIDE) * STRIDE for x in inputs)
    batch = np.zeros((len(rows), 1, HEIGHT, widest), np.float32)
    for i, x in enumerate(inputs):
        batch[i, 0, :, : x.shape[1]] = x
    targets = [int(c) for _, text, _ in rows for c in text]
    input_lengths = [-(-x.shape[1] // STRIDE) for x in inputs]
    target_lengths = [len(text) for _, text, _ in rows]
    return (torch.from_numpy(batch), torch.tensor(targets, dtype=torch.long),
            torch.tensor(input_lengths, dtype=torch.long), torch.tensor(target_lengths, dtype=torch.long))


class RowBatches(IterableDataset):
    """Endless batches of training rows, drawn from ``seed`` (one stream: use one worker)."""

    def __init__(self, data_dir, download: bool, seed: int, batch_size: int) -> None:
        self.data_dir, self.download, self.seed, self.batch_size = data_dir, download, seed, batch_size

    def __iter__(self) -> Iterator:
        torch.set_num_threads(1)
        digits = load_mnist(train=True, root=self.data_dir, download=self.download)
        by_label = index_by_label(digits)
        rng = np.random.default_rng(self.seed)
        while True:
            yield batch_tensors([make_row(rng, digits, by_label) for _ in range(self.batch_size)])


@dataclass
class LineTrainResult:
    path: Path
    params: int
    seconds: float
    final_loss: float
    val_exact: float
    history: list[dict] = field(default_factory=list)


def exact_rate(model: LineNet, rows: list[tuple[np.ndarray, str, str]]) -> float:
    """Share of ``rows`` whose best-path reading is exactly their text."""
    was_training = model.training
    model.eval()
    read = read_inputs([row_input(g, p) for g, _, p in rows], model)
    model.train(was_training)
    return float(np.mean([r.text == text for r, (_, text, _) in zip(read, rows)]))


def train_lines(cfg: LineTrainConfig, out: str | os.PathLike, data_dir=None, download: bool = True,
                log: Callable[[str], None] = print) -> LineTrainResult:
    """Train the sequence reader with ``cfg`` and write its weights to ``out``."""
    start = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    digits = load_mnist(train=True, root=data_dir, download=download)
    by_label = index_by_label(digits)
    val_rng = np.random.default_rng(cfg.seed + VALIDATION_SEED_OFFSET)
    val_rows = [make_row(val_rng, digits, by_label) for _ in range(cfg.val_rows)]

    if cfg.init_from:
        model, started_from = load_line_net_and_record(cfg.init_from)
        model.train()
        architecture = model_config(model)  # recorded as trained, without changing the caller's config
        cfg = replace(cfg, widths=tuple(architecture["widths"]), hidden=architecture["hidden"])
    else:
        model, started_from = LineNet(tuple(cfg.widths), cfg.hidden), None
    params = sum(p.numel() for p in model.parameters())
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=cfg.lr, total_steps=max(2, cfg.steps), pct_start=0.1)
    ctc = torch.nn.CTCLoss(blank=BLANK, zero_infinity=True)
    loader = DataLoader(RowBatches(data_dir, download, cfg.seed, cfg.batch_size), batch_size=None, num_workers=1,
                        prefetch_factor=4, persistent_workers=False)
    model.train()
    running, history = 0.0, []
    for step, (x, targets, input_lengths, target_lengths) in enumerate(loader, start=1):
        loss = ctc(model(x), targets, input_lengths, target_lengths)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimiser.step()
        schedule.step()
        running = loss.item() if step == 1 else 0.98 * running + 0.02 * loss.item()
        if step % cfg.log_every == 0 or step == cfg.steps:
            point = {"step": step, "loss": round(running, 4), "seconds": round(time.perf_counter() - start, 1)}
            if step % (4 * cfg.log_every) == 0 or step == cfg.steps:
                point["val_exact"] = exact_rate(model, val_rows)
            history.append(point)
            log(" ".join(f"{k} {v}" for k, v in point.items()))
        if step == cfg.steps:
            break
    model.eval()
    val_exact = history[-1]["val_exact"]
    seconds = time.perf_counter() - start
    info = {"config": {**asdict(cfg), "widths": list(cfg.widths)}, "params": params, "seconds": round(seconds, 1),
            "threads": torch.get_num_threads(), "final_loss": running, "val_exact": val_exact, "history": history}
    if started_from is not None:
        info["started_from"] = started_from  # how the weights it went on from were made
    save_weights(model, out, info)
    log(f"validation ({cfg.val_rows} rows of the training generator, seed {cfg.seed + VALIDATION_SEED_OFFSET}): "
        f"{val_exact:.1%} exact; {params} parameters; {seconds:.0f} s")
    return LineTrainResult(Path(out), params, seconds, running, val_exact, history)
