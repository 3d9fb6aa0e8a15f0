"""Backbones: real offline ImageNet weights, shapes, stages and the ImageNet -> animals head."""

import urllib.error

import pytest
import skimage.data
import torch
import torchvision.models._api
from PIL import Image
from torchvision import transforms

from core.vision.backbones import (
    ANIMAL_CLASSES,
    ANIMAL_IMAGENET_IDS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNetToAnimals,
    backbone_stages,
    create_backbone,
    list_backbones,
)

DOMESTIC_CATS = range(281, 286)
ESPRESSO = 967

# The reference ImageNet evaluation preprocessing, independent of core.vision.preprocess.
IMAGENET_EVAL = transforms.Compose(
    [
        transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
)


@pytest.fixture(scope="module")
def lite0() -> torch.nn.Module:
    return create_backbone("efficientnet_lite0", pretrained=True).eval()


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    """scikit-image's chelsea (a tabby cat) and coffee (a cup of espresso), ImageNet-prepared."""
    images = [skimage.data.chelsea(), skimage.data.coffee()]
    return torch.stack([IMAGENET_EVAL(Image.fromarray(image)) for image in images])


def test_lite0_weights_are_the_real_imagenet_ones(lite0, photos):
    with torch.no_grad():
        top1 = lite0(photos).argmax(dim=1).tolist()
    assert top1[0] in DOMESTIC_CATS
    assert top1[1] == ESPRESSO


def test_animals_head_says_cat_for_chelsea(lite0, photos):
    with torch.no_grad():
        log_probs = ImageNetToAnimals(lite0)(photos[:1])
    assert log_probs.shape == (1, len(ANIMAL_CLASSES))
    probs = log_probs.exp()[0]
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert ANIMAL_CLASSES[probs.argmax()] == "cat"
    assert probs.max().item() > 0.9


def test_animals_head_is_the_renormalised_group_sum():
    logits = torch.randn(4, 1000)
    probs = logits.softmax(dim=1)
    sums = torch.stack([probs[:, ANIMAL_IMAGENET_IDS[name]].sum(1) for name in ANIMAL_CLASSES], 1)
    expected = sums / sums.sum(dim=1, keepdim=True)
    model = ImageNetToAnimals(torch.nn.Identity())
    torch.testing.assert_close(model(logits).exp(), expected)


def test_animal_groups_are_disjoint_imagenet_ids():
    ids = [i for name in ANIMAL_CLASSES for i in ANIMAL_IMAGENET_IDS[name]]
    assert len(ids) == len(set(ids))
    assert all(0 <= i < 1000 for i in ids)


@pytest.mark.parametrize("name", list_backbones())
@pytest.mark.parametrize("in_chans", [1, 3])
def test_output_shape(name, in_chans):
    model = create_backbone(name, pretrained=False, num_classes=10, in_chans=in_chans).eval()
    size = 28 if name == "small_cnn" else 64
    with torch.no_grad():
        assert model(torch.randn(2, in_chans, size, size)).shape == (2, 10)


def test_grayscale_stem_sums_the_pretrained_rgb_filters(lite0):
    gray = create_backbone("efficientnet_lite0", pretrained=True, num_classes=10, in_chans=1)
    torch.testing.assert_close(gray.conv_stem.weight, lite0.conv_stem.weight.sum(1, keepdim=True))
    # A gray image gives the same features as its RGB copy, up to float32 summation order.
    image = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = gray.eval().forward_features(image)
        rgb_features = lite0.forward_features(image.expand(-1, 3, -1, -1))
    torch.testing.assert_close(features, rgb_features, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", list_backbones())
def test_stages_cover_every_parameter_once_and_end_with_the_head(name):
    model = create_backbone(name, pretrained=False, num_classes=7)
    stages = backbone_stages(model)
    staged = [id(p) for stage in stages for p in stage.parameters()]
    assert len(staged) == len(set(staged))
    assert set(staged) == {id(p) for p in model.parameters()}
    assert all(any(True for _ in stage.parameters()) for stage in stages)
    head_outputs = [m.out_features for m in stages[-1].modules() if isinstance(m, torch.nn.Linear)]
    assert head_outputs[-1] == 7


def test_small_cnn_has_no_pretrained_weights():
    with pytest.raises(ValueError, match="no pretrained weights"):
        create_backbone("small_cnn", pretrained=True)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"efficientnet_lite0.*small_cnn"):
        create_backbone("vgg11")


def test_torchvision_weights_without_network_say_so(monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", no_network)
    with pytest.raises(RuntimeError, match=r"need network.*efficientnet_lite0"):
        create_backbone("resnet18", pretrained=True)


def test_stages_of_an_unknown_model_are_refused():
    with pytest.raises(TypeError, match="no stages known"):
        backbone_stages(torch.nn.Linear(2, 2))
