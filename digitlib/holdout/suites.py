"""The holdout suites: how often and how strongly each effect appears.

- ``holdout-clean``: mild effects, well-spaced digits, a number a good reader
  should get right almost every time.
- ``holdout-hard``: strong effects (cast shadows of hands and phones, rotation up
  to 25 degrees, slanted and wavy lines, perspective, grid and security paper,
  coloured inks, pencil, boards, low resolution, blur, noise, JPEG), still
  legible to a person.
- ``holdout-cheque``: amounts as written on cheques: currency-style groups with
  separators, security backgrounds, digits touching, printed boxes.

Each image depends only on (seed, index) and the suite, through its own stream
(``SUITE_STREAMS``), so a smaller ``n`` gives a prefix of a larger one.
"""

from __future__ import annotations

import os

import numpy as np

from .glyphs import mnist_test
from .layout import Handwriting, currency_separators
from .paper import DESKS, PAPER_COLOURS
from .scene import Rendered, Scene, Shadow, render

SUITES = ("holdout-clean", "holdout-hard", "holdout-cheque")
# Distinct streams per suite, and far from anything else seeded with (seed, index).
SUITE_STREAMS = {"holdout-clean": 7_301, "holdout-hard": 7_302, "holdout-cheque": 7_303}

# Ink colours, BGR reflectance on white: black, blue ballpoint, royal blue, then coloured inks.
DARK_INKS = ((0.12, 0.12, 0.13), (0.6, 0.25, 0.12), (0.45, 0.15, 0.08))
COLOURED_INKS = ((0.2, 0.2, 0.75), (0.25, 0.55, 0.2), (0.55, 0.2, 0.45), (0.35, 0.3, 0.3))
# Light inks on boards: chalk white, yellow chalk, white paint marker.
LIGHT_INKS = ((0.92, 0.92, 0.9), (0.6, 0.9, 0.95), (0.97, 0.97, 0.97))
# Nib width as a share of the digit height, per pen.
NIB_SHARE = {"ballpoint": (0.035, 0.06), "gel": (0.05, 0.08), "marker": (0.1, 0.17),
             "pencil": (0.035, 0.06), "chalk": (0.08, 0.13)}
# Output frames (width, height).
FRAMES_CLEAN = ((640, 480), (640, 480), (800, 600), (480, 640), (1024, 768))
FRAMES_HARD = ((640, 480), (640, 480), (1280, 720), (480, 640), (1024, 768), (320, 240), (352, 288))
FRAMES_CHEQUE = ((800, 360), (640, 480), (1000, 450))


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _number(rng: np.random.Generator, low: int, high: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(low, high + 1))))


def _pen(rng: np.random.Generator, pens: tuple[str, ...], digit_px: float) -> tuple[str, float]:
    pen = _pick(rng, pens)
    lo, hi = NIB_SHARE[pen]
    return pen, max(1.2, rng.uniform(lo, hi) * digit_px)


def clean_scene(rng: np.random.Generator) -> Scene:
    """A mild photo or scan: upright-ish, spaced digits, dark ink, soft light."""
    frame = _pick(rng, FRAMES_CLEAN)
    digit_px = rng.uniform(38, 80) * min(frame) / 480
    pen, nib = _pen(rng, ("ballpoint", "ballpoint", "gel", "marker"), digit_px)
    label = _number(rng, 1, 8)
    desk = _pick(rng, ("painted", "dark")) if rng.random() < 0.4 else ""  # mild: flat desks only
    shadow = ()
    if rng.random() < 0.25:
        shadow = (Shadow(_pick(rng, ("blob", "polygon")), rng.uniform(2, 5), rng.uniform(0.15, 0.3), rng.uniform(0.3, 1.0)),)
    return Scene(
        label=label, seed=int(rng.integers(2**31)), frame_size=frame, digit_height_px=digit_px,
        handwriting=Handwriting(
            digit_height=digit_px, nib_px=nib, gap=(0.2, 0.5), size_jitter=0.08, slant_deg=rng.uniform(-8, 8),
            tilt_jitter_deg=4, line_angle_deg=rng.uniform(-3, 3), follow_line=0.8, wave_amplitude=rng.uniform(0, 0.05),
            wave_length=rng.uniform(4, 8), baseline_jitter=0.05,
            separators=currency_separators(len(label), rng, "thousands") if rng.random() < 0.1 else (),
            underline=rng.random() < 0.1, box="hand" if rng.random() < 0.05 else ""),
        pen=pen, ink_bgr=_pick(rng, DARK_INKS), ink_density=rng.uniform(0.9, 1.2),
        paper_bgr=_pick(rng, PAPER_COLOURS[:3]), grain=rng.uniform(0.01, 0.04),
        ruling=_pick(rng, ("plain", "plain", "ruled", "grid", "dotted")), ruling_pitch=rng.uniform(1.4, 2.0),
        ruling_darkness=rng.uniform(0.3, 0.6), ruling_line=rng.uniform(0.012, 0.025),
        desk=desk, sheet_margins=tuple(rng.uniform(1.5, 4.0, 4)),
        rotation_deg=rng.uniform(-5, 5), scale=rng.uniform(0.9, 1.1), perspective=rng.uniform(0, 0.05),
        shadows=shadow, uneven_light=rng.uniform(0, 0.3), exposure=rng.uniform(0.9, 1.1),
        blur=("defocus", rng.uniform(0, 0.8)), noise=rng.uniform(0, 0.02), jpeg_quality=int(rng.integers(70, 96)),
    )


