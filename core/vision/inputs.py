"""User input -> a checked PIL image, for the image classifier.

Every way an image reaches the app (an uploaded file's path or bytes, a numpy array, a PIL image,
a Gradio sketchpad drawing) goes through `load_image`, so the same limits and the same clear
`ImageInputError` messages apply everywhere. The result is always mode "RGB" or "L": transparency
is composited on white, 16-bit grayscale is scaled to 8 bits, other colour modes become RGB and
the EXIF orientation of phone photos is applied.
"""

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
# The only decoders an uploaded file reaches (phone MPO photos open as JPEG). Others, such as EPS,
# which would run Ghostscript, are refused whatever the file's name says.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
INK_THRESHOLD = 40  # grey levels a pixel must differ from the paper by to count as ink
MIN_INK_PIXELS = 20  # fewer ink pixels than this on a sketchpad is a stray click, not a drawing
EMPTY_DRAWING = "Draw a digit first: the canvas is empty."

ImageSource = str | Path | bytes | bytearray | np.ndarray | Image.Image


class ImageInputError(ValueError):
    """The user's image cannot be used; the message says why in plain words."""


def load_image(source: ImageSource) -> Image.Image:
    """Read and check an image from a path, file bytes, a numpy array or a PIL image.

    Arrays may be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), of dtype uint8, uint16 or float
    with values in [0, 1]. Returns a new image in mode "RGB" or "L" (grayscale stays grayscale).
    """
    if isinstance(source, str | Path):
        return _open(_read_file(Path(source)), Path(source).name)
    if isinstance(source, bytes | bytearray):
        return _open(_checked_bytes(bytes(source)), "the uploaded file")
    if isinstance(source, np.ndarray):
        return _normalise_mode(_from_array(source))
    if isinstance(source, Image.Image):
        _check_size(*source.size)
        return _normalise_mode(ImageOps.exif_transpose(source))
    raise ImageInputError(
        f"cannot read an image from an object of type {type(source).__name__}: "
        "give a file path, file bytes, a numpy array or a PIL image"
    )


def drawing_to_image(value: dict | ImageSource | None) -> Image.Image:
    """A sketchpad drawing as an "L" image with dark ink on white.

    `value` is Gradio's Sketchpad value, a dict whose "composite" is the flattened drawing (an
    array, a file path or a PIL image), or that composite on its own. Transparent pixels count
    as white, and a light-on-dark drawing is inverted. A canvas without a drawing on it (None,
    no composite, a single colour or a few stray pixels) raises ImageInputError.
    """
    composite = value.get("composite") if isinstance(value, dict) else value
    if composite is None:
        raise ImageInputError(EMPTY_DRAWING)
    ink = ink_map(np.asarray(load_image(composite).convert("L"), dtype=np.float32))
    if np.count_nonzero(ink > INK_THRESHOLD) < MIN_INK_PIXELS:
        raise ImageInputError(EMPTY_DRAWING)
    return Image.fromarray(255 - np.round(ink).astype(np.uint8))


def ink_map(gray: np.ndarray) -> np.ndarray:
    """How much ink each pixel of a grayscale drawing holds: 0 on the paper, up to 255.

    The paper's grey level is the median of the outermost ring of pixels. Ink is the minority
    tone, so if the darkest pixel lies further from the paper than the brightest, the drawing is
    dark ink on light paper and is read inverted; otherwise it is bright ink on dark paper (as in
    MNIST and scikit-learn's digits). Works the same for both, whatever the paper's grey.
    """
    ring = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    paper = float(np.median(ring))
    ink = paper - gray if paper - gray.min() > gray.max() - paper else gray - paper
    return np.clip(ink, 0, None)


