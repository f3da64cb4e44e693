"""Image stages from encoded bytes to a clean binary ink mask.

Each stage is a small pure function on numpy arrays. Conventions: ``bgr`` is
uint8 (H, W, 3); ``grey`` is uint8 (H, W); ``ink`` is uint8 (H, W) with ink
bright (255) on a black background, whatever the photo's polarity; masks are
bool (H, W).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass

# Limits on what an untrusted file may cost to decode (see decode_image).
#: The pixel limit: larger images are refused before their pixels are decoded. Baseline
#: JPEGs up to MAX_JPEG_PIXELS are decoded at 1/2, 1/4 or 1/8 size instead.
MAX_DECODE_PIXELS = 50_000_000
#: Largest full-size JPEG that is decoded at a reduced size (baseline, single-scan only);
#: below Pillow's own hard limit (2 x PIL.Image.MAX_IMAGE_PIXELS, 179 MP by default).
MAX_JPEG_PIXELS = 3 * MAX_DECODE_PIXELS
#: The most memory the decoder may need for one image (its output array and, for
#: progressive JPEGs and single-strip TIFFs, its whole-image working buffer).
MAX_DECODE_BYTES = 384 * 1024 * 1024
#: Largest encoded file read from a path, bytes or a file object.
MAX_FILE_BYTES = 50 * 1024 * 1024
SUPPORTED_FORMATS = "PNG, JPEG, BMP, TIFF or WebP"
TRUNCATED = "the image is truncated or corrupt and could not be decoded"


def _limit_opencv_pixels() -> None:
    """OpenCV's own limit (a second line behind the header checks below). OpenCV reads the
    variable once, when cv2 is first imported, hence this runs before the import; a
    stricter value already in the environment is kept."""
    try:
        current = int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", ""))
    except ValueError:
        current = 0
    if not 0 < current <= MAX_DECODE_PIXELS:
        os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(MAX_DECODE_PIXELS)


_limit_opencv_pixels()

import cv2  # noqa: E402
import numpy as np  # noqa: E402

# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------

_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")  # the only parsers Pillow may use on uploads


@dataclass
class ImageHeader:
    width: int
    height: int
    format: str
    orientation: int  # EXIF orientation tag, 1 = upright
    bytes_per_pixel: int = 4  # what the decoder's output needs per pixel, at most
    buffer_bytes: int = 0  # a working buffer the decoder needs besides its output (TIFF strip)


def _megapixels(n: int) -> str:
    return f"{n / 1_000_000:.0f} megapixel"


def read_header(data: bytes) -> ImageHeader:
    """Size, format, EXIF orientation and decoding cost without decoding the pixels.

    Only the PNG, JPEG, BMP, TIFF and WebP parsers are tried. Raises ValueError when
    ``data`` is not an image in a supported format.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as im:
            width, height = im.size
            fmt = im.format or "?"
            orientation = 1
            # Pillow's PNG reader decodes every pixel to look for EXIF after the image data:
            # only EXIF found before it is used, so nothing is decoded here.
            if fmt != "PNG" or "exif" in im.info:
                try:
                    orientation = int(im.getexif().get(0x0112, 1))
                except Exception:  # a broken EXIF block is no reason to refuse the photo
                    orientation = 1
            tiff = _tiff_layout(im) if fmt == "TIFF" else None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own limit (the warning only arrives as an exception where warnings are errors).
        raise ValueError(
            f"the image has too many pixels to decode safely (the limit is {_megapixels(MAX_DECODE_PIXELS)}s; "
            "save a smaller copy)"
        ) from None
    except Exception:  # noqa: BLE001 - whatever a parser raises on hostile bytes
        raise ValueError(f"not a readable image (expected {SUPPORTED_FORMATS})") from None
    if fmt not in (*_FORMATS, "MPO"):
        raise ValueError(f"unsupported image format {fmt} (expected {SUPPORTED_FORMATS})")
    if width < 1 or height < 1:
        raise ValueError("image has no pixels")
    header = ImageHeader(width, height, fmt, orientation)
    if fmt == "PNG" and not _png_chunks_fit(data):
        raise ValueError(TRUNCATED)
    if fmt == "PNG" and data[12:16] == b"IHDR" and len(data) >= 26:
        depth, colour_type = data[24], data[25]
        idat = data.find(b"IDAT")
        alpha = colour_type in (4, 6) or b"tRNS" in data[:idat if idat > 0 else len(data)]
        channels = 1 if colour_type == 0 and not alpha else 4 if alpha else 3
        # OpenCV's PNG reader holds the decoded rows once more besides its output.
        header.bytes_per_pixel = (2 if depth > 8 else 1) * channels
        header.buffer_bytes = width * height * header.bytes_per_pixel
    elif fmt == "WEBP":
        header.bytes_per_pixel = 8  # an RGBA canvas, then the output
    elif tiff is not None:
        header.bytes_per_pixel, strip_rows = tiff
        header.buffer_bytes = min(strip_rows, height) * width * max(4, header.bytes_per_pixel)
    return header


