"""Building an embedding set: cut a served ONNX graph at its penultimate layer and run it.

`penultimate_graph` cuts, `FeatureExtractor` runs the cut graph with ONNX Runtime (one
thread, CPU), `build_embedding_set` follows a `core.embeddings.RECIPES` entry and writes the
set's files.
"""

from pathlib import Path

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from core.embeddings import EMBEDDINGS_DIR, RECIPES, EmbeddingCard, Recipe
from core.serving.onnx import INPUT_NAME, MODELS_DIR, ModelCard
from core.vision.data import ImageDataset, load_image_dataset
from core.vision.preprocess import prepare_batch

BATCH = 64
SEED = 0


def penultimate_graph(onnx_path: Path) -> tuple[onnx.ModelProto, str]:
    """The served graph cut at the input of its last Gemm (the classifier layer), and the name
    of that tensor. ValueError when the graph has no Gemm."""
    model = onnx.load(str(onnx_path))
    gemms = [node for node in model.graph.node if node.op_type == "Gemm"]
    if not gemms:
        raise ValueError(f"{onnx_path} has no Gemm node: no fully connected last layer to cut at")
    layer = gemms[-1].input[0]
    return onnx.utils.Extractor(model).extract_model([INPUT_NAME], [layer]), layer


class FeatureExtractor:
    """A shipped model's penultimate layer, served by ONNX Runtime with one thread."""

    def __init__(self, model: str, models_dir: Path = MODELS_DIR) -> None:
        onnx_path = models_dir / f"{model}.onnx"
        if not onnx_path.is_file():
            raise FileNotFoundError(
                f"no shipped model {onnx_path}: build it with dlstudio build-models {model}"
            )
        self.card = ModelCard.load(onnx_path.with_suffix(".json"))
        graph, self.layer = penultimate_graph(onnx_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def features(self, images) -> np.ndarray:
        """(N, feature_dim) float32 features of a sequence of images (arrays or PIL images)."""
        batches = []
        for start in range(0, len(images), BATCH):
            batch = prepare_batch(images[start : start + BATCH], self.card.input)
            batches.append(self._session.run(None, {INPUT_NAME: batch})[0])
        return np.concatenate(batches)


def sample_ids(dataset: ImageDataset, count: int | None, test_only: bool) -> np.ndarray:
    """Sorted image ids: a stratified sample of `count` (seed 0), or every candidate."""
    ids = np.flatnonzero(dataset.is_test) if test_only else np.arange(len(dataset))
    if count is None or count >= len(ids):
        return ids
    chosen, _ = train_test_split(
        ids, train_size=count, stratify=dataset.labels[ids], random_state=SEED
    )
    return np.sort(chosen)


def build_embedding_set(
    name: str, out_dir: Path = EMBEDDINGS_DIR, count: int | None = None
) -> EmbeddingCard:
    """Run the recipe and write NAME.npy, NAME.json (and NAME.pca.npz) into out_dir.

    `count` overrides the recipe's number of images (a quick build for tests).
    """
    recipe = _recipe(name)
    dataset = load_image_dataset(recipe.dataset)
    if dataset.is_test is None and recipe.test_only:
        raise ValueError(f"{recipe.dataset} has no official test split to sample from")
    ids = sample_ids(dataset, count or recipe.count, recipe.test_only)
    extractor = FeatureExtractor(recipe.model)
    features = extractor.features([dataset.image(int(i)) for i in ids])
    out_dir.mkdir(parents=True, exist_ok=True)
    vectors, reduction, metrics = features, "none: the layer's raw features", {}
    if recipe.pca_dim is not None:
        pca = PCA(n_components=recipe.pca_dim, svd_solver="full").fit(features)
        vectors = pca.transform(features)
        reduction = f"PCA to {recipe.pca_dim} components (mean and components in {name}.pca.npz)"
        metrics = {"pca_explained_variance": float(pca.explained_variance_ratio_.sum())}
        np.savez(
            out_dir / f"{name}.pca.npz",
            mean=pca.mean_.astype(np.float32),
            components=pca.components_.astype(np.float32),
        )
    vectors = vectors.astype(np.float32)
    np.save(out_dir / f"{name}.npy", vectors)
    card = EmbeddingCard(
        name=name,
        model=recipe.model,
        layer=f"{extractor.layer} (input of the last Gemm of models/{recipe.model}.onnx)",
        dataset=recipe.dataset,
        classes=dataset.classes,
        labels=dataset.labels[ids].tolist(),
        image_ids=ids.tolist(),
        feature_dim=features.shape[1],
        dim=vectors.shape[1],
        reduction=reduction,
        why=recipe.why,
        build_command=f"dlstudio embeddings {name}",
        metrics=metrics,
    )
    card.save(out_dir / f"{name}.json")
    return card


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"no recipe {name!r}: choose one of {', '.join(RECIPES)}")
    return RECIPES[name]
