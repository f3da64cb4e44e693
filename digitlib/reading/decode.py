"""Safe decoding of untrusted image files: header checks, size limits, EXIF orientation.

``load_image`` takes a path, encoded bytes, a file object or an array and returns a
BGR uint8 (H, W, 3) image. Every limit is checked from the header before pixels are
decoded, so a small file cannot claim gigabytes. This module sets OpenCV's own pixel
limit before cv2 is first imported (OpenCV reads it once), so it is imported first.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass


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
#: File name endings of those formats, for upload pickers and folder scans.
FILE_TYPES = ("png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp")

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