def hard_scene(rng: np.random.Generator) -> Scene:
    """A difficult but legible photo: every effect stronger, several at once."""
    frame = _pick(rng, FRAMES_HARD)
    digit_px = max(20.0, rng.uniform(24, 100) * min(frame) / 480)
    board = rng.random() < 0.12
    if board:
        pen, nib = _pen(rng, ("chalk", "marker"), digit_px)
        ink = _pick(rng, LIGHT_INKS)
    else:
        pen, nib = _pen(rng, ("ballpoint", "ballpoint", "gel", "marker", "pencil"), digit_px)
        ink = (0.45, 0.45, 0.45) if pen == "pencil" else _pick(rng, DARK_INKS + COLOURED_INKS)
    rows = 2 if rng.random() < 0.08 else 1
    label = "\n".join(_number(rng, 1, 10 if rows == 1 else 5) for _ in range(rows))
    flat_length = max(len(r) for r in label.split("\n"))
    shadows = []
    if rng.random() < 0.45:  # a hard-edged cast shadow
        shadows.append(Shadow(_pick(rng, ("polygon", "hand", "phone")), rng.uniform(1.5, 4), rng.uniform(0.3, 0.6),
                              rng.uniform(0.0, 0.06)))
    if rng.random() < 0.3:  # a soft one
        shadows.append(Shadow("blob", rng.uniform(2, 6), rng.uniform(0.2, 0.45), rng.uniform(0.3, 1.5)))
    margins = tuple(rng.uniform(0.3, 2.5, 4)) if rng.random() < 0.5 else tuple(rng.uniform(1.5, 6, 4))
    return Scene(
        label=label, seed=int(rng.integers(2**31)), frame_size=frame, digit_height_px=digit_px,
        handwriting=Handwriting(
            digit_height=digit_px, nib_px=nib, gap=(rng.uniform(-0.05, 0.15), rng.uniform(0.2, 0.5)), size_jitter=0.15,
            slant_deg=rng.uniform(-22, 22) if rng.random() < 0.5 else rng.uniform(-10, 10), tilt_jitter_deg=9,
            # Two rows are written straight: slanted, wavy rows one above the other get tangled.
            line_angle_deg=rng.uniform(-15, 15) if rng.random() < 0.5 and rows == 1 else rng.uniform(-4, 4),
            follow_line=rng.uniform(0.3, 1.0),
            wave_amplitude=rng.uniform(0.08, 0.25) if rng.random() < 0.35 and rows == 1 else rng.uniform(0, 0.06),
            wave_length=rng.uniform(3, 8), baseline_jitter=0.12,
            separators=currency_separators(flat_length, rng, _pick(rng, ("thousands", "decimal", "dash")))
            if rng.random() < 0.2 else (),
            underline=rng.random() < 0.2, box=_pick(rng, ("hand", "printed")) if rng.random() < 0.15 else "",
            row_gap=rng.uniform(0.5, 0.9)),
        pen=pen, ink_bgr=ink, ink_density=rng.uniform(0.7, 1.2) if pen != "pencil" else rng.uniform(0.8, 1.3),
        surface="board" if board else "paper",
        paper_bgr=_pick(rng, PAPER_COLOURS), grain=rng.uniform(0.02, 0.08),
        ruling=_pick(rng, ("plain", "ruled", "grid", "grid", "dotted", "guilloche")), ruling_pitch=rng.uniform(0.6, 1.8),
        ruling_darkness=rng.uniform(0.4, 1.0), ruling_line=rng.uniform(0.015, 0.04),
        desk=_pick(rng, DESKS) if rng.random() < 0.7 else "", sheet_margins=margins,
        # Half the photos are held roughly level, half turned by up to 25 degrees.
        rotation_deg=rng.uniform(-25, 25) if rng.random() < 0.5 else rng.uniform(-6, 6),
        scale=rng.uniform(0.85, 1.15), perspective=rng.uniform(0, 0.2),
        shadows=tuple(shadows), uneven_light=rng.uniform(0.1, 0.6), glare=rng.uniform(0.15, 0.4) if rng.random() < 0.2 else 0.0,
        exposure=rng.uniform(0.75, 1.2),
        # Strong blur on 2 photos in 5, less on small digits (a 20 px digit under a 2 px blur is gone).
        blur=(_pick(rng, ("defocus", "defocus", "motion")),
              (rng.uniform(0.8, 2.0) if rng.random() < 0.4 else rng.uniform(0, 0.8)) * min(1.0, digit_px / 40)),
        noise=rng.uniform(0.01, 0.05), jpeg_quality=int(rng.integers(30, 91)),
    )


