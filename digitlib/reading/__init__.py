"""The reading pipeline, from an untrusted image file to MNIST-like digits, one concern a module.

Layers, in the order a photo goes through them:

- ``decode``: safe decoding of untrusted files (header checks, size limits, EXIF).
- ``illumination``: working size, grey, paper background, polarity -> ink strength.
- ``binarise``: ink strength -> ink mask; specks, edges and hairlines.
- ``lines``: ruled, grid and table lines removed from the mask.
- ``blobs``: candidate digits and the marks that are no digit.
- ``merge``: broken strokes of one digit joined.
- ``split``: touching digits cut apart (the cut lattice).
- ``rows``: reading order.
- ``mnist``: a digit's ink as MNIST's 28x28 geometry.
- ``draw``: stage images and the annotated photo.
- ``result``: ``ReadOptions``, ``Reading``, ``DigitReading``.
- ``line_net``: the sequence reader, a CNN + BiLSTM with a CTC output, reading a row whole.
- ``sequence``: rows cropped for the sequence reader, and its reading fused with the segmenter's.
- ``pipeline``: the named stages, run in order.

``digitlib.Recognizer`` puts a classifier behind this pipeline.
"""

# First: decode sets OpenCV's pixel limit, which OpenCV reads once, when cv2 is first imported.
from . import decode  # noqa: F401  isort: skip
from .result import DigitReading, Reading, ReadOptions  # noqa: E402

__all__ = ["DigitReading", "Reading", "ReadOptions"]
