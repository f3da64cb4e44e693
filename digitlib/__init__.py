"""digitlib: read handwritten multi-digit numbers from photos and scans, with a CNN trained on MNIST."""

__version__ = "0.1.0"

# First: it sets OpenCV's pixel limit, which OpenCV reads once, when cv2 is first imported.
from . import preprocess  # noqa: E402,F401
from .checkpoint import CheckpointError  # noqa: E402
from .data import DataUnavailableError  # noqa: E402
from .recognizer import DigitReading, Reading, Recognizer  # noqa: E402

__all__ = ["CheckpointError", "DataUnavailableError", "DigitReading", "Reading", "Recognizer", "__version__"]