def _png_chunks_fit(data: bytes) -> bool:
    """Whether every chunk of a PNG, up to IEND or the end of ``data``, lies within
    the file. OpenCV spends seconds on a chunk whose length field claims gigabytes
    (one flipped bit does it) before it gives up on the file as truncated."""
    at = 8  # past the signature
    while at + 8 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        if at + 12 + length > len(data):  # length, type, data, CRC
            return False
        if data[at + 4:at + 8] == b"IEND":
            return True
        at += 12 + length
    return True  # ends between chunks: the decoder reports what is missing


def _tiff_layout(im) -> tuple[int, int]:
    """(output bytes per pixel, rows per strip or tile) of a TIFF, from its tags; generous."""
    tags = im.tag_v2
    bits = tags.get(258, 8)
    bits = max(bits) if isinstance(bits, tuple) and bits else bits
    samples = int(tags.get(277, 1) or 1)
    per_sample = max(1, math.ceil(int(bits) / 8))
    rows = int(tags.get(323, 0) or 0) or int(tags.get(278, 0) or 0) or im.size[1]  # tile length or strip rows
    return per_sample * (samples if samples in (1, 3) else 4), max(1, rows)


@dataclass
class _JpegLayout:
    channels: int
    bytes_per_sample: int
    coefficient_bytes_per_pixel: float  # the DCT coefficients of the whole image, per pixel
    whole_image_buffer: bool  # progressive, lossless or multi-scan: all coefficients are held at once


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_layout(data: bytes) -> _JpegLayout | None:
    """Walk a JPEG's markers up to its first scan: components, sampling, precision, and
    whether the decoder must buffer every coefficient of the image (progressive or
    several scans), which costs memory in proportion to the *full* size even when
    decoding at 1/8. None when the markers cannot be followed."""
    i, n, frame = 2, len(data), None
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        if marker == 0xD9:
            return None
        length = int.from_bytes(data[i + 2:i + 4], "big")
        segment = data[i + 4:i + 2 + length]
        if length < 2 or len(segment) < length - 2:
            return None
        if marker in _JPEG_SOF:
            if frame is not None or len(segment) < 6:
                return None
            count = segment[5]
            sampling = [segment[6 + 3 * k + 1] for k in range(count) if 6 + 3 * k + 1 < len(segment)]
            if count < 1 or len(sampling) != count:
                return None
            h = [max(1, s >> 4) for s in sampling]
            v = [max(1, s & 15) for s in sampling]
            blocks = sum(a * b for a, b in zip(h, v)) / (max(h) * max(v))
            frame = (marker, segment[0], count, 2.0 * blocks)  # 64 int16 coefficients per 8x8 block
        elif marker == 0xDA:  # start of the first scan
            if frame is None or not segment:
                return None
            sof, precision, count, coefficients = frame
            whole = sof not in (0xC0, 0xC1) or segment[0] < count
            if not whole:  # another scan before the end of the image: a multi-scan sequential file
                after = i + 2 + length
                next_scan, end = data.find(b"\xff\xda", after), data.find(b"\xff\xd9", after)
                whole = next_scan != -1 and (end == -1 or next_scan < end)
            return _JpegLayout(1 if count == 1 else max(3, count), 2 if precision > 8 else 1, coefficients, whole)
        i += 2 + length
    return None


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


