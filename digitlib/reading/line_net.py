"""The sequence reader: a small CNN + BiLSTM with a CTC output, from one row image to its digits.

``read_row(grey, box, polarity)`` crops a row of a grey photo, brings it to
``HEIGHT`` px (``row_input``), runs ``LineNet`` and decodes the best path
(``decode``): the digit string, each digit's confidence and its column span in the
crop, from which the digit gets a box. The network was trained
(``digitlib.line_training``) on rows from ``digitlib.line_rows`` (MNIST *training*
digits only) to read the digits and nothing else: separators, underlines, boxes,
ruled and grid lines and patterns are not read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ..checkpoint import fp16_state, fp32_state
from ..files import write_atomic

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "line_net.pt"
HEIGHT = 32  # px: every row is read at this height
STRIDE = 4  # input columns per output step
BLANK = 10  # CTC's blank is the class after the ten digits
#: A row is cropped this many digit heights above and below its centre line; training rows
#: (``digitlib.line_rows``) are drawn with the same framing, so digits are about 19 px tall.
CROP_HALF_HEIGHT = 0.85
CROP_SIDE = 0.6  # digit heights added left and right of the row's outer digits
MAX_WIDTH = 1600  # px at HEIGHT: longer rows are squeezed (about 70 digits)
BACKGROUND_KERNEL = 15  # px at HEIGHT: wider than any stroke, so the grey opening leaves the paper
#: CTC fires early: on rows of the training generator read exactly, a digit's ink centre lies
#: a median 4.2 input px right of the middle of its run (5-95 %: 1.6-7.3 px; 1,853 digits,
#: rows of seed 4242, see ``digitlib.line_rows.make_row_with_boxes``).
FIRING_OFFSET = 4.2


class LineNet(nn.Module):
    """float32 (N, 1, 32, W) ink in [0, 1] -> float32 (W // 4, N, 11) log-probabilities (CTC layout)."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 96, 128), hidden: int = 128) -> None:
        super().__init__()
        a, b, c, d = widths

        def conv(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *conv(1, a), nn.MaxPool2d(2),                 # 16 x W/2
            *conv(a, b), nn.MaxPool2d(2),                 # 8 x W/4
            *conv(b, c), *conv(c, c), nn.MaxPool2d((2, 1)),  # 4 x W/4
            *conv(c, d), nn.MaxPool2d((2, 1)),            # 2 x W/4
        )
        self.project = nn.Sequential(nn.Linear(2 * d, hidden), nn.ReLU(inplace=True), nn.Dropout(0.1))
        self.rnn = nn.LSTM(hidden, hidden, batch_first=False, bidirectional=True)
        self.out = nn.Linear(2 * hidden, BLANK + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)  # (N, C, 2, T)
        n, c, h, t = f.shape
        seq = f.permute(3, 0, 1, 2).reshape(t, n, c * h)
        seq, _ = self.rnn(self.project(seq))
        return self.out(seq).log_softmax(-1)


def model_config(model: LineNet) -> dict:
    convs = [m.out_channels for m in model.features if isinstance(m, nn.Conv2d)]
    return {"widths": [convs[0], convs[1], convs[2], convs[4]], "hidden": model.rnn.hidden_size}


def save_weights(model: LineNet, path: str | Path, info: dict) -> None:
    """fp16 weights, the architecture and ``info`` (how it was trained), written atomically."""
    write_atomic(path, lambda f: torch.save({"state": fp16_state(model), "config": model_config(model), "info": info}, f))


def load_line_net(path: str | Path = WEIGHTS) -> LineNet:
    """The LineNet stored at ``path`` (``save_weights``), in eval mode, float32."""
    return load_line_net_and_record(path)[0]


def load_line_net_and_record(path: str | Path = WEIGHTS) -> tuple[LineNet, dict]:
    """``load_line_net`` and the record the file keeps of how the weights were made (its ``info``; {} if none)."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    cfg = saved["config"]
    model = LineNet(tuple(cfg["widths"]), int(cfg["hidden"]))
    model.load_state_dict(fp32_state(saved["state"]))
    return model.eval(), saved.get("info", {})


@functools.lru_cache(maxsize=2)
def shipped_line_net(path: str = str(WEIGHTS)) -> LineNet:
    return load_line_net(path)


def line_net_available(path: str | Path = WEIGHTS) -> bool:
    return Path(path).is_file()


def row_input(crop: np.ndarray, polarity: str) -> np.ndarray:
    """Grey uint8 (h, w) row crop -> float32 (32, W) ink in [0, 1], the network's input.

    The crop is scaled to ``HEIGHT`` px, turned so ink is bright (``polarity`` "dark":
    dark ink on light paper), its background (a grey closing wider than any stroke)
    subtracted, and stretched so the strongest ink is 1.
    """
    if crop.ndim != 2 or crop.size == 0:
        raise ValueError("a row crop must be a non-empty grey image")
    h, w = crop.shape
    width = int(np.clip(round(w * HEIGHT / h), STRIDE, MAX_WIDTH))
    grey = cv2.resize(crop, (width, HEIGHT), interpolation=cv2.INTER_AREA if h > HEIGHT else cv2.INTER_LINEAR)
    grey = grey.astype(np.float32)
    ink = 255.0 - grey if polarity == "dark" else grey
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (BACKGROUND_KERNEL, BACKGROUND_KERNEL))
    ink = ink - cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
    top = float(np.percentile(ink, 99.5))
    return np.clip(ink / max(top, 24.0), 0.0, 1.0).astype(np.float32)


@dataclass
class RowDigits:
    """What the sequence reader read in one row: the digits and where each is in the input."""

    text: str
    confidences: list[float]  # per digit: its probability at its best step
    spans: list[tuple[int, int]]  # per digit: input columns [start, end) at HEIGHT
    centres: list[float]  # per digit: the input column where CTC fired (the middle of its run)
    probs: np.ndarray  # float32 (T, 11): each step's probabilities (the last is the blank)


def decode(log_probs: np.ndarray, width: int) -> RowDigits:
    """Best-path CTC decoding of float32 (T, 11) log-probabilities of an input ``width`` px wide.

    A digit is a run of steps whose best class is that digit (a blank ends a run; the
    same digit twice needs a blank between). Its centre is where the run fired, moved by
    ``FIRING_OFFSET``; its span reaches halfway to its neighbours' centres, so it covers
    the ink of its digit even when CTC fires on one step.
    """
    probs = np.exp(log_probs).astype(np.float32)
    best = probs.argmax(1)
    runs: list[tuple[int, int, int]] = []  # (digit, first step, last step)
    prev = BLANK
    for t, k in enumerate(best):
        if k != BLANK and k != prev:
            runs.append((int(k), t, t))
        elif k != BLANK and k == prev:
            runs[-1] = (runs[-1][0], runs[-1][1], t)
        prev = k
    text = "".join(str(k) for k, _, _ in runs)
    confidences = [float(probs[a : b + 1, k].max()) for k, a, b in runs]
    centres = [min(width, (a + b + 1) / 2 * STRIDE + FIRING_OFFSET) for _, a, b in runs]
    spans = []
    for i, (_, a, b) in enumerate(runs):
        half = 0.5 * (centres[i + 1] - centres[i]) if i + 1 < len(runs) else None
        left_half = 0.5 * (centres[i] - centres[i - 1]) if i > 0 else None
        half = half or left_half or HEIGHT * 0.4
        left_half = left_half or half
        spans.append((int(max(0, centres[i] - left_half)), int(min(width, centres[i] + half))))
    return RowDigits(text, confidences, spans, centres, probs)


def text_log_likelihood(probs: np.ndarray, text: str) -> float:
    """ln P(``text`` | row): the CTC probability, summed over every alignment, that the row whose
    float32 (T, 11) per-step ``probs`` (``RowDigits.probs``) are given reads exactly ``text``.
    -inf where ``text`` needs more steps than there are. How the fusion weighs another
    reader's digits against this reader's own (``sequence.RowFusion``)."""
    log_probs = torch.from_numpy(np.log(np.clip(probs, 1e-12, 1.0)).astype(np.float32))[:, None, :]
    if not text:
        return float(log_probs[:, 0, BLANK].sum())
    target = torch.tensor([[int(c) for c in text]])
    nll = nn.functional.ctc_loss(log_probs, target, torch.tensor([probs.shape[0]]), torch.tensor([len(text)]),
                                 blank=BLANK, reduction="sum")
    return -float(nll)


@torch.inference_mode()
def read_inputs(inputs: list[np.ndarray], model: LineNet | None = None) -> list[RowDigits]:
    """Read float32 (32, W_i) inputs (``row_input``), each on its own: padding a row to a wider
    one's width would reach its reading through the LSTM's backward pass. A photo has few rows."""
    model = model or shipped_line_net()
    out = []
    for x in inputs:
        width = -(-x.shape[1] // STRIDE) * STRIDE
        padded = np.zeros((1, 1, HEIGHT, width), np.float32)
        padded[0, 0, :, : x.shape[1]] = x
        out.append(decode(model(torch.from_numpy(padded))[:, 0].numpy(), x.shape[1]))
    return out
