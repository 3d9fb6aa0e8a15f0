"""Serving: ONNX export and model cards, ONNX Runtime against PyTorch, the shipped animals model
and the classify CLI."""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from sklearn.datasets import load_digits

from core.paths import REPO_ROOT
from core.serving.onnx import ModelCard, ModelFileError, OnnxClassifier, load_model, ship_model
from core.shipped.drawings import labelled_drawings, score_drawings
from core.vision.backbones import create_backbone
from core.vision.data import dataset_splits, load_image_dataset
from core.vision.inputs import drawing_to_image, load_image
from core.vision.preprocess import InputSpec, prepare_batch

DIGITS_SPEC = InputSpec("gray", 28, (0.5,), (0.5,))


@pytest.fixture(scope="module")
def digit_images() -> list[np.ndarray]:
    """Real handwritten digits (scikit-learn's 8x8, values 0-16) as uint8 pictures."""
    return [(image * 255 / 16).astype(np.uint8) for image in load_digits().images[:64]]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> tuple[torch.nn.Module, ModelCard, OnnxClassifier]:
    """An untrained small CNN shipped to a temporary folder, with BN statistics made non-trivial."""
    torch.manual_seed(0)
    model = create_backbone("small_cnn", pretrained=False, num_classes=10, in_chans=1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    card = ModelCard(
        name="tiny",
        classes=[str(digit) for digit in range(10)],
        input=DIGITS_SPEC,
        data="nothing: an untrained network",
        metrics={"accuracy": 0.1},
        training="none",
    )
    out_dir = tmp_path_factory.mktemp("models")
    card = ship_model(model, card, out_dir)
    return model, card, load_model(out_dir / "tiny.onnx")


def test_ship_writes_one_self_contained_onnx_file_and_its_card(shipped):
    _, card, classifier = shipped
    folder = classifier.path.parent
    assert sorted(path.name for path in folder.iterdir()) == ["tiny.json", "tiny.onnx"]
    assert card.onnx_file == "tiny.onnx"
    assert card.parity_max_abs_diff < 1e-4
    assert ModelCard.load(folder / "tiny.json") == card
    assert classifier.card == card


def test_onnx_runtime_matches_pytorch_on_real_digits(shipped, digit_images):
    model, _, classifier = shipped
    batch = prepare_batch(digit_images, DIGITS_SPEC)
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(batch)).numpy()
    np.testing.assert_allclose(classifier.logits(batch), expected, atol=1e-4, rtol=0)
    probs = classifier.predict_proba(digit_images)
    assert probs.shape == (64, 10)
    np.testing.assert_allclose(probs, torch.from_numpy(expected).softmax(1).numpy(), atol=1e-5)


def test_top_k_is_sorted_and_consistent_with_predict_proba(shipped, digit_images):
    _, _, classifier = shipped
    top = classifier.top_k(digit_images[0], k=3)
    probs = classifier.predict_proba(digit_images[:1])[0]
    assert [name for name, _ in top] == [str(i) for i in np.argsort(-probs)[:3]]
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert sum(p for _, p in classifier.top_k(digit_images[0], k=10)) == pytest.approx(1.0)