_BAND_PIXELS = 1 << 20  # conversions work on bands of rows, so their temporaries stay small


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Any decoded array -> BGR uint8 (H, W, 3).

    Accepts grey (H, W), (H, W, 1), grey+alpha (H, W, 2), BGR, BGRA; uint8,
    uint16, other integer types or floats (0..1 when max <= 1; NaN and infinities
    count as 0). Alpha is composited on white paper. Raises ValueError for anything
    else. Memory: the output plus a few megabytes, whatever the input's type.
    """
    if not isinstance(img, np.ndarray):
        raise ValueError(f"expected an image array, not {type(img).__name__}")
    if img.ndim not in (2, 3) or img.size == 0 or min(img.shape[:2]) < 1:
        raise ValueError(f"not an image array: shape {img.shape}")
    if img.ndim == 3 and img.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"an image has 1, 2, 3 or 4 channels, not {img.shape[2]}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    to_uint8 = _uint8_converter(img)
    h, w = img.shape[:2]
    channels = 1 if img.ndim == 2 else img.shape[2]
    out = np.empty((h, w, 3), np.uint8)
    band = max(1, _BAND_PIXELS // w)
    for y in range(0, h, band):
        rows = to_uint8(img[y:y + band])
        if channels == 1:
            out[y:y + band] = rows[:, :, None]
        elif channels == 3:
            out[y:y + band] = rows
        else:  # alpha on white paper; grey (+ alpha) broadcasts to B, G, R
            colour = rows[:, :, :3] if channels == 4 else rows[:, :, :1]
            a = rows[:, :, channels - 1:].astype(np.float32) / 255.0
            out[y:y + band] = (colour.astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)
    return out


def _uint8_converter(img: np.ndarray):
    """A function that turns bands of rows of ``img`` into uint8 the same way for all
    bands (floats are scaled by the whole image's maximum)."""
    dtype = img.dtype
    if dtype == np.uint8:
        return lambda rows: rows
    if dtype == np.bool_:
        return lambda rows: rows.astype(np.uint8) * 255
    if dtype.kind == "u" and dtype.itemsize == 2:  # 16-bit: keep the high byte
        return lambda rows: (rows >> 8).astype(np.uint8)
    if dtype.kind == "f":
        band = max(1, _BAND_PIXELS // img.shape[1])
        top = 0.0
        for y in range(0, img.shape[0], band):
            top = max(top, float(np.nan_to_num(img[y:y + band].astype(np.float32), nan=0.0, posinf=0.0,
                                               neginf=0.0).max()))
        offset, scale = 0.0, 255.0 if top <= 1.0 else 1.0
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        offset, scale = float(info.min), 255.0 / (float(info.max) - float(info.min))
    else:
        raise ValueError(f"unsupported pixel type {dtype}")

    def convert(rows: np.ndarray) -> np.ndarray:
        values = rows.astype(np.float32)
        np.nan_to_num(values, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        values -= offset
        values *= scale
        values += 0.5
        np.clip(values, 0.0, 255.0, out=values)
        return values.astype(np.uint8)

    return convert


def decode_image(
    data: bytes, max_pixels: int = MAX_DECODE_PIXELS, max_bytes: int = MAX_DECODE_BYTES
) -> tuple[np.ndarray, list[str]]:
    """Encoded bytes -> (BGR uint8 upright image, notes).

    EXIF orientation is applied, alpha composited on white, 16-bit reduced to
    8-bit. The header is read first and the cost of decoding checked before any
    pixel is decoded: more than ``max_pixels`` pixels (baseline JPEGs: decoded at a
    reduced size up to MAX_JPEG_PIXELS) or more than ``max_bytes`` of decoder memory
    (16-bit, float or progressive images) is refused. Raises ValueError with a
    readable message on bad input, never another exception.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"expected the bytes of an image file, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ValueError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    header = read_header(data)
    notes: list[str] = []
    size = f"{header.width}x{header.height}"
    pixels = header.width * header.height
    flags, factor = cv2.IMREAD_UNCHANGED, 1
    jpeg = _jpeg_layout(data) if header.format in ("JPEG", "MPO") else None
    if pixels > max_pixels:
        too_large = f"the image is {size} pixels, more than the {_megapixels(max_pixels)} limit (save a smaller copy)"
        if jpeg is None or jpeg.whole_image_buffer or pixels > max(MAX_JPEG_PIXELS, max_pixels):
            raise ValueError(too_large)
        # A baseline JPEG decodes at 1/2, 1/4 or 1/8 size directly, in bounded memory.
        for factor, reduced in ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4),
                                (8, cv2.IMREAD_REDUCED_COLOR_8)):
            if pixels / factor**2 <= max_pixels:
                flags = reduced | cv2.IMREAD_IGNORE_ORIENTATION
                notes.append(f"The {size} photo was decoded at 1/{factor} size.")
                break
        else:
            raise ValueError(too_large)
    out_w, out_h = -(-header.width // factor), -(-header.height // factor)
    if jpeg is not None:
        cost = out_w * out_h * (3 if factor > 1 else jpeg.channels) * jpeg.bytes_per_sample
        if jpeg.whole_image_buffer:
            cost += int(pixels * jpeg.coefficient_bytes_per_pixel)
    elif header.format in ("JPEG", "MPO"):  # markers we cannot follow: assume the worst
        cost = pixels * 8
    else:
        cost = pixels * header.bytes_per_pixel + header.buffer_bytes
    if cost > max_bytes:
        raise ValueError(
            f"the image ({size} pixels, {header.format}) needs about {cost // 2**20} MB to decode, "
            f"more than the {max_bytes // 2**20} MB limit (save a smaller or 8-bit copy)"
        )
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        raise ValueError(f"the image could not be decoded ({str(exc).strip().splitlines()[-1][:100]})") from None
    if img is None or img.size == 0:
        raise ValueError(TRUNCATED)
    if img.shape[0] > out_h or img.shape[1] > out_w:
        raise ValueError(f"the image decodes to {img.shape[1]}x{img.shape[0]} pixels, not the {size} of its header")
    img = to_bgr8(img)
    return apply_exif_orientation(img, header.orientation), notes


def load_image(image) -> tuple[np.ndarray, list[str]]:
    """A path, bytes or numpy array -> (BGR uint8 image, notes). ValueError on bad input."""
    if isinstance(image, np.ndarray):
        return to_bgr8(image), []
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(image)
    too_big = f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        try:
            if not os.path.isfile(path):
                raise ValueError(f"no such file: {path}")
            if os.path.getsize(path) > MAX_FILE_BYTES:
                raise ValueError(too_big)
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ValueError(f"cannot read {path} ({exc.strerror or type(exc).__name__})") from None
        except TypeError:  # a bytes path with a NUL byte and the like
            raise ValueError(f"not a usable path: {path!r}") from None
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(too_big)
        return decode_image(data)
    if hasattr(image, "read"):  # file-like, e.g. Streamlit's UploadedFile
        try:
            data = image.read(MAX_FILE_BYTES + 1)
        except Exception as exc:  # noqa: BLE001 - a file object of any kind
            raise ValueError(f"cannot read the file ({type(exc).__name__})") from None
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValueError(f"the file gave {type(data).__name__}, not bytes: open it in binary mode")
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(too_big)
        return decode_image(data)
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
    # In float: OpenCV's bit-exact uint8 Gaussian is six times slower at this size.
    bg = cv2.GaussianBlur(bg.astype(np.float32), (0, 0), k / 4)
    bg = np.clip(bg + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)


def detect_polarity(grey: np.ndarray, background: np.ndarray) -> str:
    """"dark" for dark ink on light paper, "light" for light strokes on a dark ground.

    Whichever side of the background holds more strong deviation is the ink.
    """
    darker = _excess_over(cv2.subtract(background, grey), 20)  # saturating: negatives are 0
    lighter = _excess_over(cv2.subtract(grey, background), 20)
    # Dark ink on paper is by far the common case: only a clear majority flips it.
    return "light" if lighter > 2 * darker else "dark"


def _excess_over(values: np.ndarray, floor: int) -> float:
    """Sum of max(0, v - floor) over uint8 (H, W) ``values``.

    Thresholding and counting, not ``cv2.subtract(values, floor)``: OpenCV's
    array-and-scalar arithmetic is about fifty times slower than its array-and-array.
    """
    above = cv2.threshold(values, floor, 0, cv2.THRESH_TOZERO)[1]
    return cv2.sumElems(above)[0] - floor * cv2.countNonZero(above)


def ink_map(grey: np.ndarray, background: np.ndarray, polarity: str) -> np.ndarray:
    """Flatten the illumination: ink strength uint8 (H, W), 255 = full ink, 0 = paper.

    Dark ink: (paper - pixel) / paper, i.e. the grey image divided by the
    paper's brightness, so a shadowed word is as strong as a lit one. Light ink:
    (pixel - ground) / (255 - ground).
    """
    # Saturating uint8 arithmetic: negative differences (paper brighter than its
    # estimate) become 0. The floor on the divisor keeps very dark paper (or a
    # bright ground) from turning sensor noise into strong "ink".
    if polarity == "dark":
        diff, paper = cv2.subtract(background, grey), background
    else:
        diff, paper = cv2.subtract(grey, background), cv2.bitwise_not(background)
    # np.maximum, not cv2.max: OpenCV's array-and-scalar arithmetic is slow (see _excess_over).
    return cv2.divide(diff, np.maximum(paper, np.uint8(64)), scale=255.0)


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
    return binarise_at(ink, ink_threshold(ink))


def ink_threshold(ink: np.ndarray) -> float:
    """The ink strength (0-255) that seeds strokes in ``binarise``, from uint8 (H, W) ``ink``:
    Otsu's threshold, never below MIN_INK_CONTRAST nor within eight noise deviations of the paper."""
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Paper noise level (robust: the ink is a minority of pixels); ink must stand well above it.
    # Statistics of the paper: a sparse sample is plenty, and a histogram of uint8
    # is all a median needs.
    counts = np.bincount(ink[::3, ::3].ravel(), minlength=256)
    values = np.arange(256, dtype=np.float64)
    median = quantile_of_counts(values, counts, 0.5)
    deviation = np.abs(values - median)
    order = np.argsort(deviation, kind="stable")
    noise = 1.4826 * quantile_of_counts(deviation[order], counts[order], 0.5)
    return max(float(otsu), MIN_INK_CONTRAST, median + 8 * noise)


def per_label(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``values[labels]``: a per-component table (n,) spread over a label image int32 (H, W).

    ``np.take`` does what fancy indexing does here in half the time.
    """
    return np.take(values, labels)


def quantile_of_counts(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """``np.quantile(sample, q)`` of a sample given as sorted float (k,) ``values``, each
    repeated ``counts`` (int (k,), sum >= 1) times: a histogram is all it needs.

    numpy's default (linear) rule: the value at rank q * (n - 1), interpolated
    between the two nearest ranks (the median of an even count is their mean).
    """
    ends = np.cumsum(counts)
    at = q * (int(ends[-1]) - 1)
    below = math.floor(at)
    frac = at - below
    lo, hi = np.searchsorted(ends, [below, below + 1 if frac else below], side="right")
    return float(values[lo]) + (float(values[hi]) - float(values[lo])) * frac


def binarise_at(ink: np.ndarray, high: float) -> np.ndarray:
    """``binarise`` with its seed threshold ``high`` given: uint8 (H, W) -> bool (H, W)."""
    strong = ink >= high
    n, labels = cv2.connectedComponents((ink >= high * 0.5).view(np.uint8), connectivity=8)
    if n <= 1:
        return strong
    return per_label(seeded_components(labels, n, strong), labels)


def seeded_components(labels: np.ndarray, n: int, strong: np.ndarray) -> np.ndarray:
    """Which of the ``n`` components of the label image int32 (H, W) hold a
    ``strong`` (bool (H, W)) pixel: bool (n,), the background (0) never. Hysteresis."""
    seeded = np.zeros(n, dtype=bool)
    seeded[labels[strong]] = True
    seeded[0] = False
    return seeded


#: Steepest tilt, in degrees off horizontal or vertical, of the ruled and grid
#: lines that remove_long_lines finds: perspective in a hand-held photo of lined
#: paper tilts them by a few degrees, and a page may lie a little askew.
MAX_LINE_TILT_DEG = 15.0
_HOUGH_STEP = math.radians(0.5)  # fine enough that a 1 px line stays within a pixel of its guess over ~230 px
_HOUGH_COLUMN_STEP = 3
_MAX_LINE_GUESSES = 200  # Hough peaks checked; a page has a few dozen lines at most
_GUESS_SLACK = 3  # px either side of a Hough guess where its line's pixels are looked for


def remove_long_lines(mask: np.ndarray, min_width: float, min_height: float) -> tuple[np.ndarray, np.ndarray]:
    """Remove straight lines (within MAX_LINE_TILT_DEG of horizontal or vertical)
    that span at least ``min_width`` px across or ``min_height`` px down.

    Ruled and grid paper, table borders, underlines. A line is a straight run of
    thin ink (thin: no thicker than max(4 px, 4% of the length asked for)) that
    is unbroken but for gaps of a few px; a digit's stroke is neither that long
    nor that straight. Strokes of digits that crossed a removed line are bridged
    again across it. ``mask`` is bool (H, W), ink True. Returns (cleaned mask,
    mask of the removed lines), both bool (H, W). Callers that already hold the
    component stats skip the call when no component is that long.
    """
    horiz, h_band, vert, v_band, _ = _line_bands(mask.astype(np.uint8), min_width, min_height)
    return _cut_lines(mask, horiz, h_band, vert, v_band)


#: Faint grid and ruled lines are looked for among the pixels at least this
#: fraction of binarise's seed threshold: a line too faint to binarise whole
#: (only dashes and crossings of it reach the threshold) is nearly unbroken there.
FAINT_LINE_LEVEL = 0.25
#: Faint ink (above FAINT_LINE_LEVEL) at least this many times the binarised ink
#: is worth a search for faint lines; a clean page has ~1.1 times (soft stroke edges).
FAINT_INK_EXCESS = 1.5
#: Fewest faint lines that make a ruling or grid: one long straight faint stroke
#: alone may be a digit's (a "1" filling a tight crop); a page has many lines.
MIN_FAINT_LINES = 3
#: Most density of faint ink beside the lines found, relative to that on them:
#: denser, they are chance alignments in grain or noise, not lines.
FAINT_LINE_CONTRAST = 0.4
#: Share of a component's pixels on faint lines that makes it a fragment of them.
FAINT_FRAGMENT_ON_LINES = 0.7


def remove_faint_lines(mask: np.ndarray, ink: np.ndarray, high: float, min_width: float,
                       min_height: float) -> np.ndarray:
    """Remove from ``mask`` the fragments of lines too faint to binarise whole.

    ``mask`` is binarise's bool (H, W) ink mask, ``ink`` the uint8 (H, W) ink map it
    came from and ``high`` its seed threshold (ink_threshold). The lines (as in
    remove_long_lines: straight, thin, within MAX_LINE_TILT_DEG of horizontal or
    vertical, at least ``min_width`` px across or ``min_height`` px down) are found
    where they are still whole, in the ink above FAINT_LINE_LEVEL * ``high``; at
    least MIN_FAINT_LINES of them, standing out of the ink beside them, or nothing
    is removed. On the lines only ink above ``high`` stays (strokes crossing them),
    so binarising's hysteresis cannot follow a line out of a digit. Then the
    components of ``mask`` lying mostly on the lines (but for long ones,
    remove_long_lines' work) are removed; digits crossing or touching a line keep
    most of their ink off it and stay whole. Returns the cleaned mask, bool (H, W):
    ``mask`` itself when nothing is removed.
    """
    _, low = cv2.threshold(ink, math.ceil(FAINT_LINE_LEVEL * high) - 1, 1, cv2.THRESH_BINARY)
    # The cheap test first: without faint lines (or texture) nearly all the faint
    # ink is the binarised strokes and their soft edges, and the search is skipped.
    if cv2.countNonZero(low) < FAINT_INK_EXCESS * cv2.countNonZero(mask.view(np.uint8)):
        return mask
    horiz, h_band, vert, v_band, count = _line_bands(low, min_width, min_height)
    if count < MIN_FAINT_LINES:
        return mask
    band = horiz | vert
    if not _stand_out(low, band, max(h_band, v_band)):
        return mask
    # Binarising grew strokes along the faint lines they touch (the lines are above
    # its weak threshold) into crosses and ladders that read as digits: the lines
    # may only keep strong ink, and what that leaves unseeded goes too.
    strong = ink >= high
    mask = mask & ~(band & ~strong)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    # The faint lines' fragments (dashes, crossings) lie on them, nearly whole;
    # a digit, even one crossing or touching a line, has most of its ink off them.
    on = np.bincount(labels[band], minlength=n)
    fragment = on >= FAINT_FRAGMENT_ON_LINES * stats[:, cv2.CC_STAT_AREA]
    # A line that binarised whole (maybe with the digits it touches) is long:
    # remove_long_lines takes it apart without losing the digits.
    fragment &= (stats[:, cv2.CC_STAT_WIDTH] < min_width) & (stats[:, cv2.CC_STAT_HEIGHT] < min_height)
    junk = fragment | ~seeded_components(labels, n, strong)
    junk[0] = False
    return mask & ~per_label(junk, labels)


def _stand_out(low: np.ndarray, band: np.ndarray, width: int) -> bool:
    """Whether the lines in ``band`` (bool (H, W), bands at most ``width`` px wide) stand
    out of ``low`` (uint8 0/1 (H, W)): much denser on them than beside them. Noise
    and grain too dense to threshold leave straight runs of pixels anywhere."""
    beside = cv2.dilate(band.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (2 * width + 1,) * 2))
    beside = beside.view(bool) & ~band
    on_lines = cv2.countNonZero(low & band) / max(1, cv2.countNonZero(band.view(np.uint8)))
    off_lines = cv2.countNonZero(low & beside) / max(1, cv2.countNonZero(beside.view(np.uint8)))
    return off_lines < FAINT_LINE_CONTRAST * on_lines


def _line_bands(m: np.ndarray, min_width: float, min_height: float) -> tuple[np.ndarray, int, np.ndarray, int, int]:
    """The bands of the near-horizontal lines of ``m`` (uint8 0/1 (H, W)) at least
    ``min_width`` px long and of its near-vertical ones at least ``min_height`` px
    long: (horizontal bands bool (H, W), widest of them in px, vertical bands bool
    (H, W), widest of them, number of lines found)."""
    horiz, h_band, h_count = _straight_lines(m, max(3, int(min_width)))
    # Vertical lines are horizontal ones of the transposed mask.
    vert, v_band, v_count = _straight_lines(np.ascontiguousarray(m.T), max(3, int(min_height)))
    return horiz, h_band, vert.T, v_band, h_count + v_count


def _cut_lines(mask: np.ndarray, horiz: np.ndarray, h_band: int, vert: np.ndarray,
               v_band: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove from ``mask`` (bool (H, W)) its pixels inside the line bands ``horiz``
    and ``vert`` (bool (H, W), at most ``h_band`` and ``v_band`` px wide), but bridge
    again the strokes that crossed them. Returns (cleaned mask, removed pixels),
    both bool (H, W)."""
    lines = (horiz | vert) & mask
    if not lines.any():
        return mask.copy(), lines
    cleaned = mask & ~lines
    # Where a stroke crossed a line, ink lies on both sides of the removed band:
    # close across the band (only there) to join the stroke again. Closing
    # straight up-down (or left-right) still crosses a tilted band, which is
    # only 1/cos(tilt) times wider that way.
    stretch = 1 / math.cos(math.radians(MAX_LINE_TILT_DEG))
    c8 = cleaned.astype(np.uint8)
    restored = np.zeros_like(mask)
    if h_band:
        k = int(math.ceil(h_band * stretch)) + 2
        restored |= horiz & lines & cv2.morphologyEx(
            c8, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k))).astype(bool)
    if v_band:
        k = int(math.ceil(v_band * stretch)) + 2
        restored |= vert & lines & cv2.morphologyEx(
            c8, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1))).astype(bool)
    return cleaned | restored, lines & ~restored


def _straight_lines(m: np.ndarray, min_len: int) -> tuple[np.ndarray, int, int]:
    """Bands covering the near-horizontal lines of ``m`` (uint8 0/1 (H, W)) at least
    ``min_len`` px long: bool (H, W), wider than the lines by a pixel each side,
    the widest band's width in px (0: no line) and the number of lines drawn.

    Hough peaks on the thin pixels guess each line's position and angle; the
    ink along each guess says where the line really runs (its unbroken
    stretches); a fit to its thin pixels there places it to a fraction of a
    pixel, and the runs of ink across it give its thickness.
    """
    h, w = m.shape
    band = np.zeros((h, w), np.uint8)
    tilt = math.radians(MAX_LINE_TILT_DEG)
    if w < min_len * math.cos(tilt):
        return band.astype(bool), 0, 0
    max_thick = max(4, int(0.04 * min_len))
    # Pixels of short vertical runs: a line's own, not those of upright strokes
    # or of lines crossing it, which would pull the fit towards them.
    upright = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max_thick + 1)))
    thin = cv2.subtract(m, upright)
    # A 1 px line tilted between two Hough angles spreads its votes over a few
    # rho bins beyond ~1/sin(step/2) px: ask for less and let the checks below decide.
    votes = int(0.4 * min(min_len, 1.0 / math.sin(_HOUGH_STEP / 2)) / _HOUGH_COLUMN_STEP)
    # Every few columns are plenty to find a line that spans hundreds, and the
    # Hough transform costs in proportion to the pixels it is given.
    sparse = np.zeros_like(thin)
    sparse[:, ::_HOUGH_COLUMN_STEP] = thin[:, ::_HOUGH_COLUMN_STEP]
    if cv2.countNonZero(sparse) < votes:
        return band.astype(bool), 0, 0
    found = cv2.HoughLinesWithAccumulator(sparse, 1, _HOUGH_STEP, votes,
                                          min_theta=math.pi / 2 - tilt, max_theta=math.pi / 2 + tilt)
    if found is None:
        return band.astype(bool), 0, 0
    rho, theta, score = (found[:_MAX_LINE_GUESSES, 0, j].astype(np.float64) for j in range(3))
    xs = np.arange(w)
    # A line also raises weaker peaks next to its own (a thick line; a tilt between
    # two steps): the same line if they cross the middle column at about the same height.
    mid = (rho - w / 2 * np.cos(theta)) / np.sin(theta)
    same = (np.abs(mid[:, None] - mid) <= _GUESS_SLACK) & (np.abs(theta[:, None] - theta) <= 4 * _HOUGH_STEP)
    weaker = (same & (score > score[:, None])).any(axis=1)
    rho, theta = rho[~weaker], theta[~weaker]
    guess = (rho[:, None] - xs * np.cos(theta)[:, None]) / np.sin(theta)[:, None]  # (n, W): y of each guess
    rows = np.rint(guess).astype(np.int64)
    inside = (rows >= 0) & (rows < h)
    flat = np.clip(rows, 0, h - 1) * w + xs
    near = cv2.getStructuringElement(cv2.MORPH_RECT, (1, 2 * _GUESS_SLACK + 1))
    covered = (cv2.dilate(m, near).ravel()[flat] != 0) & inside
    thin_cols = (cv2.dilate(thin, near).ravel()[flat] != 0) & inside
    # Strokes crossing a line, and crossing grid lines, interrupt its thin pixels but
    # not its ink; dropouts of a faint line leave short gaps.
    gap = max(3, int(0.02 * min_len))
    covered = cv2.morphologyEx(covered.astype(np.uint8), cv2.MORPH_CLOSE,
                               cv2.getStructuringElement(cv2.MORPH_RECT, (gap + 1, 1)))
    edges = np.diff(covered, axis=1, prepend=0, append=0).astype(np.int8)
    (line, x0), (_, x1) = np.nonzero(edges == 1), np.nonzero(edges == -1)  # row-major: they pair up
    thin_sum = np.pad(np.cumsum(thin_cols, axis=1), ((0, 0), (1, 0)))
    # Long enough at its tilt, and mostly the line's own thin ink, not a row of
    # strokes that happens to be straight.
    ok = ((x1 - x0) >= min_len * np.sin(theta[line])) & \
         (thin_sum[line, x1] - thin_sum[line, x0] >= 0.5 * (x1 - x0))
    offsets = np.arange(-_GUESS_SLACK, _GUESS_SLACK + 1)[:, None]
    drawn: list[tuple[float, float, int, int]] = []
    widest = 0
    for i, a, b in zip(line[ok], x0[ok], x1[ok]):
        x = xs[a:b]
        r = rows[i, a:b] + offsets
        seg = (thin[np.clip(r, 0, h - 1), x] != 0) & (r >= 0) & (r < h)
        count = seg.sum(axis=0)
        cols = count > 0
        slope, icpt = _fit_line(x[cols].astype(np.float64), (seg * r).sum(axis=0)[cols] / count[cols])
        ya, yb = icpt + slope * a, icpt + slope * (b - 1)
        # Neighbouring Hough peaks that survived find the same line again.
        if any(abs(ya - (c + s * a)) < 1.5 and abs(yb - (c + s * (b - 1))) < 1.5 and a < e and b > f
               for s, c, f, e in drawn):
            continue
        drawn.append((slope, icpt, a, b))
        t = int(np.median(count[cols]))
        if t >= 2 * _GUESS_SLACK:  # thicker than the window: measure it properly
            t = _thickness_along(thin, icpt + slope * x, x, max_thick)
        cv2.line(band, (int(a), int(round(ya))), (int(b - 1), int(round(yb))), 1, t + 2)
        widest = max(widest, t + 2)
    return band.astype(bool), widest, len(drawn)


