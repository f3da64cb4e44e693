"""One photo, fully described (``Scene``), and its rendering (``render``).

A ``Scene`` holds every choice made for one image, so a test can ask for one
effect and nothing else (``dataclasses.replace``) and the suites (``suites``)
only draw scenes. Rendering goes: write the number (``layout``) -> the sheet or
board with its printed pattern and the ink (``paper``) -> the camera's view of
the sheet on a desk (``camera.place_number``), in linear light and at twice the
output size -> light and shadows (``shadows``) -> lens blur -> the sensor's
pixels, noise and tone curve -> JPEG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import camera, paper, shadows
from .glyphs import MnistTest, pen_texture
from .layout import Glyph, Handwriting, write_number

SUPERSAMPLE = 2  # frames are rendered this many times larger than the output, then averaged down,
MAX_WORK_PX = 1400  # but no larger than this on their longest side (time)
MAX_SHEET_PX = 3000  # longest side of a rendered sheet (memory and time)
MAX_DEPTH_RATIO = 2.5  # the far end of the sheet at most this many times farther than the near end


@dataclass(frozen=True)
class Shadow:
    """A cast shadow: ``kind`` in ``shadows.SHADOW_SHAPES``; ``size`` in digit heights (in the
    frame); ``strength`` 0-1 (light lost inside); ``penumbra`` in digit heights (0.02: hard)."""

    kind: str
    size: float
    strength: float
    penumbra: float


@dataclass(frozen=True)
class Scene:
    """Every choice for one photo. Lengths "h" are in digit heights."""

    label: str  # digit rows joined by "\n"
    seed: int  # drives the textures, the MNIST digits chosen and the noise
    frame_size: tuple[int, int]  # output (width, height)
    digit_height_px: float  # in the output frame
    handwriting: Handwriting  # its digit_height is overridden from digit_height_px
    pen: str  # glyphs.PEN_KINDS
    ink_bgr: tuple[float, float, float]  # reflectance of the ink on white
    ink_density: float
    surface: str = "paper"  # "paper" or "board" (light ink on a dark board)
    paper_bgr: tuple[float, float, float] = (0.93, 0.94, 0.94)
    grain: float = 0.03
    ruling: str = "plain"  # paper.RULINGS
    ruling_pitch: float = 1.5  # h
    ruling_darkness: float = 0.6
    ruling_line: float = 0.02  # width of printed lines, h
    desk: str = ""  # paper.DESKS, or "" when the sheet fills the frame
    sheet_margins: tuple[float, float, float, float] = (2.0, 2.0, 2.0, 2.0)  # left, top, right, bottom, h
    rotation_deg: float = 0.0
    scale: float = 1.0  # frame px per sheet px, before the number is shrunk to fit
    perspective: float = 0.0  # push of the number's corners, in lengths of the number
    shadows: tuple[Shadow, ...] = ()
    uneven_light: float = 0.0
    glare: float = 0.0
    exposure: float = 1.0
    blur: tuple[str, float] = ("defocus", 0.0)  # kind, radius in output px
    noise: float = 0.0
    jpeg_quality: int | None = None


@dataclass
class Rendered:
    """A rendered scene: ``image`` (H, W, 3) uint8 BGR, its label, and what was drawn:
    ``glyphs`` with boxes in sheet px, ``homography`` (3, 3) from sheet px to output px."""

    image: np.ndarray
    label: str
    glyphs: list[Glyph]
    homography: np.ndarray
    scene: Scene
    layers: dict[str, np.ndarray] = field(default_factory=dict)

    def glyph_quads(self, kind: str = "digit") -> list[np.ndarray]:
        """Corners (4, 2) float32 in output px of each glyph of ``kind``, in writing order."""
        out = []
        for g in self.glyphs:
            if g.kind == kind:
                x, y, w, h = g.box
                corners = np.array([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]], np.float32)
                out.append(cv2.perspectiveTransform(corners, self.homography)[0])
        return out


def _scaled(h: np.ndarray, factor: float) -> np.ndarray:
    return np.diag([factor, factor, 1.0]) @ h


def _depth_ratio(homography: np.ndarray, corners: np.ndarray) -> float:
    """Largest over smallest projective depth (w) of sheet ``corners`` (k, 2); inf when any
    is behind the camera: how much nearer one end of the sheet is than the other."""
    w = np.hstack([corners, np.ones((len(corners), 1))]) @ homography[2]
    if not ((w > 0).all() or (w < 0).all()):
        return math.inf
    w = np.abs(w)
    return float(w.max() / w.min())


def _pose_and_sheet(scene: Scene, number_box, work_size, h_px: float, rng: np.random.Generator):
    """(homography from writing-canvas px to work px, sheet extent (x0, y0, x1, y1) in
    canvas px, desk kind or "" when the sheet fills the frame).

    The sheet is the margins asked for around the number, or all the frame sees;
    wider than MAX_SHEET_PX, its margins shrink (never the number). A pose whose sheet
    reaches behind the camera or whose far end is more than MAX_DEPTH_RATIO times
    farther than its near end is drawn again with half the perspective.
    """
    x0, y0, x1, y1 = number_box
    perspective = scene.perspective
    for _attempt in range(6):
        to_work = camera.place_number(number_box, work_size, scene.rotation_deg, scene.scale, perspective, rng)
        seen = camera.frame_in_sheet(to_work, work_size) if not scene.desk else None
        if seen is not None and np.ptp(seen, axis=0).max() < MAX_SHEET_PX:
            ex0, ey0 = np.floor(seen.min(axis=0)) - 4
            ex1, ey1 = np.ceil(seen.max(axis=0)) + 4
            desk_kind = ""
        else:
            ml, mt, mr, mb = (m * h_px for m in scene.sheet_margins)
            spare_x = max(0.0, (ml + mr + x1 - x0) - MAX_SHEET_PX) / max(1e-6, ml + mr)
            spare_y = max(0.0, (mt + mb + y1 - y0) - MAX_SHEET_PX) / max(1e-6, mt + mb)
            ml, mr = ml * (1 - spare_x), mr * (1 - spare_x)
            mt, mb = mt * (1 - spare_y), mb * (1 - spare_y)
            ex0, ey0, ex1, ey1 = x0 - ml, y0 - mt, x1 + mr, y1 + mb
            desk_kind = scene.desk or "painted"
        extent = tuple(int(v) for v in (ex0, ey0, ex1, ey1))
        corners = np.array([[ex0, ey0], [ex1, ey0], [ex1, ey1], [ex0, ey1]], np.float64)
        if _depth_ratio(to_work, corners) <= MAX_DEPTH_RATIO:
            return to_work, extent, desk_kind
        perspective /= 2
    return to_work, extent, desk_kind  # perspective is ~0 by now


def render(scene: Scene, digits: MnistTest, keep_layers: bool = False) -> Rendered:
    """Render ``scene`` with MNIST test ``digits``. ``keep_layers`` keeps the intermediate
    float maps (ink, light) for tests in ``Rendered.layers``."""
    rng = np.random.default_rng(scene.seed)
    out_w, out_h = scene.frame_size
    supersample = min(SUPERSAMPLE, MAX_WORK_PX / max(out_w, out_h))
    work_size = (int(round(out_w * supersample)), int(round(out_h * supersample)))
    h_px = scene.digit_height_px * supersample / scene.scale
    hw = Handwriting(**{**scene.handwriting.__dict__, "digit_height": h_px,
                        "nib_px": scene.handwriting.nib_px * supersample / scene.scale})
    writing = write_number(scene.label, hw, digits, rng)
    number_box = writing.number_box()
    to_work, (sx0, sy0, sx1, sy1), desk_kind = _pose_and_sheet(scene, number_box, work_size, h_px, rng)
    x0, y0, x1, y1 = number_box
    sheet_w, sheet_h = sx1 - sx0, sy1 - sy0
    ink = np.zeros((sheet_h, sheet_w), np.float32)
    printed = np.zeros_like(ink)
    # Paste the writing canvas into the sheet (both may clip the other).
    cy0, cx0 = max(0, sy0), max(0, sx0)
    cy1, cx1 = min(writing.ink.shape[0], sy0 + sheet_h), min(writing.ink.shape[1], sx0 + sheet_w)
    ink[cy0 - sy0: cy1 - sy0, cx0 - sx0: cx1 - sx0] = writing.ink[cy0:cy1, cx0:cx1]
    printed[cy0 - sy0: cy1 - sy0, cx0 - sx0: cx1 - sx0] = writing.printed[cy0:cy1, cx0:cx1]
    shift = np.array([[1, 0, sx0], [0, 1, sy0], [0, 0, 1]], np.float64)  # sheet px -> canvas px
    sheet_to_work = to_work @ shift

    if scene.surface == "board":
        surface = paper.board((sheet_h, sheet_w), rng)
    else:
        surface = paper.sheet((sheet_h, sheet_w), rng, scene.paper_bgr, scene.grain)
        baseline = (x0 - sx0, y1 - sy0 + h_px * 0.05)  # the number sits on a line
        surface = paper.rule(surface, scene.ruling, scene.ruling_pitch * h_px, scene.ruling_line * h_px, baseline, rng,
                             scene.ruling_darkness)
        surface = paper.absorb(surface, printed, (0.25, 0.25, 0.25), 1.0)
    laid = ink * pen_texture(ink, scene.pen, rng)
    if scene.pen == "marker":
        laid = cv2.GaussianBlur(laid, (0, 0), 0.6 * supersample)
    if scene.surface == "board":
        surface = paper.cover(surface, np.clip(laid * scene.ink_density, 0, 1), scene.ink_bgr)
    else:
        surface = paper.absorb(surface, laid, scene.ink_bgr, scene.ink_density)

    desk = paper.desk(work_size[::-1], desk_kind or "painted", rng)
    scene_lin, sheet_mask = camera.warp_onto(desk, surface, sheet_to_work)
    light = shadows.uneven_light(work_size[::-1], scene.uneven_light, rng)
    if desk_kind:
        light = light * camera.contact_shadow(sheet_mask, 1.5 * supersample)[..., None]
    box_work = cv2.perspectiveTransform(
        np.array([[[x0, y0], [x1, y1]]], np.float32), to_work)[0]
    digit_work = scene.digit_height_px * supersample
    for s in scene.shadows:
        target = box_work[0] + (box_work[1] - box_work[0]) * rng.uniform(0.2, 0.8, 2)
        mask = shadows.occluder_mask(work_size[::-1], s.kind, tuple(target), s.size * digit_work, rng)
        light = light * shadows.shadow_light(mask, s.strength, s.penumbra * digit_work)
    lit = scene_lin * light
    if scene.glare > 0:
        lit = shadows.glare(lit, scene.glare, rng)
    kind, radius = scene.blur
    lit = camera.lens_blur(lit, kind, radius * supersample, rng)
    pixels = camera.shrink(lit, scene.frame_size)
    frame = camera.expose(pixels, scene.exposure, scene.noise, rng)
    image = camera.encode(frame, scene.jpeg_quality)
    to_out = _scaled(sheet_to_work, out_w / work_size[0])
    glyphs = [Glyph(g.kind, g.char, (g.box[0] - sx0, g.box[1] - sy0, g.box[2], g.box[3]), g.mnist_index)
              for g in writing.glyphs]
    layers = {"ink": ink, "light": light, "sheet_mask": sheet_mask, "surface": surface} if keep_layers else {}
    return Rendered(image, scene.label, glyphs, to_out, scene, layers)
