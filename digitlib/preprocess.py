"""Image stages from encoded bytes to a clean binary ink mask.

Each stage is a small pure function on numpy arrays. Conventions: ``bgr`` is
uint8 (H, W, 3); ``grey`` is uint8 (H, W); ``ink`` is uint8 (H, W) with ink
bright (255) on a black background, whatever the photo's polarity; masks are
bool (H, W).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

# OpenCV refuses to decode images above this many pixels (decompression bombs).
# It reads the variable when cv2 is first imported, hence before the import.
MAX_DECODE_PIXELS = 120_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_DECODE_PIXELS))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

MAX_FILE_BYTES = 50 * 1024 * 1024
SUPPORTED_FORMATS = "PNG, JPEG, BMP, TIFF or WebP"


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------


@dataclass
class ImageHeader:
    width: int
    height: int
    format: str
    orientation: int  # EXIF orientation tag, 1 = upright


def read_header(data: bytes) -> ImageHeader:
    """Size, format and EXIF orientation without decoding the pixels.

    Raises ValueError when ``data`` is not an image in a supported format.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            fmt = im.format or "?"
            try:
                orientation = int(im.getexif().get(0x0112, 1))
            except Exception:  # a broken EXIF block is no reason to refuse the photo
                orientation = 1
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ValueError(f"not a readable image (expected {SUPPORTED_FORMATS})") from None
    except Image.DecompressionBombError:
        raise ValueError("image is too large to decode safely") from None
    if fmt not in ("PNG", "JPEG", "MPO", "BMP", "TIFF", "WEBP"):
        raise ValueError(f"unsupported image format {fmt} (expected {SUPPORTED_FORMATS})")
    if width < 1 or height < 1:
        raise ValueError("image has no pixels")
    return ImageHeader(width, height, fmt, orientation)


def apply_exif_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip an array so that it appears upright, per the EXIF orientation tag (1-8)."""
    ops = {
        2: lambda a: cv2.flip(a, 1),
        3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
        4: lambda a: cv2.flip(a, 0),
        5: lambda a: cv2.flip(cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE), 1),
        6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
        7: lambda a: cv2.flip(cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE), 1),
        8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
    }
    return ops[orientation](img) if orientation in ops else img


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Any decoded array -> BGR uint8 (H, W, 3).

    Accepts grey (H, W), (H, W, 1), grey+alpha (H, W, 2), BGR, BGRA; uint8,
    uint16, other integer types or floats (0..1 when max <= 1). Alpha is composited
    on white paper.
    """
    if not isinstance(img, np.ndarray):
        raise ValueError(f"expected an image array, not {type(img).__name__}")
    if img.ndim not in (2, 3) or img.size == 0 or min(img.shape[:2]) < 1:
        raise ValueError(f"not an image array: shape {img.shape}")
    if img.ndim == 3 and img.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"an image has 1, 2, 3 or 4 channels, not {img.shape[2]}")
    img = _to_uint8(img)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    channels = img.shape[2]
    if channels == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR)
    if channels == 2:
        colour, alpha = cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR), img[:, :, 1]
    elif channels == 3:
        return np.ascontiguousarray(img)
    else:
        colour, alpha = img[:, :, :3], img[:, :, 3]
    a = alpha.astype(np.float32)[:, :, None] / 255.0
    return (colour.astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.bool_:
        return img.astype(np.uint8) * 255
    if np.issubdtype(img.dtype, np.floating):
        finite = np.nan_to_num(img.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = 1.0 if finite.size and float(finite.max()) <= 1.0 else 255.0
        return np.clip(finite * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    if np.issubdtype(img.dtype, np.integer):
        info = np.iinfo(img.dtype)
        scaled = (img.astype(np.float64) - info.min) / (info.max - info.min) * 255.0
        return scaled.astype(np.uint8)
    raise ValueError(f"unsupported pixel type {img.dtype}")


def decode_image(data: bytes, max_pixels: int = MAX_DECODE_PIXELS) -> tuple[np.ndarray, list[str]]:
    """Encoded bytes -> (BGR uint8 upright image, notes).

    EXIF orientation is applied, alpha composited on white, 16-bit reduced to
    8-bit. The header is checked before the pixels are decoded, so a small file
    that would expand to a huge image is refused (or, for JPEG, decoded at a
    reduced size). Raises ValueError with a readable message on bad input.
    """
    if not data:
        raise ValueError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    header = read_header(data)
    notes: list[str] = []
    pixels = header.width * header.height
    flags = cv2.IMREAD_UNCHANGED
    if pixels > max_pixels:
        if header.format not in ("JPEG", "MPO"):
            raise ValueError(
                f"the image is {header.width}x{header.height} pixels, more than the "
                f"{max_pixels // 1_000_000} megapixel limit"
            )
        # JPEG decodes at 1/2, 1/4 or 1/8 size directly, in bounded memory.
        for factor, reduced in ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4),
                                (8, cv2.IMREAD_REDUCED_COLOR_8)):
            if pixels / factor**2 <= max_pixels:
                flags = reduced | cv2.IMREAD_IGNORE_ORIENTATION
                notes.append(f"The {header.width}x{header.height} photo was decoded at 1/{factor} size.")
                break
        else:
            raise ValueError(f"the image is {header.width}x{header.height} pixels, too large to read")
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        raise ValueError(f"the image could not be decoded ({str(exc).strip().splitlines()[-1][:100]})") from None
    if img is None or img.size == 0:
        raise ValueError("the image is truncated or corrupt and could not be decoded")
    img = to_bgr8(img)
    return apply_exif_orientation(img, header.orientation), notes


def load_image(image) -> tuple[np.ndarray, list[str]]:
    """A path, bytes or numpy array -> (BGR uint8 image, notes). ValueError on bad input."""
    if isinstance(image, np.ndarray):
        return to_bgr8(image), []
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image))
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        if not os.path.isfile(path):
            raise ValueError(f"no such file: {path}")
        if os.path.getsize(path) > MAX_FILE_BYTES:
            raise ValueError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        with open(path, "rb") as f:
            return decode_image(f.read())
    if hasattr(image, "read"):  # file-like, e.g. Streamlit's UploadedFile
        return decode_image(image.read())
    raise ValueError(f"cannot read an image from a {type(image).__name__}")


