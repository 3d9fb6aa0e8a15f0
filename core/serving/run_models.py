"""Serve the image classifiers trained in the run store, like the shipped models.

    dlstudio runs [--db PATH] [--kind {digit,gray,rgb}] [--json]     (lists them)

A finished image run keeps its best checkpoint (`best_checkpoint` artifact). The first time it
is asked for, it is exported to ONNX with a card (`<run folder>/run-ID.onnx` + `.json`, parity
checked by `ship_model`); after that it is an ONNX file like any other, so the Classifier tab
and `dlstudio classify IMAGE --model run:ID` use the same code for both.

A run's model serves its owner, an admin, and everyone once shared (`core.runs.access`); the
`visitor` of every function here defaults to the terminal user, who may use them all.
"""

import argparse
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from core.paths import default_db_path
from core.runs.access import can_use, check_can_use
from core.runs.store import Run, RunStore
from core.serving.onnx import ModelCard, OnnxClassifier, load_model, ship_model
from core.sharing.visitors import LOCAL, Visitor
from core.vision.checkpoints import load_trained_model

RUN_PREFIX = "run:"  # "run:12" names run 12's model wherever a model name is taken
_EXPORT_LOCK = threading.Lock()  # two first requests for one run must not export it twice


@dataclass(frozen=True)
class RunModel:
    """A trained classifier in the run store."""

    run_id: int
    experiment: str
    input_kind: str  # the InputSpec kind: digit, gray or rgb
    classes: list[str]
    test_accuracy: float | None

    @property
    def key(self) -> str:
        """What `load_any_model` and `dlstudio classify --model` take."""
        return f"{RUN_PREFIX}{self.run_id}"

    @property
    def label(self) -> str:
        accuracy = "" if self.test_accuracy is None else f", test acc {self.test_accuracy:.2%}"
        return f"run {self.run_id} · {self.experiment}{accuracy}"


def _is_image_model(run: Run) -> bool:
    return run.trained_image_classifier and Path(run.artifacts["best_checkpoint"]).is_file()


def list_run_models(
    store: RunStore | None = None, kind: str | None = None, visitor: Visitor = LOCAL
) -> list[RunModel]:
    """Finished image runs `visitor` may use whose checkpoint is still on disk, newest first;
    `kind` keeps only the models whose input is of that kind (e.g. "digit" for the sketchpad)."""
    store = store or RunStore(default_db_path())
    models = [
        RunModel(
            run_id=run.id,
            experiment=run.experiment,
            input_kind=run.details["input_spec"]["kind"],
            classes=list(run.details["classes"]),
            test_accuracy=run.details.get("best_test_accuracy"),
        )
        for run in store.list(status="done")
        if can_use(visitor, run) and _is_image_model(run)
    ]
    return [model for model in models if kind is None or model.input_kind == kind]


def run_model_path(run_id: int, store: RunStore | None = None, visitor: Visitor = LOCAL) -> Path:
    """The ONNX file of a run's best checkpoint, exported (once) into the run's folder.

    KeyError or PermissionError when `visitor` may not use it (`check_can_use`).
    """
    store = store or RunStore(default_db_path())
    run = check_can_use(store, run_id, visitor)
    if not _is_image_model(run):
        raise ValueError(
            f"run {run_id} ({run.experiment}, {run.status}) has no trained image classifier: "
            "choose a finished run of an image experiment"
        )
    out_dir = Path(run.artifacts["best_checkpoint"]).parent
    name = f"run-{run_id}"
    onnx_path = out_dir / f"{name}.onnx"
    with _EXPORT_LOCK:
        if not (onnx_path.is_file() and onnx_path.with_suffix(".json").is_file()):
            _export(run, name, out_dir)
    return onnx_path


def _export(run: Run, name: str, out_dir: Path) -> None:
    model, spec, classes = load_trained_model(run.artifacts["best_checkpoint"])
    details, config, run_id = run.details, run.config, run.id
    card = ModelCard(
        name=name,
        classes=classes,
        input=spec,
        data=f"{config.get('data')} (run {run_id} of {run.experiment}, split seed "
        f"{config.get('split_seed', config.get('seed'))})",
        metrics={
            key.removeprefix("best_"): details[key]
            for key in ("best_test_accuracy", "best_test_macro_f1", "best_val_accuracy")
            if key in details
        },
        training=(
            f"{config.get('backbone')} ({'pretrained' if config.get('pretrained') else 'scratch'}"
            f"), recipe {config.get('recipe')}, {config.get('epochs')} epochs, best epoch "
            f"{details.get('best_epoch')} on val. Config: {json.dumps(config, sort_keys=True)}"
        ),
        notes="Trained from the Training tab or `dlstudio train`; exported at first use.",
    )
    ship_model(model, card, out_dir)


def load_any_model(
    name: str, store: RunStore | None = None, visitor: Visitor = LOCAL
) -> OnnxClassifier:
    """A shipped model ("digits"), an .onnx path, or a run's model ("run:12") `visitor` may use."""
    if name.startswith(RUN_PREFIX):
        run_id = name.removeprefix(RUN_PREFIX)
        if not run_id.isdigit():
            raise ValueError(f"{name!r}: a run's model is named run:ID, e.g. run:12")
        return load_model(run_model_path(int(run_id), store, visitor))
    return load_model(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio runs", description="List the image classifiers in the run store."
    )
    parser.add_argument("--db", type=Path, default=None, help="run store (default: the app's)")
    parser.add_argument("--kind", choices=("digit", "gray", "rgb"), default=None)
    parser.add_argument("--json", action="store_true", help="one JSON list instead of lines")
    args = parser.parse_args(argv)
    models = list_run_models(RunStore(args.db) if args.db else None, kind=args.kind)
    if args.json:
        print(json.dumps([model.__dict__ for model in models], indent=2))
    else:
        for model in models:
            print(f"{model.label}  ({model.input_kind}, {len(model.classes)} classes)")
    return 0