def _fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares (slope, intercept) of y on x (float (L,), L >= 2), fitted again
    without the points more than 1.5 px off: bits of strokes next to the line."""
    for _ in range(2):
        n, sx, sy = len(x), x.sum(), y.sum()
        den = n * float(x @ x) - sx * sx
        slope = (n * float(x @ y) - sx * sy) / den if den > 0 else 0.0
        icpt = (sy - slope * sx) / n
        close = np.abs(y - icpt - slope * x) <= 1.5
        if close.all() or close.sum() < 2:
            break
        x, y = x[close], y[close]
    return float(slope), float(icpt)


def _thickness_along(thin: np.ndarray, ys: np.ndarray, xs: np.ndarray, max_thick: int) -> int:
    """Median length of the vertical runs of ``thin`` (uint8 (H, W)) through a fitted
    line (ys, xs: float and int (L,)): the line's thickness, at most ``max_thick``."""
    h = thin.shape[0]
    reach = max_thick // 2 + 2
    rows = np.rint(ys).astype(np.int64) + np.arange(-reach, reach + 1)[:, None]
    on = np.zeros((2 * reach + 3, len(xs)), bool)  # a row of paper above and below ends every run
    on[1:-1] = (thin[np.clip(rows, 0, h - 1), xs] != 0) & (rows >= 0) & (rows < h)
    centre = reach + 1
    hit = on[centre]
    if not hit.any():
        return 1
    up = np.argmin(on[centre::-1, hit], axis=0)
    down = np.argmin(on[centre:, hit], axis=0)
    return int(min(max_thick, np.median(up + down - 1)))


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a bool mask: labels int32 (H, W) and OpenCV's stats
    int32 (N, 5) (x, y, width, height, area; row 0 is the background)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels, stats


