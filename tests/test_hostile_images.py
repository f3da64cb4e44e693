"""Hostile images: whatever reaches ``Recognizer.read`` ends in a ``Reading`` or a ``ValueError``,
quickly and in bounded memory; never a crash, a hang or another exception.

Property tests (hypothesis, derandomized so every run tries the same cases) feed it random
bytes, truncated and bit-flipped PNG/JPEG/TIFF/WebP/BMP files, odd sizes (0, 1x1, 1x20000),
16-bit, float and 0/2/4-channel images, and arrays of every type and shape. Decompression
bombs (tiny files whose headers promise hundreds of megapixels) are refused before decoding;
a child process measures that they cost neither time nor memory, and that OpenCV's own pixel
limit is in force behind the header checks.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from digitlib.reading import decode
from digitlib import Reading
from digitlib.reading.pipeline import MAX_CLASSIFIED
from tests.support import CountedClassifier

ROOT = Path(__file__).resolve().parent.parent

#: Work, not wall-clock time, is what a test can bound on a shared machine: no case may make the
#: reader ask the classifier about more digit images than the pipeline's budget allows.

#: Multiplies every test's number of cases, for a deeper search by hand:
#: HOSTILE_IMAGES_SCALE=20 pytest tests/test_hostile_images.py
SCALE = float(os.environ.get("HOSTILE_IMAGES_SCALE", "1"))


def examples(n: int) -> int:
    return max(1, round(n * SCALE))


HOSTILE = settings(
    max_examples=examples(40),
    deadline=None,  # time is the benchmark's to measure (python -m digitlib.bench read); work is bounded below
    derandomize=True,  # the same cases on every run: a failure is reproducible, never flaky
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def read_or_refuse(recognizer, image) -> str:
    """Recognizer.read: "read" for a Reading, "refused" for a ValueError with a message; any
    other exception propagates and fails the test, and so does a reading that asks the
    classifier about more digit images than ``MAX_CLASSIFIED``."""
    with CountedClassifier(recognizer) as counted:
        try:
            reading = recognizer.read(image)
        except ValueError as exc:
            message = str(exc)
            assert message.strip() and "\n" not in message and "Traceback" not in message, repr(message)
            outcome = "refused"
        else:
            assert isinstance(reading, Reading)
            assert isinstance(reading.text, str) and all(ch.isdigit() or ch == "\n" for ch in reading.text)
            outcome = "read"
    assert sum(counted.batches) <= MAX_CLASSIFIED, f"asked about {sum(counted.batches)} digit images"
    if currently_in_test_context():
        event(outcome)  # --hypothesis-show-statistics tells how many cases were read and refused
    return outcome


# --------------------------------------------------------------------------- well-formed files


def page(width: int = 64, height: int = 40) -> np.ndarray:
    """A small BGR photo of a number: dark strokes on light paper."""
    img = np.full((height, width, 3), 235, np.uint8)
    cv2.putText(img, "47", (4, height - 8), cv2.FONT_HERSHEY_SIMPLEX, height / 32, (30, 30, 30), 3)
    return img


def encode(img: np.ndarray, ext: str, params=()) -> bytes:
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok, ext
    return buf.tobytes()


def pil_encode(array: np.ndarray, fmt: str, **kwargs) -> bytes:
    """Encode with Pillow (it writes what OpenCV cannot: grey + alpha, EXIF, palettes)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, format=fmt, **kwargs)
    return out.getvalue()


def base_files() -> dict[str, bytes]:
    """Valid files of every supported format and flavour, each a few kB."""
    from PIL import Image

    bgr = page()
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    bgra[:, :8, 3] = 0
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    exif = Image.Exif()
    exif[0x0112] = 6
    files = {
        "png-grey": encode(grey, ".png"),
        "png-bgr": encode(bgr, ".png"),
        "png-bgra": encode(bgra, ".png"),
        "png-grey16": encode(grey.astype(np.uint16) * 257, ".png"),
        "png-bgra16": encode(bgra.astype(np.uint16) * 257, ".png"),
        "png-grey-alpha": pil_encode(np.dstack([grey, 255 - grey]), "PNG"),
        "png-palette": _palette_png(rgb),
        "jpeg": encode(bgr, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]),
        "jpeg-grey": encode(grey, ".jpg"),
        "jpeg-progressive": encode(bgr, ".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        "jpeg-exif-rotated": pil_encode(np.ascontiguousarray(np.rot90(rgb)), "JPEG", exif=exif),
        "tiff": encode(bgr, ".tiff"),
        "tiff-grey16": encode(grey.astype(np.uint16) * 257, ".tiff"),
        "tiff-float": encode(grey.astype(np.float32) / 255, ".tiff"),
        "tiff-bgra": encode(bgra, ".tiff"),
        "webp": encode(bgr, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
        "webp-lossless-bgra": encode(bgra, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
        "bmp": encode(bgr, ".bmp"),
        "bmp-bgra": encode(bgra, ".bmp"),
    }
    return files


def _palette_png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        out, format="PNG", transparency=0)
    return out.getvalue()


BASE = base_files()
NAMES = sorted(BASE)


@pytest.mark.parametrize("name", NAMES)
def test_every_base_file_is_read(recognizer, name):
    assert read_or_refuse(recognizer, BASE[name]) == "read"


# --------------------------------------------------------------------------- hostile bytes

MAGICS = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"\xff\xd8\xff\xc2", b"II*\x00", b"MM\x00*",
          b"RIFF\x00\x01\x00\x00WEBPVP8 ", b"RIFF\x00\x01\x00\x00WEBPVP8L", b"BM", b"GIF89a", b"%PDF-"]


