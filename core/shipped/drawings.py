"""How well a digits model reads sketchpad drawings: the shipped model's clean estimate.

`assets/drawn_digits/` holds 320 drawings made the way visitors draw (thin to thick strokes,
small and off-centre, slanted, open and closed 4s, crossed 7s; `scripts/make_drawn_digits.py`).
They were made after the digits model was shipped and scored once: no choice (recipe, seed,
ensemble, threshold) was made with them in view, so their accuracy is an honest estimate of what
a visitor's drawings get. Each file's name starts with its digit (`7_hand_03.png`).

Drawings are read exactly as the Classifier's sketchpad reads them (`drawing_to_image`, then the
model card's preprocessing). The interval is Wilson's at 95 % over the drawings.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.metrics.labeling import wilson
from core.paths import REPO_ROOT
from core.serving.onnx import OnnxClassifier
from core.vision.inputs import drawing_to_image, load_image

HELD_OUT_DRAWINGS = REPO_ROOT / "assets" / "drawn_digits"


@dataclass(frozen=True)
class DrawingScore:
    """Right answers out of a set of drawings, with a 95 % interval on the accuracy."""

    drawings: int
    right: int
    low: float
    high: float

    @property
    def accuracy(self) -> float:
        return self.right / self.drawings

    def as_metrics(self, prefix: str = "held_out_drawings") -> dict[str, float]:
        """The figures a model card keeps: accuracy, its interval and the set's size."""
        return {
            f"{prefix}_accuracy": self.accuracy,
            f"{prefix}_accuracy_low": self.low,
            f"{prefix}_accuracy_high": self.high,
            f"{prefix}_count": float(self.drawings),
        }


def labelled_drawings(folder: Path = HELD_OUT_DRAWINGS) -> list[tuple[Path, str]]:
    """(file, its label) for every PNG of `folder`, the label being the name's first part."""
    drawings = [(path, path.name.split("_")[0]) for path in sorted(folder.glob("*.png"))]
    if not drawings:
        raise ValueError(f"no drawings (PNG files named LABEL_*.png) in {folder.name}")
    return drawings


def score_drawings(model: OnnxClassifier, folder: Path = HELD_OUT_DRAWINGS) -> DrawingScore:
    """How many of `folder`'s drawings `model` reads as their label."""
    drawings = labelled_drawings(folder)
    unknown = sorted({label for _, label in drawings} - set(model.card.classes))
    if unknown:
        raise ValueError(f"drawings labelled {', '.join(unknown)}, a class {model.card.name} lacks")
    pictures = [drawing_to_image(np.asarray(load_image(path))) for path, _ in drawings]
    read = np.asarray(model.card.classes)[model.predict_proba(pictures).argmax(axis=1)]
    right = int(sum(answer == label for answer, (_, label) in zip(read, drawings, strict=True)))
    low, high = wilson(right, len(drawings))
    return DrawingScore(len(drawings), right, low, high)