def trim_hairlines(mask: np.ndarray, stroke: float, min_length: float) -> np.ndarray:
    """Cut off the straight hairlines that stick out of thick ink: bool (H, W) -> bool (H, W).

    Binarising with hysteresis grows a ruled or grid line too faint to binarise
    from every digit it passes through, and the pieces glue neighbours together
    or widen a digit's box. Such a line is far thinner than the pen: horizontal
    or vertical runs at least ``min_length`` px long, straight, and thinner than
    a third of the pen's ``stroke`` width (px) are removed. A fine pen (stroke under 3 px)
    is itself that thin, and its ink is returned as it is. So is a mask with no
    hairlines: the same array, not a copy.
    """
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if stroke < 3.0 or len(rows) == 0:
        return mask
    thick = int(stroke / 3) + 1  # a kernel longer than the hairline is thick
    box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # the ink's box: most of a photo is paper
    m = mask[box].view(np.uint8)
    out = mask
    for kernel, along, across in (((thick, 1), cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT),
                                  ((1, thick), cv2.CC_STAT_HEIGHT, cv2.CC_STAT_WIDTH)):
        thin = cv2.subtract(m, cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones(kernel, np.uint8)))
        _, labels, stats, _ = cv2.connectedComponentsWithStats(thin, connectivity=8)
        # Long and straight: the thin stretch of a digit's own stroke is short or curved.
        long = (stats[:, along] >= min_length) & (stats[:, across] <= thick + 1)
        long[0] = False
        if long.any():
            out = out.copy() if out is mask else out
            out[box] &= ~per_label(long, labels)
    return out


def drop_specks_and_edges(labels: np.ndarray, stats: np.ndarray, min_area: int) -> np.ndarray:
    """The mask of the components worth reading, from ``components``: bool (H, W).

    Dropped: specks smaller than ``min_area`` pixels, and components that touch the
    border and look like the paper's edge or the desk: spanning most of a side (an
    edge, a frame, a table line) or filling a large solid area. A digit cut by the
    frame is kept.
    """
    h, w = labels.shape
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    touches = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    edge_like = touches & ((bw > 0.8 * w) | (bh > 0.9 * h) | (area > 0.2 * h * w))
    keep = (area >= min_area) & ~edge_like
    keep[0] = False
    return per_label(keep, labels)


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
