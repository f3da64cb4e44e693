"""Baselines: other ways of reading numbers, kept to measure ``Recognizer.read`` against.

``seed``: the method of the article the project grew from (fixed threshold, column
splitting, SeedNet), reimplemented faithfully, weaknesses included.
"""

from .seed import SeedBaseline

__all__ = ["SeedBaseline"]
