"""core.vision.preprocess: the input spec, and the tensors each kind of input becomes."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import data
from sklearn.datasets import load_digits

from core.vision.inputs import ImageInputError
from core.vision.preprocess import InputSpec, prepare, prepare_batch

DRAWN = Path(__file__).parent / "drawn_digits"
DRAWINGS = sorted(DRAWN.glob("*.png"))
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
UNIT = InputSpec("digit", 28, (0.0,), (1.0,))  # no normalisation: values are ink in [0, 1]
CENTRE = 13.5  # the centre of a 28 x 28 field in pixel coordinates


def drawing(name: str) -> np.ndarray:
    return np.asarray(Image.open(DRAWN / name))


# ---- InputSpec --------------------------------------------------------------------------------


def test_a_spec_round_trips_through_json():
    spec = InputSpec("rgb", 224, IMAGENET_MEAN, IMAGENET_STD)

    again = InputSpec.from_dict(json.loads(json.dumps(spec.to_dict())))

    assert again == spec and again.channels == 3
    assert InputSpec("digit", 28, [0.1307], [0.3081]).mean == (0.1307,)  # lists become tuples
    assert InputSpec("gray", 28, (0.5,), (0.5,)).channels == 1


@pytest.mark.parametrize(
    ("kind", "size", "mean", "std", "message"),
    [
        ("colour", 28, (0.5,), (0.5,), "unknown input kind 'colour'"),
        ("digit", 4, (0.5,), (0.5,), "at least 8"),
        ("digit", 28.0, (0.5,), (0.5,), "whole number"),
        ("rgb", 224, (0.5,), IMAGENET_STD, "mean needs 3 value"),
        ("gray", 28, (0.5,), (0.5, 0.5), "std needs 1 value"),
        ("gray", 28, (0.5,), (0.0,), "must be positive"),
    ],
)
def test_bad_specs_are_refused(kind, size, mean, std, message):
    with pytest.raises(ValueError, match=message):
        InputSpec(kind, size, mean, std)


def test_from_dict_names_missing_and_unknown_keys():
    with pytest.raises(ValueError, match=r"missing \['std'\], unknown \['colour'\]"):
        InputSpec.from_dict({"kind": "rgb", "size": 224, "mean": IMAGENET_MEAN, "colour": 1})


# ---- gray and rgb ------------------------------------------------------------------------------


def test_gray_resizes_the_whole_picture_and_normalises():
    picture = np.zeros((30, 60), dtype=np.uint8)
    picture[:, :30] = 255  # bright left half, dark right half: kept as is, no flip, no crop
    spec = InputSpec("gray", 16, (0.5,), (0.25,))

    tensor = prepare(picture, spec)

    assert tensor.shape == (1, 16, 16) and tensor.dtype == np.float32
    assert np.allclose(tensor[0, :, :7], (1 - 0.5) / 0.25)
    assert np.allclose(tensor[0, :, 9:], (0 - 0.5) / 0.25)


def test_rgb_normalises_each_channel():
    spec = InputSpec("rgb", 32, IMAGENET_MEAN, IMAGENET_STD)
    colour = np.array([200, 100, 50])

    tensor = prepare(np.broadcast_to(colour.astype(np.uint8), (50, 70, 3)), spec)

    expected = (colour / 255 - IMAGENET_MEAN) / IMAGENET_STD
    assert tensor.shape == (3, 32, 32) and tensor.dtype == np.float32
    assert np.allclose(tensor, expected[:, None, None], atol=1e-5)


def test_rgb_crops_the_centre_of_the_resized_photo():
    photo = np.full((200, 400, 3), 255, dtype=np.uint8)
    photo[:, :100] = (255, 0, 0)  # a red strip on the left quarter falls outside the crop
    spec = InputSpec("rgb", 32, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

    tensor = prepare(photo, spec)

    assert np.allclose(tensor, 1.0, atol=1e-6)


def test_rgb_of_a_real_photo_with_imagenet_statistics():
    tensor = prepare(data.chelsea(), InputSpec("rgb", 224, IMAGENET_MEAN, IMAGENET_STD))

    assert tensor.shape == (3, 224, 224) and tensor.dtype == np.float32
    channel_means = tensor.mean(axis=(1, 2))
    assert np.all(np.abs(channel_means) < 1.0)
    assert np.all((tensor.std(axis=(1, 2)) > 0.2) & (tensor.std(axis=(1, 2)) < 1.5))
    assert channel_means[0] > channel_means[2]  # a ginger cat: more red than blue


# ---- digit ------------------------------------------------------------------------------------


def test_the_drawn_digits_cover_every_label():
    labels = [int(path.name.split("_")[0]) for path in DRAWINGS]
    assert 100 <= len(DRAWINGS) <= 150
    assert all(labels.count(digit) >= 10 for digit in range(10))
    assert {Image.open(path).size for path in DRAWINGS} == {(280, 280)}


def test_drawn_digits_become_bright_centred_mnist_style_digits():
    batch = prepare_batch([Image.open(path) for path in DRAWINGS], UNIT)

    assert batch.shape == (len(DRAWINGS), 1, 28, 28) and batch.dtype == np.float32
    for path, (digit,) in zip(DRAWINGS, batch, strict=True):
        assert np.allclose(ndimage.center_of_mass(digit), CENTRE, atol=1.0), path.name
        assert digit.max() == pytest.approx(1.0, abs=0.05), path.name  # ink is bright
        assert digit[[0, 0, -1, -1], [0, -1, 0, -1]].max() == 0, path.name  # on black
        rows, cols = np.nonzero(digit > 0.2)
        longer_side = max(np.ptp(rows), np.ptp(cols)) + 1
        assert 18 <= longer_side <= 21, path.name  # MNIST's 20-pixel box


def test_digit_normalisation_uses_the_spec():
    spec = InputSpec("digit", 28, (0.1307,), (0.3081,))

    tensor = prepare(drawing("5_strokes_0.png"), spec)

    assert tensor.min() == pytest.approx(-0.1307 / 0.3081)
    assert tensor.max() == pytest.approx((1 - 0.1307) / 0.3081, abs=0.2)
    smallest = InputSpec("digit", 8, (0.0,), (1.0,))
    assert prepare(drawing("5_strokes_0.png"), smallest).shape == (1, 8, 8)


def test_polarity_dark_on_white_and_bright_on_black_give_the_same_tensor():
    dark_on_white = drawing("2_strokes_1.png")
    on_grey_paper = (60 + dark_on_white * (140 / 255)).astype(np.uint8)  # ink 60, paper 200

    expected = prepare(dark_on_white, UNIT)

    assert np.allclose(prepare(255 - dark_on_white, UNIT), expected, atol=1e-6)
    assert np.abs(prepare(on_grey_paper, UNIT) - expected).mean() < 0.01  # edges may move 1 px


def test_scikit_learn_digits_land_centred_and_bright():
    digits = load_digits()
    images = (digits.images / 16 * 255).astype(np.uint8)  # 8x8, bright ink on black

    batch = prepare_batch(images, UNIT)

    assert batch.shape == (len(images), 1, 28, 28)
    masses = np.array([ndimage.center_of_mass(digit[0]) for digit in batch])
    assert np.abs(masses - CENTRE).max() <= 1.0
    assert np.all(batch[:, 0, [0, 0, -1, -1], [0, -1, 0, -1]] == 0)  # not inverted
    assert np.all(batch.max(axis=(1, 2, 3)) > 0.8)  # ink bright (upscaling softens peaks)


@pytest.mark.parametrize(
    "blank",
    [np.full((280, 280), 255, dtype=np.uint8), np.zeros((8, 8), dtype=np.uint8)],
    ids=["white-canvas", "black-8x8"],
)
def test_a_blank_image_asks_for_a_digit(blank):
    with pytest.raises(ImageInputError, match="Draw a digit first"):
        prepare(blank, UNIT)


def test_numpy_input_gets_the_same_checks_as_files():
    with pytest.raises(ImageInputError, match=r"finite values in \[0, 1\]"):
        prepare(np.full((28, 28), 16.0), UNIT)


def test_prepare_batch_stacks_prepare_and_refuses_nothing():
    images = [drawing("0_strokes_0.png"), drawing("9_dejavu-serif_0.png")]

    batch = prepare_batch(images, UNIT)

    assert np.array_equal(batch, np.stack([prepare(image, UNIT) for image in images]))
    with pytest.raises(ValueError, match="no images"):
        prepare_batch([], UNIT)
