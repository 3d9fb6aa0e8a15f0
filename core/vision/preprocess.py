"""The one preprocessing shared by training, evaluation and serving of image classifiers.

A model's `InputSpec` travels with it (in its model card), so an image drawn or uploaded in the
app is turned into exactly the tensor the model was trained on. Three kinds of input:

- "digit": one handwritten digit, prepared the MNIST way: ink made bright on black, cropped to
  the ink, scaled so its longer side is 20/28 of the field, centred by its centre of mass.
- "gray": a whole grayscale picture (Fashion-MNIST), resized to a square as it is.
- "rgb": a colour photo, ImageNet style: shorter side resized to size / 0.875, centre-cropped.
"""

from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np
from PIL import Image
from scipy import ndimage

from core.vision.inputs import (
    EMPTY_DRAWING,
    INK_THRESHOLD,
    ImageInputError,
    ImageSource,
    ink_map,
    load_image,
)

KINDS = ("digit", "gray", "rgb")
DIGIT_BOX = 20 / 28  # MNIST: the digit's longer side is 20 px of the 28 px field
CROP_FRACTION = 0.875  # ImageNet evaluation: the centre crop covers 87.5 % of the shorter side


@dataclass(frozen=True)
class InputSpec:
    """What a model expects as input: the kind of picture, its square side and normalisation."""

    kind: str
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown input kind {self.kind!r}: choose one of {', '.join(KINDS)}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 8:
            raise ValueError(
                f"the input size must be a whole number of at least 8, not {self.size!r}"
            )
        # JSON gives lists; keep tuples so specs compare equal and stay hashable.
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) != self.channels:
                raise ValueError(
                    f"a {self.kind!r} input has {self.channels} channel(s), so {name} needs "
                    f"{self.channels} value(s), not {len(values)}"
                )
        if min(self.std) <= 0:
            raise ValueError(f"std values must be positive, not {self.std}")

    @property
    def channels(self) -> int:
        return 3 if self.kind == "rgb" else 1

    def to_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists)."""
        return {
            "kind": self.kind,
            "size": self.size,
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "InputSpec":
        """The inverse of `to_dict`; missing or unknown keys raise ValueError."""
        names = {field.name for field in fields(cls)}
        missing, unknown = names - data.keys(), data.keys() - names
        if missing or unknown:
            raise ValueError(
                f"an input spec needs exactly the keys {sorted(names)}; "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        return cls(**data)


def prepare(image: ImageSource, spec: InputSpec) -> np.ndarray:
    """One image (anything `load_image` accepts) as a normalised (C, size, size) float32 array."""
    picture = load_image(image)
    if spec.kind == "digit":
        pixels = _digit_pixels(picture, spec.size)
    elif spec.kind == "gray":
        pixels = _as_unit(
            picture.convert("L").resize((spec.size, spec.size), Image.Resampling.BILINEAR)
        )
    else:
        pixels = _as_unit(_resize_and_centre_crop(picture.convert("RGB"), spec.size))
    channels_first = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    mean = np.asarray(spec.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(spec.std, dtype=np.float32)[:, None, None]
    return ((channels_first - mean) / std).astype(np.float32)


def prepare_batch(images: Iterable[ImageSource], spec: InputSpec) -> np.ndarray:
    """Several images as one (N, C, size, size) float32 array; an array of images works too."""
    prepared = [prepare(image, spec) for image in images]
    if not prepared:
        raise ValueError("no images to prepare")
    return np.stack(prepared)


def _as_unit(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture, dtype=np.float32) / 255


def _digit_pixels(picture: Image.Image, size: int) -> np.ndarray:
    """A (size, size) array in [0, 1]: the digit's ink, bright on black, the MNIST way."""
    ink = ink_map(np.asarray(picture.convert("L"), dtype=np.float32))
    inked = ink > INK_THRESHOLD
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    if rows.size == 0:
        raise ImageInputError(EMPTY_DRAWING)
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    digit = _scale_longer_side(crop / crop.max(), round(size * DIGIT_BOX))
    return _centre_by_mass(np.clip(digit, 0, 1), size)


def _scale_longer_side(pixels: np.ndarray, side: int) -> np.ndarray:
    """Resize (anti-aliased) so the longer side is `side` pixels, keeping the aspect ratio."""
    height, width = pixels.shape
    scale = side / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(new_size, Image.Resampling.BILINEAR))


def _centre_by_mass(digit: np.ndarray, size: int) -> np.ndarray:
    """Paste `digit` on a black size x size field with its centre of mass at the field's centre.

    The shift is rounded to whole pixels (no blur); ink pushed past the edge is cut off.
    """
    mass_row, mass_col = ndimage.center_of_mass(digit)
    top = round((size - 1) / 2 - mass_row)
    left = round((size - 1) / 2 - mass_col)
    field = np.zeros((size, size), dtype=np.float32)
    height, width = digit.shape
    y0, y1 = max(top, 0), min(top + height, size)
    x0, x1 = max(left, 0), min(left + width, size)
    field[y0:y1, x0:x1] = digit[y0 - top : y1 - top, x0 - left : x1 - left]
    return field


def _resize_and_centre_crop(picture: Image.Image, size: int) -> Image.Image:
    """Bicubic-resize the shorter side to round(size / 0.875), then crop the central square."""
    width, height = picture.size
    short = round(size / CROP_FRACTION)
    scale = short / min(width, height)
    resized = picture.resize(
        (max(short, round(width * scale)), max(short, round(height * scale))),
        Image.Resampling.BICUBIC,
    )
    left = (resized.width - size) // 2
    top = (resized.height - size) // 2
    return resized.crop((left, top, left + size, top + size))
