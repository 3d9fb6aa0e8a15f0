"""What each tab computes with, on which data, and on which device: one line a tab shows.

    dlstudio info [--json]

The device comes from the same rules the code uses (`core.device`): PyTorch's device for the
language model, the dense retriever and training, ONNX Runtime's providers for the classifiers,
and the CPU for the NumPy tabs. On a ZeroGPU Space (`core.hosting.spaces`) the GPU is attached
per request to the decorated functions only, and training, which runs in a child process, stays
on the CPU. The statements are keyed by tool id (each tab module's `TOOL`: "classifier",
"gradient_descent", ...); the titles stay the tabs' own. The app puts `statement(tab.TOOL)` at
the top of each tab, so every tab says it.
"""

import argparse
import json
from dataclasses import asdict, dataclass

from core.decoding.lm import SMOLLM2, default_model
from core.device import device_name, onnx_providers
from core.embeddings import list_embedding_sets
from core.experiments import list_experiments
from core.hosting.spaces import on_zero_gpu
from core.retrieval.dense import MODEL_NAME as DENSE_MODEL
from core.retrieval.search import cached_corpus
from core.serving.onnx import MODELS_DIR, ModelCard, list_models

CPU = "CPU"


@dataclass(frozen=True)
class TabRuntime:
    """What one tab runs: its model(s), its data, the library that computes, and the device."""

    model: str
    data: str
    engine: str
    device: str

    def statement(self) -> str:
        return (
            f"**Model:** {self.model} · **Data:** {self.data} · "
            f"**Runs on:** {self.device} ({self.engine})"
        )


def torch_device() -> str:
    """Where PyTorch computes in the app's process (the LM, the dense retriever)."""
    return "GPU (ZeroGPU, attached per request)" if on_zero_gpu() else device_name()


def training_device() -> str:
    """Where a training run computes: its own child process, which ZeroGPU never gives a GPU."""
    return f"{CPU} (ZeroGPU gives no GPU to training processes)" if on_zero_gpu() else device_name()


def onnx_device() -> str:
    """Where ONNX Runtime sessions compute: CUDA when it is their first provider."""
    return device_name() if onnx_providers()[0] == "CUDAExecutionProvider" else CPU


def _card_summary(name: str) -> str:
    """A shipped model's name, its classes and the first clause of what its card says it was
    trained on: "`animals` (cat / dog / wild; ImageNet-1k)"."""
    card = ModelCard.load(MODELS_DIR / f"{name}.json")
    classes = " / ".join(card.classes) if len(card.classes) <= 3 else f"{len(card.classes)} classes"
    data = card.data
    for stop in (" (", ";", ","):
        data = data.split(stop)[0]
    return f"`{name}` ({classes}; {data})"


def _classifier() -> TabRuntime:
    shipped = list_models()
    return TabRuntime(
        model=", ".join(_card_summary(name) for name in shipped) or "none shipped yet",
        data="your drawing or photo; models you train in the Training tab are listed too",
        engine="ONNX Runtime",
        device=onnx_device(),
    )


def _decoding() -> TabRuntime:
    name = default_model()
    label = "SmolLM2-135M-Instruct (offline GGUF)" if name == SMOLLM2 else name
    return TabRuntime(
        model=f"{label}, loaded at the first request",
        data="your prompt",
        engine="PyTorch",
        device=torch_device(),
    )


def _retrieval() -> TabRuntime:
    collections = ", ".join(cached_corpus(None).collection_names())
    return TabRuntime(
        model=f"TF-IDF, BM25, {DENSE_MODEL} (dense, loaded at first use), hybrid",
        data=f"the shipped FAQ corpus ({collections}) or your CSV/JSONL",
        engine="PyTorch + faiss for the dense model, NumPy for the rest",
        device=torch_device(),
    )


def _gradient_descent() -> TabRuntime:
    return TabRuntime(
        model="no model: the optimisers step over a function",
        data="a preset function or one you type",
        engine="NumPy",
        device=CPU,
    )


def _metrics() -> TabRuntime:
    return TabRuntime(
        model="no model: metrics of labels and scores",
        data="the sample tables shown, or values and CSVs you enter",
        engine="NumPy / SciPy",
        device=CPU,
    )


def _pq_explorer() -> TabRuntime:
    sets = ", ".join(list_embedding_sets())
    return TabRuntime(
        model="product quantization (k-means) and per-component quantizers",
        data=f"stored model embeddings ({sets}), a synthetic Gaussian mixture, or your .npy",
        engine="NumPy",
        device=CPU,
    )


def _training() -> TabRuntime:
    return TabRuntime(
        model=f"the {len(list_experiments())} registered experiments' networks",
        data="the chosen experiment's data set (its description names it) or your CSV",
        engine="PyTorch, one child process per run",
        device=training_device(),
    )


TOOLS = {  # tool id (a tab's TOOL) -> what that tab runs on, in the app's tab order
    "classifier": _classifier,
    "decoding": _decoding,
    "retrieval": _retrieval,
    "gradient_descent": _gradient_descent,
    "metrics": _metrics,
    "pq_explorer": _pq_explorer,
    "training": _training,
}


def tab_runtime(tool: str) -> TabRuntime:
    """What the tab of tool `tool` runs on; KeyError names the tools there are."""
    if tool not in TOOLS:
        raise KeyError(f"no tool {tool!r}: the tools are {', '.join(TOOLS)}")
    return TOOLS[tool]()


def statement(tool: str) -> str:
    """The one Markdown line the tab of `tool` shows: model, data, device."""
    return tab_runtime(tool).statement()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio info",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the docstring's usage lines
    )
    parser.add_argument("--json", action="store_true", help="one JSON list instead of lines")
    args = parser.parse_args(argv)
    runtimes = {tool: tab_runtime(tool) for tool in TOOLS}
    if args.json:
        print(json.dumps([{"tab": t, **asdict(r)} for t, r in runtimes.items()], indent=2))
    else:
        for tool, runtime in runtimes.items():
            print(f"{tool}: {runtime.statement()}")
    return 0