def cheque_scene(rng: np.random.Generator) -> Scene:
    """A cheque's amount: grouped digits with separators on a security background, often touching."""
    frame = _pick(rng, FRAMES_CHEQUE)
    digit_px = rng.uniform(34, 70) * min(frame) / 400
    pen, nib = _pen(rng, ("ballpoint", "ballpoint", "gel"), digit_px)
    label = _number(rng, 2, 8)
    style = _pick(rng, ("thousands", "decimal", "dash", "fill", "thousands"))
    return Scene(
        label=label, seed=int(rng.integers(2**31)), frame_size=frame, digit_height_px=digit_px,
        handwriting=Handwriting(
            digit_height=digit_px, nib_px=nib, gap=(-0.2, 0.02), size_jitter=0.1, slant_deg=rng.uniform(-20, 15),
            tilt_jitter_deg=6, line_angle_deg=rng.uniform(-4, 4), follow_line=0.8, wave_amplitude=rng.uniform(0, 0.08),
            wave_length=rng.uniform(3, 8), baseline_jitter=0.08,
            separators=currency_separators(len(label), rng, style),
            underline=rng.random() < 0.2, box="printed" if rng.random() < 0.6 else ""),
        pen=pen, ink_bgr=_pick(rng, DARK_INKS), ink_density=rng.uniform(0.8, 1.2),
        paper_bgr=_pick(rng, PAPER_COLOURS), grain=rng.uniform(0.01, 0.05),
        ruling="guilloche", ruling_pitch=rng.uniform(0.5, 1.5), ruling_darkness=rng.uniform(0.4, 0.9),
        ruling_line=0.02,
        desk="", sheet_margins=(3, 3, 3, 3),
        rotation_deg=rng.uniform(-4, 4), scale=rng.uniform(0.9, 1.1), perspective=rng.uniform(0, 0.06),
        uneven_light=rng.uniform(0, 0.3), exposure=rng.uniform(0.9, 1.1),
        blur=("defocus", rng.uniform(0, 0.8)), noise=rng.uniform(0, 0.025), jpeg_quality=int(rng.integers(50, 96)),
    )


SCENE_MAKERS = {"holdout-clean": clean_scene, "holdout-hard": hard_scene, "holdout-cheque": cheque_scene}


def draw_scene(suite: str, seed: int, index: int) -> Scene:
    """The scene of image ``index`` of ``suite`` for ``seed``."""
    if suite not in SCENE_MAKERS:
        raise ValueError(f"unknown holdout suite {suite!r}; choose from {', '.join(SUITES)}")
    return SCENE_MAKERS[suite](np.random.default_rng((SUITE_STREAMS[suite], seed, index)))


def make_case(suite: str, index: int, seed: int = 0, root: str | os.PathLike | None = None) -> Rendered:
    """Image ``index`` of ``suite`` for ``seed``, with what was drawn (see ``scene.Rendered``)."""
    scene = draw_scene(suite, seed, index)
    return render(scene, mnist_test(root))


def make_suite(suite: str, n: int, seed: int = 0, root: str | os.PathLike | None = None) -> list[tuple[np.ndarray, str]]:
    """``n`` (BGR uint8 photo (H, W, 3), label) pairs of a holdout suite; the same for the same seed."""
    if suite not in SCENE_MAKERS:
        raise ValueError(f"unknown holdout suite {suite!r}; choose from {', '.join(SUITES)}")
    digits = mnist_test(root)
    out = []
    for i in range(n):
        rendered = render(draw_scene(suite, seed, i), digits)
        out.append((rendered.image, rendered.label))
    return out