# ---------------------------------------------------------------------------
# Size, grey, illumination, polarity
# ---------------------------------------------------------------------------


def working_scale(height: int, width: int, max_side: int, min_side: int = 320) -> float:
    """The factor that brings the image to a working size.

    Large photos are shrunk so the longer side is ``max_side`` (time and memory
    stay bounded); tiny images are enlarged so the longer side is at least
    ``min_side`` (morphology needs a few pixels per stroke).
    """
    longest = max(height, width)
    if longest > max_side:
        return max_side / longest
    if longest < min_side:
        return min(8.0, min_side / longest)
    return 1.0


def resize_by(img: np.ndarray, scale: float) -> np.ndarray:
    """Resize by ``scale`` (area averaging to shrink, cubic to enlarge)."""
    if scale == 1.0:
        return img
    h, w = img.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def to_grey(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> grey uint8 (H, W)."""
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def estimate_background(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness at every pixel, uint8 (H, W).

    A median over a window much larger than a pen stroke ignores the writing
    (dark or light: the median does not care) and keeps the slow changes of
    light: gradients, vignetting, soft shadows. Computed on a small copy for speed.
    """
    h, w = grey.shape
    small_side = 96
    f = small_side / max(h, w)
    small = cv2.resize(grey, (max(3, round(w * f)), max(3, round(h * f))), interpolation=cv2.INTER_AREA)
    k = max(3, (min(small.shape) // 3) | 1)
    k = min(k, 31)
    bg = cv2.medianBlur(small, k)
    bg = cv2.GaussianBlur(bg, (0, 0), k / 4)
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)


def detect_polarity(grey: np.ndarray, background: np.ndarray) -> str:
    """"dark" for dark ink on light paper, "light" for light strokes on a dark ground.

    Whichever side of the background holds more strong deviation is the ink.
    """
    diff = grey.astype(np.int16) - background.astype(np.int16)
    darker = np.clip(-diff - 20, 0, None).sum()
    lighter = np.clip(diff - 20, 0, None).sum()
    # Dark ink on paper is by far the common case: only a clear majority flips it.
    return "light" if lighter > 2 * darker else "dark"


def ink_map(grey: np.ndarray, background: np.ndarray, polarity: str) -> np.ndarray:
    """Flatten the illumination: ink strength uint8 (H, W), 255 = full ink, 0 = paper.

    Dark ink: (paper - pixel) / paper, i.e. the grey image divided by the
    paper's brightness, so a shadowed word is as strong as a lit one. Light ink:
    (pixel - ground) / (255 - ground).
    """
    g = grey.astype(np.float32)
    b = background.astype(np.float32)
    # The floor on the divisor keeps very dark paper (or a bright ground) from
    # turning sensor noise into strong "ink".
    if polarity == "dark":
        ink = (b - g) / np.maximum(b, 64.0)
    else:
        ink = (g - b) / np.maximum(255.0 - b, 64.0)
    return np.clip(ink * 255.0, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# Binarisation and clean-up
# ---------------------------------------------------------------------------

MIN_INK_CONTRAST = 60  # on the 0-255 ink scale: weaker marks are paper texture or noise


def binarise(ink: np.ndarray) -> np.ndarray:
    """Ink strength uint8 (H, W) -> ink mask bool (H, W), by hysteresis.

    Strong pixels (above Otsu's threshold, never below MIN_INK_CONTRAST nor
    within eight noise deviations of the paper) seed the
    strokes; weaker pixels (above half of it) join them only where they touch a
    seed, which keeps faint stroke ends without letting in paper texture.
    """
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Paper noise level (robust: the ink is a minority of pixels); ink must stand well above it.
    median = float(np.median(ink))
    noise = 1.4826 * float(np.median(np.abs(ink.astype(np.float32) - median)))
    high = max(float(otsu), MIN_INK_CONTRAST, median + 8 * noise)
    strong = ink >= high
    weak = ink >= high * 0.5
    n, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    if n <= 1:
        return strong
    seeded = np.zeros(n, dtype=bool)
    seeded[np.unique(labels[strong])] = True
    seeded[0] = False
    return seeded[labels]


def remove_long_lines(mask: np.ndarray, min_width: float, min_height: float) -> tuple[np.ndarray, np.ndarray]:
    """Remove horizontal lines at least ``min_width`` px long and vertical ones at least ``min_height``.

    Ruled and grid paper, table borders, underlines. Strokes of digits that
    crossed a removed line are bridged again across it. Returns (cleaned mask,
    mask of the removed lines), both bool (H, W).
    """
    m = mask.astype(np.uint8)
    h_len, v_len = max(3, int(min_width)), max(3, int(min_height))
    horiz = _thin_runs(cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (h_len, 1))), 1)
    vert = _thin_runs(cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, v_len))), 0)
    lines = (horiz | vert).astype(bool)
    if not lines.any():
        return mask.copy(), lines
    cleaned = mask & ~lines
    # Where a stroke crossed a line, ink lies on both sides of the removed band:
    # close across the band (only there) to join the stroke again.
    k = _line_thickness(lines) + 2
    across_h = cv2.morphologyEx(cleaned.astype(np.uint8), cv2.MORPH_CLOSE,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (1, k))).astype(bool)
    across_v = cv2.morphologyEx(cleaned.astype(np.uint8), cv2.MORPH_CLOSE,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1))).astype(bool)
    restored = (horiz.astype(bool) & across_h) | (vert.astype(bool) & across_v)
    return cleaned | restored, lines & ~restored


