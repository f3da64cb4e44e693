"""digitlib: read handwritten multi-digit numbers from photos and scans, with a CNN trained on MNIST."""

import os

__version__ = "0.1.0"

# Before torch loads OpenMP: its threads then sleep when out of work instead of spinning.
# Spinning threads starve any other busy thread on a small CPU; the app trains in a thread
# of the server that also reads photos, and training slowed 10-17x there (BENCHMARKS.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# First: reading.decode sets OpenCV's pixel limit, which OpenCV reads once, when cv2 is first imported.
from .reading import DigitReading, Reading, ReadOptions  # noqa: E402  isort: skip
from .checkpoint import CheckpointError  # noqa: E402
from .data import DataUnavailableError  # noqa: E402
from .recognizer import Recognizer  # noqa: E402

__all__ = ["CheckpointError", "DataUnavailableError", "DigitReading", "ReadOptions", "Reading", "Recognizer",
           "__version__"]
