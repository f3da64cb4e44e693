"""The holdout generator: independent of synth, repeatable, true to its labels, and
each effect really in the picture when a scene asks for it."""

from __future__ import annotations

import ast
import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitlib import holdout
from digitlib.holdout import glyphs
from digitlib.holdout.noise import NOISE_KINDS, NOISE_SIZES, noise_images
from digitlib.holdout.scene import Scene, Shadow, render
from digitlib.holdout.layout import Handwriting
from digitlib.reliability import reliability_table

HOLDOUT_DIR = Path(holdout.__file__).parent


@pytest.fixture(scope="module")
def digits(data_dir) -> glyphs.MnistTest:
    return glyphs.mnist_test(data_dir)


def plain_scene(label: str = "40718", **changes) -> Scene:
    """An easy photo (plain white sheet filling the frame, black gel pen, no light or camera
    effects) that a test changes one effect at a time."""
    hw = Handwriting(digit_height=60, nib_px=4, gap=(0.3, 0.3), size_jitter=0.0, slant_deg=0, tilt_jitter_deg=0,
                     line_angle_deg=0, follow_line=1.0, wave_amplitude=0.0, wave_length=5, baseline_jitter=0.0)
    hw = dataclasses.replace(hw, **changes.pop("handwriting", {}))
    scene = Scene(label=label, seed=11, frame_size=(640, 480), digit_height_px=60, handwriting=hw, pen="gel",
                  ink_bgr=(0.1, 0.1, 0.1), ink_density=1.0, grain=0.0)
    return dataclasses.replace(scene, **changes)


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)


# ---- independence and the data it draws on --------------------------------


