"""core.vision.inputs: every kind of user input becomes a checked RGB or L image, or a clear
error."""

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile

from core.vision.inputs import MAX_FILE_BYTES, ImageInputError, drawing_to_image, load_image

DRAWN = Path(__file__).parent / "drawn_digits"


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height 1-bit pixels but holds one tiny data chunk: cheap to
    make, and only decoding it would cost memory."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


# ---- modes ------------------------------------------------------------------------------------


def test_grayscale_stays_grayscale_and_rgb_stays_rgb(tmp_path):
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    colour = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "colour.png")

    loaded_gray = load_image(encode(Image.fromarray(gray)))
    loaded_colour = load_image(tmp_path / "colour.png")

    assert loaded_gray.mode == "L" and np.array_equal(np.asarray(loaded_gray), gray)
    assert loaded_colour.mode == "RGB" and np.array_equal(np.asarray(loaded_colour), colour)
    assert np.array_equal(np.asarray(load_image(str(tmp_path / "colour.png"))), colour)


def test_rgba_is_composited_on_white():
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[:, 0] = (200, 0, 0, 255)  # opaque red
    rgba[:, 1] = (0, 0, 0, 0)  # fully transparent
    rgba[:, 2] = (0, 0, 0, 128)  # half-transparent black

    for source in (encode(Image.fromarray(rgba)), rgba):
        image = load_image(source)
        assert image.mode == "RGB"
        assert tuple(np.asarray(image)[0, 0]) == (200, 0, 0)
        assert tuple(np.asarray(image)[0, 1]) == (255, 255, 255)
        assert np.all(np.abs(np.asarray(image)[0, 2].astype(int) - 127) <= 1)


def test_grayscale_with_alpha_is_composited_on_white_and_stays_grayscale():
    alpha = np.zeros((4, 4), dtype=np.uint8)
    alpha[:, :2] = 255  # left half opaque, right half transparent
    la = Image.merge("LA", [Image.new("L", (4, 4), 10), Image.fromarray(alpha)])

    image = load_image(encode(la))

    assert image.mode == "L"
    assert np.all(np.asarray(image)[:, :2] == 10) and np.all(np.asarray(image)[:, 2:] == 255)


def test_palette_transparency_becomes_white():
    indices = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    palette_image = Image.new("P", (2, 2))
    palette_image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # 0 black, 1 blue
    palette_image.putdata(indices.ravel().tolist())

    image = load_image(encode(palette_image, "GIF", transparency=0))

    assert image.mode == "RGB"
    assert tuple(np.asarray(image)[0, 0]) == (255, 255, 255)
    assert tuple(np.asarray(image)[0, 1]) == (0, 0, 255)


def test_16_bit_and_32_bit_grayscale_are_scaled_by_their_own_range():
    values = 1000 + 100 * np.arange(20).reshape(4, 5)  # uses a sliver of the 16-bit range
    expected = np.round((values - 1000) / 1900 * 255).astype(np.uint8)
    sixteen_bit_png = encode(Image.fromarray(values.astype(np.uint16)))
    assert Image.open(io.BytesIO(sixteen_bit_png)).mode.startswith("I")

    for source in (
        sixteen_bit_png,
        values.astype(np.uint16),
        Image.fromarray(values.astype(np.int32)),  # mode "I"
    ):
        image = load_image(source)
        assert image.mode == "L"
        assert np.array_equal(np.asarray(image), expected)


def test_cmyk_is_converted_to_rgb():
    cmyk = Image.new("CMYK", (3, 3), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red

    image = load_image(encode(cmyk, "TIFF"))

    assert image.mode == "RGB" and tuple(np.asarray(image)[1, 1]) == (255, 0, 0)


def test_exif_orientation_is_applied():
    stored = Image.new("RGB", (40, 20), (255, 0, 0))
    stored.paste((0, 0, 255), (20, 0, 40, 20))  # red left half, blue right half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display", as phones write it

    image = load_image(encode(stored, "JPEG", exif=exif, quality=95))

    assert image.size == (20, 40)  # portrait now
    top, bottom = np.asarray(image)[5, 10], np.asarray(image)[35, 10]
    assert top[0] > 200 and top[2] < 60  # red on top
    assert bottom[2] > 200 and bottom[0] < 60  # blue below


def test_animated_gif_uses_its_first_frame():
    frames = [Image.new("L", (8, 8), 30), Image.new("L", (8, 8), 220)]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)

    image = load_image(gif)

    assert np.all(np.asarray(image) == 30)


def test_numpy_arrays_of_each_supported_kind():
    floats = np.array([[0.0, 0.5], [1.0, 0.25]])
    assert np.array_equal(np.asarray(load_image(floats)), [[0, 128], [255, 64]])
    colour16 = np.full((2, 2, 3), 65535, dtype=np.uint16)
    assert np.all(np.asarray(load_image(colour16)) == 255)
    single_channel = np.full((3, 3, 1), 7, dtype=np.uint8)
    assert load_image(single_channel).mode == "L"


