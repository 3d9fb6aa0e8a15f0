"""Embedding data sets: a shipped model's penultimate layer, run by ONNX Runtime over real images.

    dlstudio embeddings NAME [--count N] [--out-dir DIR] [--json]   # (re)build one set
    dlstudio embeddings --list [--json]

A shipped model (`models/NAME.onnx`, see `core.serving.onnx`) outputs logits only. Its penultimate
layer is the input of its last fully connected layer (the final ONNX `Gemm`), so
`core.embeddings.build` cuts the served graph there and runs the cut graph over the data, with
the images prepared exactly as the model card says. Each set is kept in `assets/embeddings/`:

- NAME.npy: float32 (N, D) vectors, row i for image `image_ids[i]`;
- NAME.json: its `EmbeddingCard` (model, layer, data, labels, image ids, how it was reduced,
  the command that rebuilds it);
- NAME.pca.npz (only when reduced): the PCA mean and components that map the model's raw
  features to the stored vectors, so anyone can check a vector from its image.

Two recipes (`RECIPES`): "fashion-lite0", the ImageNet EfficientNet-Lite0 features of the
shipped `animals` model over 2,000 Fashion-MNIST test images, reduced from 1,280 to 64
dimensions by PCA to stay small in git; "digits-smallcnn", the 128 pooled features of the
shipped `digits` CNN over all 1,797 scikit-learn digits, kept whole. Reading a set needs only
NumPy (this module); building one needs ONNX Runtime and the image data (`build`).
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.paths import REPO_ROOT

EMBEDDINGS_DIR = REPO_ROOT / "assets" / "embeddings"


@dataclass(frozen=True)
class Recipe:
    """How one embedding set is made: which model over which images, reduced how."""

    model: str  # a shipped model in models/
    dataset: str  # a core.vision.data name
    count: int | None  # a stratified sample of this many images; None: all of them
    test_only: bool  # sample from the official test split only
    pca_dim: int | None  # keep this many principal components; None: the raw features
    why: str


RECIPES: dict[str, Recipe] = {
    "fashion-lite0": Recipe(
        model="animals",
        dataset="fashion-mnist",
        count=2000,
        test_only=True,
        pca_dim=64,
        why=(
            "The shipped animals model is the ImageNet-pretrained EfficientNet-Lite0; its "
            "1,280 pooled features are a general-purpose image embedding, and Fashion-MNIST's "
            "10,000 test images (never seen by it) give 10 well-populated classes. 2,000 images, "
            "200 per class (a stratified sample, seed 0). PCA to 64 dimensions keeps the file at "
            "0.5 MB for git and gives the 64-D case of the PQ study; the card records how much "
            "variance the 64 components keep."
        ),
    ),
    "digits-smallcnn": Recipe(
        model="digits",
        dataset="digits",
        count=None,
        test_only=False,
        pca_dim=None,
        why=(
            "The shipped digits model is the CNN trained in this project; its 128 pooled "
            "features over all 1,797 scikit-learn digits (its own training data included: the "
            "set shows what the classifier learnt, not how it generalises) are stored whole, "
            "float32, 0.9 MB."
        ),
    ),
}


@dataclass
class EmbeddingCard:
    """What an embedding set is: saved as NAME.json beside NAME.npy."""

    name: str
    model: str
    layer: str  # the ONNX tensor the vectors come from
    dataset: str
    classes: list[str]
    labels: list[int]  # class index of each vector's image
    image_ids: list[int]  # each vector's image: its index in load_image_dataset(dataset)
    feature_dim: int  # the layer's width
    dim: int  # the stored vectors' width
    reduction: str
    why: str
    build_command: str
    metrics: dict[str, float] = field(default_factory=dict)
    dtype: str = "float32"

    @property
    def count(self) -> int:
        return len(self.image_ids)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "EmbeddingCard":
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def summary(self) -> dict:
        """The card without its per-vector lists."""
        return {
            "name": self.name,
            "count": self.count,
            "dim": self.dim,
            "model": self.model,
            "dataset": self.dataset,
            "reduction": self.reduction,
            **self.metrics,
        }


def list_embedding_sets(directory: Path = EMBEDDINGS_DIR) -> list[str]:
    """Names of the sets in `directory`: each NAME.npy with its NAME.json card."""
    return sorted(p.stem for p in directory.glob("*.npy") if p.with_suffix(".json").is_file())


def embedding_sets_of(model: str, directory: Path = EMBEDDINGS_DIR) -> list[str]:
    """The sets made from the shipped model `model`'s features (the PQ explorer can open them
    from the Classifier)."""
    return [
        name
        for name in list_embedding_sets(directory)
        if EmbeddingCard.load(directory / f"{name}.json").model == model
    ]


def load_embedding_set(
    name: str, directory: Path = EMBEDDINGS_DIR
) -> tuple[np.ndarray, EmbeddingCard]:
    """The stored vectors and their card; KeyError names the sets there are."""
    if name not in list_embedding_sets(directory):
        raise KeyError(
            f"no embedding set {name!r} in {directory}: there are "
            f"{', '.join(list_embedding_sets(directory)) or 'none'} "
            f"(build one with dlstudio embeddings {' | '.join(RECIPES)})"
        )
    return np.load(directory / f"{name}.npy"), EmbeddingCard.load(directory / f"{name}.json")


def project(features: np.ndarray, name: str, directory: Path = EMBEDDINGS_DIR) -> np.ndarray:
    """Raw layer features mapped as the set's stored vectors were (its PCA, if any)."""
    path = directory / f"{name}.pca.npz"
    if not path.is_file():
        return features.astype(np.float32)
    with np.load(path) as pca:
        return ((features - pca["mean"]) @ pca["components"].T).astype(np.float32)