def _thin_runs(runs: np.ndarray, across_axis: int) -> np.ndarray:
    """Keep the components of ``runs`` (uint8 mask) that are thin like a drawn line.

    ``across_axis`` is the axis along which thickness is measured (1: horizontal
    lines, measured in rows; 0: vertical lines, measured in columns). A stroke
    of a large bold digit is long too, but far thicker for its length.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    if n <= 1:
        return runs
    length = stats[:, cv2.CC_STAT_WIDTH] if across_axis == 1 else stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    thickness = area / np.maximum(length, 1)
    keep = thickness <= np.maximum(4.0, 0.04 * length)
    keep[0] = False
    return keep[labels].astype(np.uint8)


def _line_thickness(lines: np.ndarray) -> int:
    dist = cv2.distanceTransform(lines.astype(np.uint8), cv2.DIST_L2, 3)
    return max(1, int(round(2 * float(dist.max())))) if dist.size else 1


def remove_specks(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Drop connected components smaller than ``min_area`` pixels; bool (H, W) -> bool (H, W)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    return keep[labels]


def remove_border_blobs(mask: np.ndarray) -> np.ndarray:
    """Drop components that touch the border and look like the paper's edge or the desk.

    A digit cut by the frame is kept; a component that spans most of a side
    (an edge, a frame, a table line) or that fills a large solid area is not a digit.
    """
    h, w = mask.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.ones(n, dtype=bool)
    keep[0] = False
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        if not touches:
            continue
        spans = bw > 0.8 * w or bh > 0.9 * h
        solid = area > 0.2 * h * w
        if spans or solid:
            keep[i] = False
    return keep[labels]


# ---------------------------------------------------------------------------
# Drawing, for the stage images
# ---------------------------------------------------------------------------

BOX_COLOURS = [(0, 170, 80), (30, 110, 230), (220, 120, 0), (170, 40, 200)]


def draw_boxes(rgb: np.ndarray, digits, scale: float = 1.0) -> np.ndarray:
    """Copy of an RGB image with each digit's box and label drawn on it.

    ``digits`` are objects with ``box`` (x, y, w, h in original pixels, divided
    by ``scale`` relative to ``rgb``), ``label`` and ``confidence``; uncertain
    ones (confidence < 0.8) are drawn in orange-red.
    """
    out = rgb.copy()
    thickness = max(1, round(max(out.shape[:2]) / 400))
    font = max(0.4, max(out.shape[:2]) / 900)
    for d in digits:
        x, y, w, h = (round(v * scale) for v in d.box)
        colour = BOX_COLOURS[d.row % len(BOX_COLOURS)] if d.confidence >= 0.8 else (230, 60, 20)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        label = str(d.label)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, thickness)
        ty = y - 3 if y - th - 6 >= 0 else y + h + th + 3
        cv2.rectangle(out, (x, ty - th - 3), (x + tw + 4, ty + base - 1), colour, -1)
        cv2.putText(out, label, (x + 2, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255),
                    thickness, cv2.LINE_AA)
    return out


def mask_to_image(mask: np.ndarray) -> np.ndarray:
    """bool mask -> uint8 image, ink white on black (for display)."""
    return mask.astype(np.uint8) * 255