def test_an_array_is_copied_not_shared():
    array = np.zeros((4, 4), dtype=np.uint8)
    image = load_image(array)
    array[:] = 255
    assert np.all(np.asarray(image) == 0)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([[0.0, 1.5]]), r"finite values in \[0, 1\]"),
        (np.array([[0.0, np.nan]]), r"finite values in \[0, 1\]"),
        (np.zeros((4, 4), dtype=np.int64), "unsupported image array dtype int64"),
        (np.zeros((4, 4, 2), dtype=np.uint8), r"must have shape \(H, W\)"),
        (np.zeros(16, dtype=np.uint8), r"must have shape \(H, W\)"),
        (np.zeros((0, 5), dtype=np.uint8), "the image is empty"),
    ],
)
def test_bad_arrays_are_refused(array, message):
    with pytest.raises(ImageInputError, match=message):
        load_image(array)


# ---- unreadable and oversized input ------------------------------------------------------------


def test_a_missing_file_an_empty_file_and_unsupported_input(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageInputError, match="no such image file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageInputError, match=r"empty\.png is empty"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(ImageInputError, match="is empty"):
        load_image(b"")
    with pytest.raises(ImageInputError, match="cannot read an image from an object of type int"):
        load_image(42)


def test_non_images_and_damaged_images_are_not_readable(tmp_path):
    (tmp_path / "notes.txt").write_text("these are my notes, not a picture\n")
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    png = encode(Image.fromarray(noise))

    with pytest.raises(ImageInputError, match=r"notes.txt is not a readable image \(unknown"):
        load_image(tmp_path / "notes.txt")
    with pytest.raises(ImageInputError, match=r"not a readable image \("):
        load_image(png[:8] + bytes(range(256)) * 4)  # PNG signature, then garbage
    with pytest.raises(ImageInputError, match=r"not a readable image \(.*truncated"):
        load_image(png[: len(png) // 2])


@pytest.mark.parametrize(
    ("width", "height"),
    [(7000, 6000), (10000, 10000), (20000, 20000)],  # over ours; over PIL's warning; its error
)
def test_huge_images_are_refused_before_decoding(width, height, monkeypatch):
    def decode(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        with pytest.raises(ImageInputError, match="the limit is 40 megapixels"):
            load_image(png_header(width, height))
    assert escaped == []  # no DecompressionBombWarning either


def test_a_huge_array_is_refused_before_it_is_copied():
    huge = np.broadcast_to(np.uint8(0), (10000, 10000))  # a view: no 100 MB behind it

    with pytest.raises(ImageInputError, match=r"10000x10000 pixels \(100 megapixels\)"):
        load_image(huge)


def test_files_over_20_mb_are_refused(tmp_path):
    big = tmp_path / "big.png"
    with big.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk

    with pytest.raises(ImageInputError, match="the limit is 20 MB"):
        load_image(big)
    with pytest.raises(ImageInputError, match="the limit is 20 MB"):
        load_image(bytes(MAX_FILE_BYTES + 1))


def test_a_zero_size_pil_image_is_refused():
    with pytest.raises(ImageInputError, match=r"empty \(0x0 pixels\)"):
        load_image(Image.new("L", (0, 0)))


# ---- sketchpad drawings ------------------------------------------------------------------------


def stray_dot() -> np.ndarray:
    canvas = np.full((280, 280), 255, dtype=np.uint8)
    canvas[100:103, 100:103] = 0  # a click, 9 pixels
    return canvas


@pytest.mark.parametrize(
    "value",
    [
        None,
        {},
        {"background": None, "layers": [], "composite": None},
        {"composite": np.full((280, 280), 255, dtype=np.uint8)},
        np.zeros((280, 280), dtype=np.uint8),
        np.zeros((280, 280, 4), dtype=np.uint8),  # transparent, nothing drawn
        stray_dot(),
    ],
    ids=["none", "no-composite", "composite-none", "white", "black", "transparent", "stray-dot"],
)
def test_an_empty_canvas_asks_for_a_drawing(value):
    with pytest.raises(ImageInputError, match=r"^Draw a digit first: the canvas is empty\.$"):
        drawing_to_image(value)


def test_strokes_on_a_transparent_canvas_are_dark_ink_on_white():
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=18)

    image = drawing_to_image({"background": None, "layers": [], "composite": np.asarray(canvas)})

    assert image.mode == "L" and image.size == (280, 280)
    assert np.asarray(image)[140, 140] == 0 and np.asarray(image)[10, 10] == 255


def test_a_real_drawing_comes_back_unchanged_from_an_array_or_a_file():
    path = DRAWN / "3_strokes_0.png"
    drawing = np.asarray(Image.open(path))

    from_value = drawing_to_image({"background": None, "layers": [], "composite": drawing})
    from_file = drawing_to_image({"composite": str(path)})

    assert from_value.mode == "L" and np.array_equal(np.asarray(from_value), drawing)
    assert np.array_equal(np.asarray(from_file), drawing)


def test_a_light_on_dark_drawing_is_returned_dark_on_white():
    drawing = np.asarray(Image.open(DRAWN / "7_strokes_0.png"))

    assert np.array_equal(np.asarray(drawing_to_image(255 - drawing)), drawing)