def _read_file(path: Path) -> bytes:
    """The bytes of an image file, refused before reading if missing, empty or too large."""
    if not path.is_file():
        raise ImageInputError(f"no such image file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise ImageInputError(f"the image file {path.name} is empty")
    if size > MAX_FILE_BYTES:
        raise ImageInputError(_too_many_bytes(size))
    return path.read_bytes()


def _checked_bytes(data: bytes) -> bytes:
    if not data:
        raise ImageInputError("the uploaded image file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImageInputError(_too_many_bytes(len(data)))
    return data


def _too_many_bytes(size: int) -> str:
    return f"the image file is {size / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES / 2**20:.0f} MB"


def _open(data: bytes, name: str) -> Image.Image:
    """Decode image file bytes, checking the pixel count from the header before decoding.

    PIL's own decompression-bomb guard warns above 89 megapixels and raises above twice that;
    our limit is lower, so both become an ImageInputError. (Warning filters are process-wide, so
    another thread may share this one for a moment: harmless, it only makes that warning raise.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                _check_size(*image.size)
                image.load()
                return _normalise_mode(ImageOps.exif_transpose(image))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ImageInputError(
                _too_many_pixels(f"{name} has over {Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels")
            ) from exc
        except ImageInputError:
            raise
        except UnidentifiedImageError as exc:
            raise ImageInputError(
                f"{name} is not a readable image (unknown or unsupported format): "
                f"use {', '.join(IMAGE_FORMATS[:-1])} or {IMAGE_FORMATS[-1]}"
            ) from exc
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageInputError(f"{name} is not a readable image ({exc})") from exc


def _check_size(width: int, height: int) -> None:
    if width == 0 or height == 0:
        raise ImageInputError(f"the image is empty ({width}x{height} pixels)")
    if width * height > MAX_PIXELS:
        raise ImageInputError(
            _too_many_pixels(
                f"the image is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels)"
            )
        )


def _too_many_pixels(what: str) -> str:
    return f"{what}; the limit is {MAX_PIXELS / 1e6:.0f} megapixels: make it smaller first"


def _from_array(array: np.ndarray) -> Image.Image:
    """A PIL image from an array; uint16 grayscale becomes "I;16", scaled later by its range."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ImageInputError(
            f"an image array must have shape (H, W), (H, W, 3) or (H, W, 4), not {array.shape}"
        )
    _check_size(array.shape[1], array.shape[0])
    if array.dtype == np.uint16 and array.ndim == 2:
        return Image.fromarray(array)
    return Image.fromarray(_to_uint8(array))


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """8-bit pixel values: uint8 copied (PIL would share its memory), 16-bit colour over its full
    range, floats from [0, 1]."""
    if array.dtype == np.uint8:
        return array.copy()
    if array.dtype == np.uint16:
        return (array // 257).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ImageInputError(
                "a float image array must hold finite values in [0, 1]; "
                f"this one ranges from {np.nanmin(array):g} to {np.nanmax(array):g}"
            )
        return np.round(array * 255).astype(np.uint8)
    raise ImageInputError(
        f"unsupported image array dtype {array.dtype}: use uint8, uint16 or float in [0, 1]"
    )


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Mode "L" for grayscale input, "RGB" for everything else; transparency becomes white."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode == "LA":
        return _on_white(image, "L")
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in image.info):
        return _on_white(image.convert("RGBA"), "RGB")
    if mode.startswith("I") or mode == "F":
        return _stretch_to_8_bits(image)
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageInputError(f"unsupported image colour mode {mode}") from exc


def _on_white(image: Image.Image, mode: str) -> Image.Image:
    """Composite an image with an alpha channel onto white, so transparent pixels are white."""
    background = Image.new(mode, image.size, "white")
    background.paste(image.convert(mode), mask=image.getchannel("A"))
    return background


def _stretch_to_8_bits(image: Image.Image) -> Image.Image:
    """16/32-bit or float grayscale to "L", mapping the image's own min..max to 0..255.

    Such images (scientific, medical, 12-bit sensors) rarely use their type's full range, so
    dividing by the type's maximum would leave them nearly black. A flat image becomes black.
    """
    values = np.asarray(image, dtype=np.float64)
    low, high = values.min(), values.max()
    scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
    return Image.fromarray(np.round(scaled).astype(np.uint8))
