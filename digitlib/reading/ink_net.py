"""The learned ink stage: a small U-Net from a photo to the probability that each pixel is digit ink.

``ink_probability(image)`` brings the photo to the network's working scale (its
shorter side NET_SHORT_SIDE px, where handwritten digits are about 10-60 px
tall), runs the network and brings the map back to the photo's size. The
network was trained (``digitlib.ink_training``) on scenes from
``digitlib.ink_pages`` to mark digit ink only: ruled and grid lines, patterns,
separators, underlines, boxes, shadows and paper edges are not ink.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..checkpoint import fp16_state, fp32_state
from ..files import write_atomic
from .binarise import per_label, seeded_components
from .blobs import typical_height_of

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "ink_net.pt"
NET_SHORT_SIDE = 192  # px: a 640x480 frame is read at 256x192
NET_LONG_SIDE = 768  # px at most: a strip-shaped image is not enlarged without bound
WIDTHS = (8, 16, 32, 64, 96)  # channels at 1, 1/2, 1/4, 1/8 and 1/16 of the working scale
ALIGN = 2 ** (len(WIDTHS) - 1)  # the input is padded to a multiple of this


def conv_block(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class InkNet(nn.Module):
    """float32 (N, 3, H, W) BGR in [-0.5, 0.5], H and W multiples of ALIGN -> float32 (N, 1, H, W) ink logits.

    Two convolutions per level on the way down (the deepest dilated, for context
    of several digit heights: a ruled line is long, a shadow's edge is straight),
    one per level on the way up after joining the level's skip connection.
    """

    def __init__(self, widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        self.down = nn.ModuleList()
        c_prev = 3
        for level, c in enumerate(widths):
            dilation = 2 if level == len(widths) - 1 else 1
            self.down.append(nn.Sequential(conv_block(c_prev, c), conv_block(c, c, dilation)))
            c_prev = c
        self.up = nn.ModuleList(conv_block(widths[k + 1] + widths[k], widths[k]) for k in reversed(range(len(widths) - 1)))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, block in enumerate(self.down):
            if level:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return self.head(x)


def to_input(bgr: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) or (H, W, 3) BGR -> float32 (N, 3, H, W) network input in [-0.5, 0.5]."""
    t = torch.from_numpy(np.ascontiguousarray(bgr))
    if t.ndim == 3:
        t = t[None]
    return t.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5)


def save_weights(model: InkNet, path: str | Path, info: dict) -> None:
    """Write the network's weights (fp16) and how it was made, atomically."""
    payload = {"state_dict": fp16_state(model), "widths": list(model_widths(model)), "net_short_side": NET_SHORT_SIDE, "info": info}
    write_atomic(path, lambda f: torch.save(payload, f))


def model_widths(model: InkNet) -> tuple[int, ...]:
    return tuple(block[0][0].out_channels for block in model.down)


def load_ink_net(path: str | Path = WEIGHTS) -> InkNet:
    """The network in eval mode, float32, from a file written by ``save_weights``."""
    return load_ink_net_and_record(path)[0]


def load_ink_net_and_record(path: str | Path = WEIGHTS) -> tuple[InkNet, dict]:
    """``load_ink_net`` and the record the file keeps of how the weights were made (its ``info``; {} if none)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model = InkNet(tuple(payload["widths"]))
    model.load_state_dict(fp32_state(payload["state_dict"]))
    return model.eval(), payload.get("info", {})


@functools.lru_cache(maxsize=2)
def shipped_ink_net(path: str = str(WEIGHTS)) -> InkNet:
    return load_ink_net(path)


INK_SURE = 0.5  # a pixel this likely to be ink is ink
INK_JOINS = 0.25  # a less likely one is ink where it joins a sure one (hysteresis)
# Digit heights (px at the network's scale) it was trained on are 8-64 (their components a little taller); outside this
# range a second pass brings them to NET_DIGIT_HEIGHT.
NET_DIGIT_RANGE = (10.0, 72.0)
NET_DIGIT_HEIGHT = 28.0
NET_MIN_SHORT_SIDE, NET_MAX_SHORT_SIDE = 64, 320  # px: the second pass's size stays within these


def ink_probability(image: np.ndarray, model: InkNet | None = None,
                    scale: float | None = None) -> tuple[np.ndarray, float]:
    """Digit-ink probability float32 (H, W) in [0, 1] of a grey uint8 (H, W) or BGR uint8 (H, W, 3)
    photo, and the scale (network px per photo px) it was read at.

    The photo is resized so its shorter side is NET_SHORT_SIDE (its longer side at
    most NET_LONG_SIDE) and run through the network. When the digits it finds
    there are far from the sizes it was trained on (a single digit filling the
    frame, a small number on a large page), it runs again at the scale that makes
    them NET_DIGIT_HEIGHT tall. The map is resized back to (H, W) bilinearly.

    ``scale`` given (the scale an earlier pass chose for the same digits) is used as it is:
    a photo turned level onto a larger canvas holds digits of the same size, which the
    canvas's size would shrink below what the network can see.
    """
    model = model if model is not None else shipped_ink_net()
    bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
    h, w = bgr.shape[:2]
    if scale is not None:
        return cv2.resize(_run(model, bgr, scale), (w, h), interpolation=cv2.INTER_LINEAR), scale
    scale = min(NET_SHORT_SIDE / min(h, w), NET_LONG_SIDE / max(h, w))
    prob = _run(model, bgr, scale)
    digit_h = _typical_height(ink_mask(prob))
    if digit_h and not NET_DIGIT_RANGE[0] <= digit_h <= NET_DIGIT_RANGE[1]:
        wanted = scale * NET_DIGIT_HEIGHT / digit_h
        wanted = min(max(wanted, NET_MIN_SHORT_SIDE / min(h, w)), NET_MAX_SHORT_SIDE / min(h, w), NET_LONG_SIDE / max(h, w))
        if abs(math.log(wanted / scale)) > math.log(1.25):
            scale, prob = wanted, _run(model, bgr, wanted)
    return cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR), scale


def _run(model: InkNet, bgr: np.ndarray, scale: float) -> np.ndarray:
    """float32 probability map of BGR uint8 ``bgr`` resized by ``scale`` (padded to ALIGN by edge replication)."""
    h, w = bgr.shape[:2]
    nw, nh = max(ALIGN, round(w * scale)), max(ALIGN, round(h * scale))
    small = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    small = cv2.copyMakeBorder(small, 0, -nh % ALIGN, 0, -nw % ALIGN, cv2.BORDER_REPLICATE)
    with torch.inference_mode():
        logits = model(to_input(small))[0, 0, :nh, :nw]
    return torch.sigmoid(logits).numpy()


def _typical_height(mask: np.ndarray) -> float:
    """The typical height (px) of the digit-sized components of a bool (H, W) mask; 0.0 for none."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    return typical_height_of(stats[1:, cv2.CC_STAT_HEIGHT].tolist())


def ink_mask(probability: np.ndarray) -> np.ndarray:
    """Digit ink, bool (H, W), from a float32 (H, W) probability map, by hysteresis: pixels
    over INK_JOINS joined to one over INK_SURE. The network is least sure along thin,
    faint strokes, and a gap there breaks a "0" into two pieces that read as digits."""
    n, labels = cv2.connectedComponents((probability > INK_JOINS).view(np.uint8), connectivity=8)
    return per_label(seeded_components(labels, n, probability > INK_SURE), labels)
