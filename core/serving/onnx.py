"""Serving image classifiers: ONNX export, model cards and ONNX Runtime inference.

A shipped model is two files in `models/`: NAME.onnx (one self-contained ONNX graph, input
"input" of shape (N, C, size, size), output "logits" (N, K)) and NAME.json, its `ModelCard`:
the classes, the `InputSpec` that prepares its input, what it was trained on, how well it does
and the command that rebuilds it. `ship_model` writes both after checking that ONNX Runtime
gives the same logits as PyTorch; `load_model` serves them with ONNX Runtime.
"""

import functools
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf
from PIL import Image
from torch import nn

from core.device import onnx_providers
from core.paths import REPO_ROOT
from core.vision.preprocess import InputSpec, prepare_batch

MODELS_DIR = REPO_ROOT / "models"
OPSET = 18
INPUT_NAME, OUTPUT_NAME = "input", "logits"
PARITY_TOLERANCE = 1e-3  # max abs logit difference ONNX Runtime vs PyTorch that ship_model accepts
MODEL_NAME = re.compile(r"[A-Za-z0-9_-]+")


class ModelFileError(RuntimeError):
    """A model file or card exists but cannot be used; the message names the file."""


@dataclass
class ModelCard:
    """What a shipped model is: saved as JSON beside its .onnx file."""

    name: str
    classes: list[str]
    input: InputSpec
    data: str  # what it was trained (or checked) on
    metrics: dict[str, float] = field(default_factory=dict)
    training: str = ""  # how it was made
    notes: str = ""
    rebuild: str = ""  # for developers: the command that makes it again
    onnx_file: str = ""  # relative to the card; ship_model fills it in
    parity_max_abs_diff: float | None = None  # ONNX Runtime vs PyTorch logits; from ship_model

    def __post_init__(self) -> None:
        if not MODEL_NAME.fullmatch(self.name):
            raise ValueError(
                f"a model name becomes a file name: use letters, digits, _ and -, not {self.name!r}"
            )
        if len(self.classes) < 2:
            raise ValueError(f"a classifier needs at least two classes, not {self.classes!r}")

    def save(self, path: str | Path) -> None:
        data = asdict(self) | {"input": self.input.to_dict()}
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "ModelCard":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data | {"input": InputSpec.from_dict(data["input"])})
        except FileNotFoundError:
            raise
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ModelFileError(
                f"the model card {path} is unreadable or incomplete: {exc}"
            ) from exc


def export_onnx(model: nn.Module, spec: InputSpec, path: str | Path) -> Path:
    """Export `model` (put in eval mode) to one self-contained .onnx file with a dynamic batch.

    Uses the torch.export-based exporter (the TorchScript one is deprecated) with
    external_data=False: the weights go inside the file, not in a separate .onnx.data file that
    a model card would have to follow. The example batch has 2 images because the exporter
    would take a batch of 1 for a fixed size.
    """
    path = Path(path)
    model.eval()
    device = next(model.parameters()).device
    example = torch.zeros(2, spec.channels, spec.size, spec.size, device=device)
    torch.onnx.export(
        model,
        (example,),
        str(path),
        dynamo=True,
        external_data=False,
        verbose=False,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        opset_version=OPSET,
    )
    onnx.checker.check_model(str(path), full_check=True)
    return path