@settings(HOSTILE, max_examples=examples(150))
@given(prefix=st.sampled_from(MAGICS), tail=st.binary(max_size=2048))
def test_random_bytes(recognizer, prefix, tail):
    read_or_refuse(recognizer, prefix + tail)


@settings(HOSTILE, max_examples=examples(120))
@given(name=st.sampled_from(NAMES), per_mille=st.integers(0, 999))
def test_truncated_files(recognizer, name, per_mille):
    data = BASE[name]
    read_or_refuse(recognizer, data[: len(data) * per_mille // 1000])


@settings(HOSTILE, max_examples=examples(150))
@given(name=st.sampled_from(NAMES), data=st.data())
def test_bit_flipped_files(recognizer, name, data):
    blob = bytearray(BASE[name])
    # Headers are where the damage is interesting: half the flips land in the first 64 bytes.
    positions = st.one_of(st.integers(0, min(63, len(blob) - 1)), st.integers(0, len(blob) - 1))
    for pos, bit in data.draw(st.lists(st.tuples(positions, st.integers(0, 7)), min_size=1, max_size=8)):
        blob[pos] ^= 1 << bit
    read_or_refuse(recognizer, bytes(blob))


@settings(HOSTILE, max_examples=examples(80))
@given(name=st.sampled_from(NAMES), data=st.data())
def test_overwritten_header_fields(recognizer, name, data):
    """Bytes of the header replaced by extreme values (sizes 0, 1, 0xFFFF, 0xFFFFFFFF...)."""
    blob = bytearray(BASE[name])
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, min(200, len(blob) - 4)))
        value = data.draw(st.sampled_from([b"\x00\x00", b"\x00\x01", b"\xff\xff", b"\x7f\xff",
                                           b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x80\x00\x00\x00"]))
        blob[pos:pos + len(value)] = value
    read_or_refuse(recognizer, bytes(blob))


# --------------------------------------------------------------------------- odd but valid images

ODD_SIZES = [(1, 1), (1, 2), (2, 1), (3, 3), (1, 20000), (20000, 1), (2, 9000), (9000, 3), (5, 400), (640, 4)]


@HOSTILE
@given(
    size=st.one_of(st.sampled_from(ODD_SIZES), st.tuples(st.integers(1, 80), st.integers(1, 80))),
    kind=st.sampled_from(["grey", "grey16", "bgr", "bgra", "bgra16", "float", "grey-alpha"]),
    ext=st.sampled_from([".png", ".tiff", ".webp", ".jpg", ".bmp"]),
    seed=st.integers(0, 2**16),
)
def test_odd_sizes_depths_and_channels(recognizer, size, kind, ext, seed):
    width, height = size
    rng = np.random.default_rng(seed)
    grey = np.where(rng.random((height, width)) < 0.2, 20, 230).astype(np.uint8)
    arrays = {
        "grey": grey,
        "grey16": grey.astype(np.uint16) * 257,
        "bgr": cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR),
        "bgra": np.dstack([grey, grey, grey, 255 - grey]),
        "bgra16": np.dstack([grey, grey, grey, 255 - grey]).astype(np.uint16) * 257,
        "float": grey.astype(np.float32) / 255,
        "grey-alpha": np.dstack([grey, 255 - grey]),
    }
    img = arrays[kind]
    if max(width, height) > 16383 and ext == ".webp":  # WebP's own limit: cannot even be written
        return
    if kind == "grey-alpha":
        if ext not in (".png", ".tiff", ".webp"):
            return
        data = pil_encode(img, {".png": "PNG", ".tiff": "TIFF", ".webp": "WEBP"}[ext])
    else:
        ok, buf = cv2.imencode(ext, img)
        if not ok:  # a combination the format cannot hold (cv2 converts or refuses most of them)
            return
        data = buf.tobytes()
    read_or_refuse(recognizer, data)


# --------------------------------------------------------------------------- arrays

DTYPES = [np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64, np.uint32, np.float16, np.float32,
          np.float64, np.bool_, np.complex64, np.dtype(">u2"), np.dtype("<f8"), object]


@settings(HOSTILE, max_examples=examples(100))
@given(
    shape=st.one_of(
        st.sampled_from([(0,), (0, 0), (0, 5), (5, 0), (1, 1), (1, 20000), (20000, 1), (3, 3, 0), (8, 8, 2),
                         (8, 8, 4), (8, 8, 5), (2, 2, 2, 2), (), (1, 1, 1)]),
        st.tuples(st.integers(1, 48), st.integers(1, 48)),
        st.tuples(st.integers(1, 48), st.integers(1, 48), st.integers(0, 5)),
    ),
    dtype=st.sampled_from(DTYPES),
    fill=st.sampled_from(["noise", "zeros", "max", "nan", "inf", "negative", "stroke"]),
    seed=st.integers(0, 2**16),
)
def test_arrays_of_any_type_and_shape(recognizer, shape, dtype, fill, seed):
    rng = np.random.default_rng(seed)
    img = np.asarray(rng.random(shape) * 255, dtype=np.float64)  # 0-d for shape ()
    if fill == "zeros":
        img[...] = 0
    elif fill == "max":
        img[...] = 1e30
    elif fill == "nan" and img.size:
        img.flat[:: max(1, img.size // 7)] = np.nan
    elif fill == "inf" and img.size:
        img.flat[:: max(1, img.size // 5)] = -np.inf
        img.flat[1:: max(1, img.size // 5)] = np.inf
    elif fill == "negative":
        img = -img
    elif fill == "stroke" and len(shape) >= 2 and min(shape[:2]) > 4:
        img[...] = 230
        img[shape[0] // 4: -(shape[0] // 4) or None, shape[1] // 2] = 10
    with np.errstate(all="ignore"):
        array = img.astype(dtype) if dtype is not object else img.astype(object)
    read_or_refuse(recognizer, array)


@pytest.mark.parametrize("image", [None, 12345, 3.5, [[0, 255], [255, 0]], {"a": 1}, object(),
                                   "no/such/file.png", b"", bytearray(b"\x89PNG\r\n\x1a\n"), memoryview(b"BM"),
                                   io.StringIO("text"), io.BytesIO(b"\xff\xd8\xff")])
def test_other_inputs(recognizer, image):
    assert read_or_refuse(recognizer, image) == "refused"


def test_unreadable_path_is_a_value_error(recognizer, tmp_path):
    assert read_or_refuse(recognizer, tmp_path) == "refused"  # a folder
    assert read_or_refuse(recognizer, str(tmp_path / "x\0y.png")) == "refused"  # NUL in a path
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.truncate(decode.MAX_FILE_BYTES + 1)  # sparse: takes no disk
    with pytest.raises(ValueError, match="larger than"):
        decode.load_image(big)


def test_zero_size_headers(recognizer):
    for data in (png_bomb(0, 10, full=False), png_bomb(10, 0, full=False), bmp_bomb(0, 10), tiff_bomb(0, 10),
                 jpeg_bomb(0, 10, progressive=False)):
        assert read_or_refuse(recognizer, data) == "refused"


# --------------------------------------------------------------------------- decompression bombs


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int, bit_depth: int = 1, colour_type: int = 0, *, full: bool = True) -> bytes:
    """A PNG of zeros. ``full``: every row is there (a valid file of a few kB for 100 megapixels);
    otherwise the image data stops after four rows."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = b"\0" * (1 + (width * channels * bit_depth + 7) // 8)
    comp = zlib.compressobj(9)
    rows = height if full else min(height, 4)
    parts = [comp.compress(row * min(rows - start, 256)) for start in range(0, rows, 256)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(parts))
            + _png_chunk(b"IEND", b""))


def jpeg_bomb(width: int, height: int, progressive: bool) -> bytes:
    """A 64x64 JPEG whose frame header claims ``width`` x ``height``: a few hundred bytes that
    libjpeg decodes as a grey image of that size (a progressive one needs every coefficient of it
    in memory, even at 1/8 size)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] + ([cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if progressive else [])
    blob = bytearray(encode(np.full((64, 64, 3), 200, np.uint8), ".jpg", params))
    i = 2
    while blob[i + 1] not in (0xC0, 0xC2):
        i += 2 + struct.unpack(">H", blob[i + 2:i + 4])[0]
    blob[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(blob)


def bmp_bomb(width: int, height: int, bpp: int = 24) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, 0, 0, 2835, 2835, 0, 0)
    body = b"\0" * 64
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + len(body), 0, 0, 14 + len(info)) + info + body


def tiff_bomb(width: int, height: int, bits: int = 8, samples: int = 1) -> bytes:
    """An uncompressed TIFF header for ``width`` x ``height`` with 16 bytes of pixel data."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, bits), (259, 3, 1), (262, 3, 1 if samples == 1 else 2),
               (273, 4, 8), (277, 3, samples), (278, 4, height), (279, 4, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, value in entries) + struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", 24) + b"\0" * 16 + ifd


def webp_bomb(width: int, height: int) -> bytes:
    """A lossless WebP header (VP8L) for ``width`` x ``height`` (at most 16384 each)."""
    vp8l = b"\x2f" + struct.pack("<I", (width - 1) | ((height - 1) << 14)) + b"\0" * 16
    chunk = b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def bombs() -> dict[str, bytes]:
    return {
        "png-105MP-valid": png_bomb(10240, 10240),  # a complete, valid 13 kB PNG of 105 megapixels
        "png-10-gigapixels": png_bomb(100_000, 100_000, full=False),
        "png-60MP-just-over": png_bomb(7800, 7800, full=False),
        "png-16bit-rgba-30MP": png_bomb(6000, 5000, 16, 6, full=False),  # under 50 MP, but 480 MB to decode
        "jpeg-progressive-169MP": jpeg_bomb(13000, 13000, progressive=True),  # 1.4 GB of coefficients at 1/2 size
        "jpeg-progressive-4-gigapixels": jpeg_bomb(65535, 65535, progressive=True),
        "jpeg-baseline-4-gigapixels": jpeg_bomb(65535, 65535, progressive=False),
        "bmp-900MP": bmp_bomb(30000, 30000),
        "bmp-top-down-900MP": bmp_bomb(30000, -30000, 32),
        "tiff-900MP": tiff_bomb(30000, 30000),
        "tiff-16bit-rgb-49MP": tiff_bomb(7000, 7000, 16, 3),
        "webp-268MP": webp_bomb(16384, 16384),
    }


@pytest.mark.parametrize("name", sorted(bombs()))
def test_decompression_bombs_are_refused_before_decoding(recognizer, name, monkeypatch):
    """Refused from the header alone: no decoder (OpenCV's or Pillow's) ever sees the pixels."""
    data = bombs()[name]
    assert len(data) < 20_000
    decoded = []
    monkeypatch.setattr(decode.cv2, "imdecode", lambda *args: decoded.append("cv2.imdecode"))
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append("PIL load"))
    with pytest.raises(ValueError, match="megapixel|MB to decode|too many pixels"):
        recognizer.read(data)
    assert decoded == []


# Pillow warns about images above 89 MP; where warnings are errors, such a JPEG is refused instead.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_big_baseline_jpeg_is_read_at_reduced_size():
    """Up to MAX_JPEG_PIXELS a baseline JPEG is decoded at 1/2..1/8 size, which costs little."""
    img, notes = decode.decode_image(jpeg_bomb(12000, 9000, progressive=False))
    assert img.shape[:2] == (4500, 6000) and "1/2 size" in notes[0]


def test_progressive_jpeg_under_the_pixel_limit_is_read():
    img, _ = decode.decode_image(jpeg_bomb(3000, 2000, progressive=True))
    assert img.shape[:2] == (2000, 3000)


CHILD = r"""
import json, resource, sys
from digitlib.reading import decode  # first: it sets OpenCV's pixel limit before cv2 loads
import cv2, numpy as np

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

decode.decode_image(cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[1].tobytes())  # load the codecs
report = {"opencv_limit": __import__("os").environ.get("OPENCV_IO_MAX_IMAGE_PIXELS")}
imdecode, decoder_calls = cv2.imdecode, [0]
def counted_imdecode(*args):
    decoder_calls[0] += 1
    return imdecode(*args)
cv2.imdecode = counted_imdecode  # the module decode uses: a refusal must never reach the decoder
for path in sys.argv[1:]:  # refusals first, then the large accepted files: ru_maxrss only grows
    data = open(path, "rb").read()
    before, decoder_calls[0] = peak_mb(), 0
    try:
        if path.endswith(".header"):
            decode.read_header(data)
            outcome = "header"
        else:
            img, _ = decode.decode_image(data)
            outcome = f"decoded {img.shape[1]}x{img.shape[0]}"
    except ValueError as exc:
        outcome = f"refused: {exc}"
    report[path.rsplit("/", 1)[-1]] = {"outcome": outcome, "decoder_calls": decoder_calls[0],
                                       "peak_growth_mb": peak_mb() - before}
# OpenCV's own limit, without the header checks in front of it: a 60 MP PNG is not decoded.
before = peak_mb()
try:
    raw = imdecode(np.frombuffer(open(sys.argv[1], "rb").read(), np.uint8), cv2.IMREAD_UNCHANGED)
    outcome = "decoded" if raw is not None else "refused"
except cv2.error as exc:
    outcome = "refused"
report["opencv-direct"] = {"outcome": outcome, "peak_growth_mb": peak_mb() - before}
print(json.dumps(report))
"""


def test_bombs_cost_no_memory_and_opencv_limit_holds(tmp_path):
    """In a fresh process: every bomb is refused without calling the decoder and with (almost) no memory;
    the header of a valid 40 MP PNG is read without decoding it; a 36 MP PNG that is accepted
    peaks near the estimate (decoder + output), not several times it; and cv2.imdecode alone
    refuses a 60 MP PNG because digitlib.reading.decode set OPENCV_IO_MAX_IMAGE_PIXELS."""
    paths = []
    direct = tmp_path / "00-opencv-60MP.png"
    direct.write_bytes(png_bomb(7800, 7800))  # complete: a truncated file would fail for another reason
    paths.append(direct)
    for name, data in bombs().items():
        paths.append(tmp_path / f"bomb-{name}")
        paths[-1].write_bytes(data)
    header_only = tmp_path / "png-40MP.header"
    header_only.write_bytes(png_bomb(8000, 5000, 8, 2))
    accepted = tmp_path / "z-png-36MP-grey"
    accepted.write_bytes(png_bomb(6000, 6000, 8, 0))
    paths += [header_only, accepted]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("OPENCV_IO_MAX_IMAGE_PIXELS", None)
    proc = subprocess.run([sys.executable, "-c", CHILD, *map(str, paths)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["opencv_limit"] == str(decode.MAX_DECODE_PIXELS)
    for name, r in report.items():
        if name.startswith("bomb-"):
            assert r["outcome"].startswith("refused"), (name, r)
            assert r["decoder_calls"] == 0 and r["peak_growth_mb"] < 30, (name, r)
    assert report["png-40MP.header"]["outcome"] == "header"
    assert report["png-40MP.header"]["peak_growth_mb"] < 30, report["png-40MP.header"]
    assert report["opencv-direct"]["outcome"] == "refused", report["opencv-direct"]
    assert report["opencv-direct"]["peak_growth_mb"] < 30, report["opencv-direct"]
    big = report["z-png-36MP-grey"]
    assert big["outcome"] == "decoded 6000x6000" and big["decoder_calls"] == 1, big  # the counter counts
    # decoder: 2 x 36 MB; output: 108 MB BGR; the old code also decoded it once more in Pillow
    assert big["peak_growth_mb"] < 260, big


def test_opencv_limit_holds_whichever_digitlib_module_comes_first(tmp_path):
    """The app's pages import digitlib.personal (which imports cv2) before anything imports
    digitlib.reading.decode; OpenCV reads its limit once, at import, so it must be set by then."""
    bomb = tmp_path / "60MP.png"
    bomb.write_bytes(png_bomb(7800, 7800))  # complete and valid: only the limit can refuse it
    code = ("import sys, digitlib.personal, cv2, numpy as np\n"
            "try:\n"
            "    img = cv2.imdecode(np.fromfile(sys.argv[1], np.uint8), cv2.IMREAD_UNCHANGED)\n"
            "except cv2.error:  # OpenCV's pixel limit refuses it with an assertion\n"
            "    img = None\n"
            "print('decoded' if img is not None else 'refused')")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("OPENCV_IO_MAX_IMAGE_PIXELS", None)
    proc = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.stdout.strip().splitlines()[-1:] == ["refused"], (proc.stdout, proc.stderr[-500:])


def test_limits_are_consistent():
    assert decode.MAX_DECODE_PIXELS <= 100_000_000  # a 100 MP PNG is always refused
    # the app's upload limit (MB) is below the library's file limit
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    upload_mb = int(next(line.split("=")[1] for line in config.splitlines() if line.startswith("maxUploadSize")))
    assert upload_mb * 1024 * 1024 <= decode.MAX_FILE_BYTES