def test_the_generator_never_imports_synth():
    imported = []
    for path in HOLDOUT_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported += [(path.name, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported += [(path.name, f"{node.module or ''}.{a.name}") for a in node.names]
    assert imported, "no imports found: the check itself is broken"
    assert not [(f, name) for f, name in imported if "synth" in name], imported


def test_digits_come_from_the_mnist_test_split(data_dir, monkeypatch):
    calls = []
    real = glyphs.load_mnist

    def spy(train, root=None, download=True):
        calls.append(train)
        return real(train=train, root=root, download=download)

    monkeypatch.setattr(glyphs, "load_mnist", spy)
    glyphs._mnist_test_at.cache_clear()
    try:
        test_split = glyphs.mnist_test(data_dir)
    finally:
        glyphs._mnist_test_at.cache_clear()
    assert calls == [False]
    assert len(test_split.labels) == 10_000


# ---- repeatable --------------------------------------------------------------


@pytest.mark.parametrize("suite", holdout.SUITES)
def test_the_same_seed_and_index_give_the_same_image(suite, data_dir):
    first = holdout.make_suite(suite, 3, seed=5, root=data_dir)
    again = holdout.make_suite(suite, 3, seed=5, root=data_dir)
    assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(first, again))
    # Image i depends on (seed, i) only: the same as drawn alone.
    alone = holdout.make_case(suite, 2, seed=5, root=data_dir)
    assert np.array_equal(alone.image, first[2][0]) and alone.label == first[2][1]
    other = holdout.make_suite(suite, 3, seed=6, root=data_dir)
    assert [c[1] for c in other] != [c[1] for c in first]


def test_an_unknown_suite_is_refused(data_dir):
    with pytest.raises(ValueError, match="holdout-clean"):
        holdout.make_suite("holdout-easy", 1, root=data_dir)


# ---- what is drawn is what the label says ------------------------------------


@pytest.mark.parametrize("suite", holdout.SUITES)
def test_every_label_digit_is_one_mnist_test_digit_drawn_inside_the_frame(suite, data_dir, digits):
    for index in range(4):
        case = holdout.make_case(suite, index, seed=3, root=data_dir)
        assert set(case.label) <= set("0123456789\n") and case.label.strip("\n") == case.label
        drawn = [g for g in case.glyphs if g.kind == "digit"]
        assert "".join(g.char for g in drawn) == case.label.replace("\n", "")
        # Each glyph is an MNIST test image of the digit it stands for.
        assert all(digits.labels[g.mnist_index] == int(g.char) for g in drawn)
        h, w = case.image.shape[:2]
        for quad in case.glyph_quads("digit"):
            assert (quad[:, 0] >= 0).all() and (quad[:, 0] <= w).all()
            assert (quad[:, 1] >= 0).all() and (quad[:, 1] <= h).all()


def test_each_digit_box_holds_ink_in_the_photo(digits):
    case = render(plain_scene("305182"), digits)
    paper_level = float(np.median(grey(case.image)))
    quads = case.glyph_quads("digit")
    assert len(quads) == 6
    for quad in quads:
        x0, y0 = np.floor(quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
        assert grey(case.image)[y0:y1, x0:x1].min() < paper_level - 100


def test_separators_are_drawn_but_never_in_the_label(digits):
    hw = {"separators": ((1, "."), (4, ","), (4, "-"))}
    case = render(plain_scene("1234567", handwriting=hw), digits)
    kinds = [g.kind for g in case.glyphs]
    assert kinds.count("separator") == 3 and kinds.count("digit") == 7
    assert case.label == "1234567"
    # Separators lie between their digits, in writing order.
    order = [g.char for g in case.glyphs if g.kind in ("digit", "separator")]
    assert "".join(order) == "1.234,-567"


def test_currency_groups_split_thousands_from_the_right():
    rng = np.random.default_rng(0)
    marks = holdout.suites.currency_separators(7, rng, "thousands")
    assert [position for position, _ in marks] == [1, 4]


# ---- each effect is in the picture when asked for ------------------------------


def test_a_hard_shadow_has_a_sharp_edge_and_a_soft_one_does_not(digits):
    lit = grey(render(plain_scene(), digits).image)

    def shadowed(penumbra: float) -> np.ndarray:
        image = render(plain_scene(shadows=(Shadow("phone", 3.0, 0.7, penumbra),)), digits).image
        return grey(image) / np.maximum(lit, 1.0)

    # 30 % of the light left is 0.3 ** (1 / 2.2) = 58 % of the brightness in the photo.
    hard, soft = shadowed(0.02), shadowed(1.5)
    assert (hard < 0.65).mean() > 0.05  # a real part of the frame is in shadow
    # The penumbra (between 65 % and 95 % of the brightness) is a thin band for the hard shadow.
    hard_band = ((hard > 0.65) & (hard < 0.95)).mean() / (hard < 0.65).mean()
    soft_band = ((soft > 0.65) & (soft < 0.95)).mean() / max(1e-6, (soft < 0.65).mean())
    assert hard_band < 0.15 < soft_band


@pytest.mark.parametrize("kind", ["hand", "polygon", "blob"])
def test_every_shadow_shape_darkens_part_of_the_frame(kind, digits):
    lit = grey(render(plain_scene(), digits).image)
    image = render(plain_scene(shadows=(Shadow(kind, 3.0, 0.5, 0.02),)), digits).image
    ratio = grey(image) / np.maximum(lit, 1.0)
    assert 0.02 < (ratio < 0.75).mean() < 0.9


def _ink_angle(image: np.ndarray) -> float:
    """Angle in degrees (clockwise positive) of the long axis of the dark ink."""
    g = grey(image)
    ys, xs = np.nonzero(g < np.median(g) - 80)
    vx, vy, _, _ = cv2.fitLine(np.stack([xs, ys], 1).astype(np.float32), cv2.DIST_L2, 0, 0.01, 0.01).ravel()
    angle = math.degrees(math.atan2(vy, vx))
    return (angle + 90) % 180 - 90


@pytest.mark.parametrize("degrees", [-20, 0, 12, 24])
def test_rotation_turns_the_written_line(degrees, digits):
    image = render(plain_scene("31415926", rotation_deg=degrees), digits).image
    assert _ink_angle(image) == pytest.approx(degrees, abs=3)


def test_a_slanted_baseline_runs_at_its_angle_on_an_upright_sheet(digits):
    image = render(plain_scene("31415926", handwriting={"line_angle_deg": -14}), digits).image
    assert _ink_angle(image) == pytest.approx(-14, abs=3)


def test_a_wavy_baseline_moves_digits_up_and_down(digits):
    def spread(amplitude: float) -> float:
        case = render(plain_scene("11111111", handwriting={"wave_amplitude": amplitude, "wave_length": 4}), digits)
        centres = np.array([q.mean(axis=0) for q in case.glyph_quads("digit")])
        return float(np.ptp(centres[:, 1]) / case.scene.digit_height_px)

    assert spread(0.0) < 0.15 and spread(0.3) > 0.35


def test_perspective_makes_parallel_lines_converge(digits):
    def line_angles(perspective: float) -> float:
        image = render(plain_scene(ruling="ruled", ruling_pitch=1.2, ruling_darkness=1.0, perspective=perspective), digits).image
        edges = cv2.Canny(image, 40, 120)
        lines = cv2.HoughLinesP(edges, 1, np.pi / 360, 120, minLineLength=200, maxLineGap=10)
        angles = [math.degrees(math.atan2(y2 - y1, x2 - x1)) for x1, y1, x2, y2 in lines[:, 0]]
        return float(np.ptp(angles))

    assert line_angles(0.0) < 1.0 and line_angles(0.25) > 3.0


def _print_components(scene_kwargs: dict, digits) -> tuple[np.ndarray, np.ndarray]:
    """Connected components (stats) of what a ruling adds to a plain page, and the diff mask."""
    base = grey(render(plain_scene(), digits).image)
    ruled = grey(render(plain_scene(**scene_kwargs), digits).image)
    mask = (base - ruled > 12).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    return stats[1:], mask


def test_ruled_paper_has_lines_across_the_sheet(digits):
    stats, _ = _print_components({"ruling": "ruled", "ruling_pitch": 1.5, "ruling_darkness": 0.8}, digits)
    assert (stats[:, cv2.CC_STAT_WIDTH] > 600).sum() >= 3


def test_grid_paper_is_one_net_spanning_the_frame(digits):
    stats, _ = _print_components({"ruling": "grid", "ruling_pitch": 0.8, "ruling_darkness": 0.8}, digits)
    biggest = stats[np.argmax(stats[:, cv2.CC_STAT_AREA])]
    assert biggest[cv2.CC_STAT_WIDTH] > 600 and biggest[cv2.CC_STAT_HEIGHT] > 450


def test_dotted_paper_has_many_small_dots(digits):
    stats, _ = _print_components({"ruling": "dotted", "ruling_pitch": 0.8, "ruling_darkness": 1.0}, digits)
    dots = stats[stats[:, cv2.CC_STAT_AREA] < 60]
    assert len(dots) > 100


def test_a_security_background_covers_the_page_with_wavy_lines(digits):
    stats, mask = _print_components({"ruling": "guilloche", "ruling_pitch": 1.0, "ruling_darkness": 1.0}, digits)
    assert mask.mean() > 0.08
    # Wavy, not straight: long components bend by more than a few pixels.
    long = stats[stats[:, cv2.CC_STAT_WIDTH] > 200]
    assert len(long) and (long[:, cv2.CC_STAT_HEIGHT] > 8).all()


def test_a_sheet_on_a_desk_shows_its_edges(digits):
    case = render(plain_scene(desk="wood", sheet_margins=(0.5, 0.5, 0.5, 0.5)), digits, keep_layers=True)
    on_sheet = case.layers["sheet_mask"]
    assert 0.1 < on_sheet.mean() < 0.9  # the desk is in view around the sheet
    g = cv2.resize(grey(case.image), on_sheet.shape[::-1])
    assert np.median(g[on_sheet > 0.99]) - np.median(g[on_sheet < 0.01]) > 40


def test_a_board_is_light_ink_on_black(digits):
    case = render(plain_scene(surface="board", pen="chalk", ink_bgr=(0.92, 0.92, 0.9)), digits)
    g = grey(case.image)
    assert np.median(g) < 80
    for quad in case.glyph_quads("digit"):
        x0, y0 = np.floor(quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
        assert g[y0:y1, x0:x1].max() > 160


def test_underlines_and_boxes_are_drawn(digits):
    plain = grey(render(plain_scene(), digits).image)
    for hw in ({"underline": True}, {"box": "hand"}, {"box": "printed"}):
        case = render(plain_scene(handwriting=hw), digits)
        kind = "underline" if "underline" in hw else "box"
        assert [g.kind for g in case.glyphs].count(kind) == 1
        assert (plain - grey(case.image) > 60).sum() > 300  # visible strokes beyond the digits


def test_inks_and_pens_differ(digits):
    def ink_pixels(**kw) -> np.ndarray:
        image = render(plain_scene(**kw), digits).image
        return image[grey(image) < np.median(grey(image)) - 40].astype(np.float32)

    red = ink_pixels(ink_bgr=(0.2, 0.2, 0.75)).mean(axis=0)
    assert red[2] > red[0] + 60  # BGR: red ink is red
    marker = ink_pixels(pen="marker", handwriting={"nib_px": 10})
    pencil = ink_pixels(pen="pencil", ink_bgr=(0.45, 0.45, 0.45))
    assert len(marker) > 2 * len(pencil)  # a broad nib lays more ink
    assert marker.mean() < pencil.mean() - 30  # and darker than graphite


def test_camera_effects_each_change_the_photo(digits):
    sharp = render(plain_scene(), digits).image
    sharpness = cv2.Laplacian(grey(sharp), cv2.CV_32F).var()
    blurred = render(plain_scene(blur=("defocus", 2.0)), digits).image
    assert cv2.Laplacian(grey(blurred), cv2.CV_32F).var() < 0.5 * sharpness
    noisy = render(plain_scene(noise=0.05), digits).image
    assert grey(noisy)[:40, :40].std() > grey(sharp)[:40, :40].std() + 2
    jpeg = render(plain_scene(noise=0.05, jpeg_quality=20), digits).image
    # JPEG works in 8x8 blocks: steps across block borders beat steps inside blocks.
    steps = np.abs(np.diff(grey(jpeg), axis=1)).mean(axis=0)
    assert steps[7::8].mean() > 1.2 * np.delete(steps, np.s_[7::8]).mean()
    small = render(plain_scene(frame_size=(160, 120), digit_height_px=18), digits).image
    assert small.shape == (120, 160, 3)
    uneven = grey(render(plain_scene(uneven_light=0.6), digits).image)
    corners = [uneven[:30, :30].mean(), uneven[:30, -30:].mean(), uneven[-30:, :30].mean(), uneven[-30:, -30:].mean()]
    assert np.ptp(corners) > 40


# ---- noise images and the benchmark's tables -------------------------------------


def test_noise_images_cover_every_kind_and_size_and_repeat():
    images = noise_images(seed=0)
    assert len(images) == len(NOISE_KINDS) * len(NOISE_SIZES)
    sizes = {(im.shape[1], im.shape[0]) for _, im in images}
    assert sizes == set(NOISE_SIZES) and min(sizes) == (40, 40) and max(sizes) == (640, 480)
    assert all(im.dtype == np.uint8 and im.ndim == 3 and im.std() > 3 for _, im in images)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(images, noise_images(seed=0)))


def test_reliability_table_counts_readings_per_confidence_bin():
    table = reliability_table({"set": ([0.1, 0.95, 0.96, 0.99, 0.999, float("nan")],
                                             [False, True, False, True, True, False])})
    assert "| < 0.5 | 1 | 0.0% |" in table
    assert "| 0.9 - 0.97 | 2 | 50.0% |" in table
    assert "| >= 0.97 | 2 | 100.0% |" in table
    assert "| **>= 0.9** | 4 | 75.0% |" in table
    assert "| 0.5 - 0.8 | 0 | - |" in table