class OnnxClassifier:
    """An exported classifier served by ONNX Runtime, preparing images as its card says.

    `threads` sets ONNX Runtime's intra-op threads. The default is 1: on a busy 2-core machine
    PyTorch and ONNX Runtime with 2 threads were measured 5-8x slower than with 1. Predictions
    may run from several threads at once: ONNX Runtime sessions are thread-safe, so no lock.
    """

    def __init__(self, path: str | Path, card: ModelCard, threads: int = 1) -> None:
        self.path, self.card = Path(path), card
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX model file {self.path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.path), options, providers=onnx_providers()
            )
        except (InvalidProtobuf, InvalidGraph, Fail) as exc:
            raise ModelFileError(f"{self.path} is not a usable ONNX model: {exc}") from exc
        self._check_matches_card()

    @property
    def providers(self) -> list[str]:
        return self._session.get_providers()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, K) for an already prepared (N, C, size, size) float32 batch."""
        return self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities (N, K) for a sequence of images (PIL images or arrays)."""
        logits = self.logits(prepare_batch(images, self.card.input))
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def top_k(self, image, k: int = 3) -> list[tuple[str, float]]:
        """The k most probable classes of one image, most probable first."""
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        probs = self.predict_proba([image])[0]
        order = np.argsort(-probs, kind="stable")[:k]
        return [(self.card.classes[i], float(probs[i])) for i in order]

    def _check_matches_card(self) -> None:
        """The graph's input and output shapes must fit the card's spec and classes."""
        spec, classes = self.card.input, self.card.classes
        (graph_input,), (graph_output,) = self._session.get_inputs(), self._session.get_outputs()
        expected_input = [spec.channels, spec.size, spec.size]
        if graph_input.shape[1:] != expected_input or graph_output.shape[1:] != [len(classes)]:
            raise ModelFileError(
                f"{self.path} takes {graph_input.shape} and gives {graph_output.shape}, but its "
                f"card expects (N, {', '.join(map(str, expected_input))}) -> (N, {len(classes)})"
            )


def ship_model(model: nn.Module, card: ModelCard, out_dir: str | Path = MODELS_DIR) -> ModelCard:
    """Export to out_dir/NAME.onnx, check ONNX Runtime against PyTorch, write out_dir/NAME.json.

    The parity check runs both on a few random images prepared with the card's spec; the
    largest logit difference is recorded in the returned card. Above `PARITY_TOLERANCE` the
    .onnx file is removed and RuntimeError is raised, so no card points to a wrong model.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = export_onnx(model, card.input, out_dir / f"{card.name}.onnx")
    card = replace(card, onnx_file=onnx_path.name)
    batch = prepare_batch(_random_images(card.input), card.input)
    with torch.no_grad():
        device = next(model.parameters()).device
        eager = model(torch.from_numpy(batch).to(device)).float().cpu().numpy()
    difference = float(np.abs(OnnxClassifier(onnx_path, card).logits(batch) - eager).max())
    if difference > PARITY_TOLERANCE:
        onnx_path.unlink()
        raise RuntimeError(
            f"ONNX Runtime and PyTorch disagree on {card.name}: max abs logit difference "
            f"{difference:.2e} > {PARITY_TOLERANCE:g}; the export is not shipped"
        )
    card = replace(card, parity_max_abs_diff=difference)
    card.save(onnx_path.with_suffix(".json"))
    _load.cache_clear()  # a model shipped again under the same path must be reloaded
    return card


def list_models(models_dir: Path = MODELS_DIR) -> list[str]:
    """Names of the shipped models: each .onnx file with its .json card beside it."""
    return sorted(p.stem for p in models_dir.glob("*.onnx") if p.with_suffix(".json").is_file())


def load_model(name_or_path: str | Path) -> OnnxClassifier:
    """A shipped model by name ("animals") or any .onnx file with its card (same stem, .json).

    Loaded once per file and then shared (the app calls this for every request).
    """
    text = str(name_or_path)
    if text.endswith(".onnx"):
        return _load(Path(text).resolve())
    if text not in list_models():
        raise KeyError(
            f"no shipped model {text!r} in {MODELS_DIR}: shipped are "
            f"{', '.join(list_models()) or 'none'} (build one with dlstudio build-models "
            f"NAME), or give the path of an .onnx file"
        )
    return _load(MODELS_DIR / f"{text}.onnx")


@functools.cache
def _load(onnx_path: Path) -> OnnxClassifier:
    card_path = onnx_path.with_suffix(".json")
    if not onnx_path.is_file():
        raise FileNotFoundError(f"no ONNX model file {onnx_path}")
    if not card_path.is_file():
        raise FileNotFoundError(f"{onnx_path} has no model card: expected {card_path} beside it")
    return OnnxClassifier(onnx_path, ModelCard.load(card_path))


def _random_images(spec: InputSpec, count: int = 4, seed: int = 0) -> list[Image.Image]:
    """Noise pictures a little larger than the input, so resizing and cropping run too."""
    rng = np.random.default_rng(seed)
    shape = (spec.size + 16, spec.size + 24) + ((3,) if spec.channels == 3 else ())
    return [Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)) for _ in range(count)]
