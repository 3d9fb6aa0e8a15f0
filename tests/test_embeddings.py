"""Embedding data sets: the shipped files against their cards, the data and the models; the cut
ONNX graph against PyTorch and against the served logits; a build from scratch."""

import json

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from core.embeddings import (
    EMBEDDINGS_DIR,
    RECIPES,
    list_embedding_sets,
    load_embedding_set,
    project,
)
from core.embeddings.build import FeatureExtractor, build_embedding_set, penultimate_graph
from core.embeddings.cli import main
from core.serving.onnx import INPUT_NAME, MODELS_DIR, load_model
from core.vision.backbones import create_backbone
from core.vision.data import FASHION_MNIST_DIR, load_image_dataset
from core.vision.preprocess import prepare_batch

CHECKED = 6  # vectors recomputed from their images per set


def dataset_or_skip(name: str):
    if name == "fashion-mnist" and not FASHION_MNIST_DIR.is_dir():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    return load_image_dataset(name)


def test_every_recipe_is_shipped():
    assert list_embedding_sets() == sorted(RECIPES)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_shipped_set_matches_its_card(name):
    vectors, card = load_embedding_set(name)
    recipe = RECIPES[name]
    assert vectors.dtype == np.float32 and vectors.shape == (card.count, card.dim)
    assert card.count >= 1000 and np.isfinite(vectors).all()
    assert (card.model, card.dataset) == (recipe.model, recipe.dataset)
    assert card.dim == (recipe.pca_dim or card.feature_dim)
    assert len(card.labels) == card.count
    assert np.all(np.diff(card.image_ids) > 0)  # sorted, no image twice
    assert set(card.labels) == set(range(len(card.classes)))
    assert (EMBEDDINGS_DIR / f"{name}.npy").stat().st_size < 2_000_000


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_labels_are_the_images_labels(name):
    _, card = load_embedding_set(name)
    dataset = dataset_or_skip(card.dataset)
    np.testing.assert_array_equal(dataset.labels[card.image_ids], card.labels)
    if RECIPES[name].test_only:
        assert dataset.is_test[card.image_ids].all()
    if RECIPES[name].count:  # a stratified sample: every class equally often
        assert len(set(np.bincount(card.labels))) == 1


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_stored_vectors_are_the_models_features_of_their_images(name):
    vectors, card = load_embedding_set(name)
    dataset = dataset_or_skip(card.dataset)
    rows = np.linspace(0, card.count - 1, CHECKED).astype(int)
    images = [dataset.image(card.image_ids[row]) for row in rows]
    recomputed = project(FeatureExtractor(card.model).features(images), name)
    scale = np.abs(vectors).max()
    np.testing.assert_allclose(recomputed, vectors[rows], rtol=0, atol=1e-4 * scale)


def test_lite0_cut_graph_gives_pytorchs_pooled_features():
    """The animals model's penultimate layer is EfficientNet-Lite0's 1,280 pooled features."""
    extractor = FeatureExtractor("animals")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (60, 80, 3), dtype=np.uint8) for _ in range(2)]
    model = create_backbone("efficientnet_lite0", pretrained=True).eval()
    batch = prepare_batch(images, extractor.card.input)
    with torch.no_grad():
        expected = model.forward_head(model.forward_features(torch.from_numpy(batch)), True)
    np.testing.assert_allclose(extractor.features(images), expected.numpy(), rtol=0, atol=1e-4)


def test_digits_features_through_the_last_layer_give_that_layers_output():
    """The features are exactly what the last fully connected layer of the served graph reads:
    applying its weights gives the tensor that layer outputs inside the graph (for the shipped
    ensemble, the last member's logits)."""
    extractor = FeatureExtractor("digits")
    graph = onnx.load(str(MODELS_DIR / "digits.onnx"))
    gemm = [node for node in graph.graph.node if node.op_type == "Gemm"][-1]
    weights = {init.name: numpy_helper.to_array(init) for init in graph.graph.initializer}
    transposed = {a.name: a.i for a in gemm.attribute}.get("transB", 0)
    weight, bias = weights[gemm.input[1]], weights[gemm.input[2]]
    images = [image for image in load_image_dataset("digits").images[:16]]
    features = extractor.features(images)
    logits = features @ (weight.T if transposed else weight) + bias
    layer = onnx.utils.Extractor(graph).extract_model([INPUT_NAME], [gemm.output[0]])
    session = ort.InferenceSession(layer.SerializeToString(), providers=["CPUExecutionProvider"])
    batch = prepare_batch(images, extractor.card.input)
    np.testing.assert_allclose(logits, session.run(None, {INPUT_NAME: batch})[0], atol=1e-4)
    assert features.shape == (16, 128) and features.min() >= 0  # pooled ReLU outputs
    served = load_model("digits").predict_proba(images).argmax(1)
    assert np.mean(served == load_image_dataset("digits").labels[:16]) >= 0.9


def test_a_graph_without_a_fully_connected_layer_is_refused(tmp_path):
    value = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["logits"])], "g", [value], [out]
    )
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match="no Gemm node"):
        penultimate_graph(path)


def test_building_a_small_set_writes_vectors_and_card(tmp_path, capsys):
    card = build_embedding_set("digits-smallcnn", tmp_path, count=40)
    vectors, loaded = load_embedding_set("digits-smallcnn", tmp_path)
    assert loaded == card and vectors.shape == (40, 128)
    assert np.bincount(card.labels).tolist() == [4] * 10  # stratified
    shipped, shipped_card = load_embedding_set("digits-smallcnn")
    rows = np.searchsorted(shipped_card.image_ids, card.image_ids)
    np.testing.assert_allclose(vectors, shipped[rows], rtol=0, atol=1e-5)
    assert main(["--list", "--out-dir", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [card.summary()] and listed[0]["count"] == 40


def test_an_unknown_set_names_the_known_ones(tmp_path):
    with pytest.raises(KeyError, match="fashion-lite0"):
        load_embedding_set("faces")
    with pytest.raises(KeyError, match="there are none"):
        load_embedding_set("digits-smallcnn", tmp_path)