def test_concurrent_predictions_agree_with_serial_ones(shipped, digit_images):
    _, _, classifier = shipped
    chunks = [digit_images[i : i + 8] for i in range(0, 64, 8)]
    serial = [classifier.predict_proba(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(classifier.predict_proba, chunks))
    for expected, got in zip(serial, concurrent, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_cpu_only_without_a_gpu(shipped):
    assert shipped[2].providers == ["CPUExecutionProvider"]


def test_load_model_is_cached(shipped):
    _, _, classifier = shipped
    assert load_model(classifier.path) is classifier
    assert load_model(str(classifier.path)) is classifier


def test_an_onnx_file_without_its_card_is_refused(shipped, tmp_path):
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(shipped[2].path.read_bytes())
    with pytest.raises(FileNotFoundError, match=r"lonely\.onnx has no model card.*lonely\.json"):
        load_model(lonely)


def test_a_corrupt_onnx_file_is_named(shipped, tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"not a protobuf at all")
    (tmp_path / "broken.json").write_text(shipped[2].path.with_suffix(".json").read_text())
    with pytest.raises(ModelFileError, match=r"broken\.onnx is not a usable ONNX model"):
        load_model(tmp_path / "broken.onnx")


def test_a_corrupt_card_is_named(tmp_path):
    (tmp_path / "bad.json").write_text("{ not json")
    with pytest.raises(ModelFileError, match=r"bad\.json"):
        ModelCard.load(tmp_path / "bad.json")


def test_a_card_that_does_not_fit_the_graph_is_refused(shipped, tmp_path):
    _, card, classifier = shipped
    rgb_card = ModelCard(**vars(card) | {"input": InputSpec("rgb", 28, (0, 0, 0), (1, 1, 1))})
    with pytest.raises(ModelFileError, match="its card expects"):
        OnnxClassifier(classifier.path, rgb_card)


def test_an_unknown_model_name_lists_the_shipped_ones():
    with pytest.raises(KeyError, match=r"no shipped model 'nonesuch'.*animals"):
        load_model("nonesuch")


# --- the shipped animals model (dlstudio build-models animals) ----------------------------------


def test_shipped_animals_model_says_cat_for_chelsea():
    animals = load_model("animals")
    assert animals.card.classes == ["cat", "dog", "wild"]
    assert animals.card.parity_max_abs_diff < 1e-3
    probs = animals.predict_proba([skimage.data.chelsea()])[0]
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert animals.top_k(skimage.data.chelsea(), k=1)[0][0] == "cat"
    assert probs.max() > 0.9


@pytest.mark.parametrize(
    "photo", sorted((REPO_ROOT / "assets" / "examples").glob("*.jpg")), ids=lambda p: p.stem
)
def test_real_cat_dog_and_wild_animal_photos_get_their_class(photo):
    """Photos named CLASS_*.jpg (real cats, a dog, a cheetah, a lion; see assets/README.md)."""
    top_class, probability = load_model("animals").top_k(load_image(photo), k=1)[0]
    assert top_class == photo.name.split("_")[0]
    assert probability > 0.5


def test_classify_cli_json(tmp_path):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff this is no JPEG")
    cat = REPO_ROOT / "assets" / "examples" / "cat_chelsea.jpg"
    command = [sys.executable, "-m", "core", "classify", str(cat), str(corrupt)]
    completed = subprocess.run(
        [*command, "--model", "animals", "--top-k", "2", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stderr
    output = json.loads(completed.stdout)
    assert output["model"] == "animals"
    cat_result, corrupt_result = output["results"]
    assert cat_result["image"] == str(cat)
    assert cat_result["top_k"][0]["class"] == "cat"
    assert len(cat_result["top_k"]) == 2
    assert corrupt_result["image"] == str(corrupt)
    assert "corrupt.jpg" in corrupt_result["error"]
    assert "Traceback" not in completed.stderr


def test_the_shipped_digits_model_reads_most_user_style_drawings():
    """The development drawings (tests/drawn_digits, which the recipe was chosen with in view):
    the shipped ensemble reads 126 of 140 (90 %); the threshold sits 7 drawings below. The
    first assertion checks that no drawing's reading hangs on rounding (the closest call is
    0.007 apart in probability; other ONNX Runtime kernels and thread counts move the
    probabilities by at most 3e-7)."""
    model = load_model("digits")
    drawings = sorted((REPO_ROOT / "tests" / "drawn_digits").glob("*.png"))
    assert len(drawings) >= 100
    pictures = [drawing_to_image(np.asarray(load_image(path))) for path in drawings]
    probabilities = model.predict_proba(pictures)
    second, first = np.sort(probabilities, axis=1)[:, -2:].T
    assert (first - second).min() > 1e-3
    read = [model.card.classes[index] for index in probabilities.argmax(1)]
    right = sum(label == path.name[0] for label, path in zip(read, drawings, strict=True))
    assert right / len(drawings) >= 0.85


def test_the_held_out_drawings_give_the_figure_on_the_digits_card():
    """The clean estimate: 320 drawings made after the model shipped, recomputed here through
    ONNX Runtime and the sketchpad's preprocessing. It read 283 (88.4 %, 95 % Wilson interval
    84.5-91.5 %); the threshold sits 27 drawings below, and the card's figure must match."""
    model = load_model("digits")
    score = score_drawings(model)
    assert score.drawings >= 300
    assert {path.name[0] for path, _ in labelled_drawings()} == set("0123456789")
    assert score.accuracy >= 0.80
    assert score.low < score.accuracy < score.high
    card = model.card.metrics
    assert abs(score.accuracy - card["held_out_drawings_accuracy"]) <= 2 / score.drawings
    assert card["held_out_drawings_count"] == score.drawings
    assert f"{score.drawings} sketchpad-style drawings" in model.card.notes


def test_drawings_are_refused_with_a_clear_message(tmp_path):
    with pytest.raises(ValueError, match="no drawings"):
        score_drawings(load_model("digits"), tmp_path)
    Image.new("L", (280, 280), 255).save(tmp_path / "x_blank.png")
    with pytest.raises(ValueError, match="labelled x, a class digits lacks"):
        score_drawings(load_model("digits"), tmp_path)


def test_the_shipped_digits_model_reaches_99_percent_on_the_held_out_test_split():
    """Recomputed through ONNX Runtime and the serving preprocessing, not read from the card."""
    model = load_model("digits")
    dataset = load_image_dataset("digits")
    test = dataset_splits(dataset, seed=0)["test"]
    probabilities = model.predict_proba([dataset.image(int(i)) for i in test])
    accuracy = float(np.mean(probabilities.argmax(1) == dataset.labels[test]))
    assert accuracy == pytest.approx(model.card.metrics["test_accuracy"], abs=1e-9)
    assert accuracy >= 0.99
