"""An independent photo generator for evaluation only: the holdout suites.

Written apart from ``digitlib.synth`` (the training generator) and sharing none
of its code or models of any effect, so that a reader tuned on synth pages is
judged on pages it could not have been tuned to. Never train on these images
or set thresholds with them; report them.

Images are BGR uint8 (H, W, 3) photos of numbers written with MNIST **test**
digits; labels are the digit strings (rows joined by "\\n"; separators and
marks are never part of a label). Modules, one concern each:

- ``glyphs``: pens and digits as ink coverage; the MNIST test split.
- ``layout``: handwriting: baselines, slant, spacing, separators, underlines, boxes.
- ``paper``: sheets, rulings, security prints, desks, boards; how ink absorbs.
- ``shadows``: cast shadows (polygons, hands, phones, blobs), uneven light, glare.
- ``camera``: the sheet's pose in the frame, lens blur, sensor noise, JPEG.
- ``scene``: one image fully described, and its rendering.
- ``suites``: the suites' distributions; ``make_suite``.
- ``noise``: images with no number at all (dots, noise, textures, scribble), to bound work.
"""

from .suites import SUITES, draw_scene, make_case, make_suite

__all__ = ["SUITES", "draw_scene", "make_case", "make_suite"]
