"""Inference techniques for a trained image classifier, each a named entry in a registry.

    predictor = build_predictor("ort_int8_static", subject)
    logits = predictor.predict(batch)          # (N, C, size, size) float32 -> (N, K) logits
    predictor.size_bytes                       # the serialized artifact it serves from

A `Subject` is what every technique starts from: the eval-mode PyTorch model, its `InputSpec`,
a few prepared validation pictures for calibration (never test pictures) and a folder for the
files the techniques write (the ONNX export, quantized and optimised models, state dicts). Each
technique is a small function registered by name with a one-line description, as timm registers
its models, so the study and the benchmark loop over names instead of an if-chain. Techniques
that need a GPU say why they do not apply (`Technique.unavailable`) instead of running.

`core.reports.inference` measures them (latency, throughput, size, accuracy, profiles) and writes
the report.
"""

import contextlib
import copy
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_dynamic,
    quantize_static,
)
from torch import fx, nn
from torch.nn.utils import prune
from torch.nn.utils.fusion import fuse_conv_bn_eval

from core.serving.onnx import INPUT_NAME, OUTPUT_NAME, export_onnx
from core.vision.preprocess import InputSpec

CALIBRATION_BATCH = 32  # pictures per calibration batch for static int8
PRUNE_AMOUNT = 0.3  # share of all conv / linear weights set to zero by global L1 pruning
GRAPH_LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
CPU_PROVIDERS = ["CPUExecutionProvider"]


class NotApplicable(RuntimeError):
    """The technique cannot run on this machine (e.g. it needs a CUDA GPU); says why."""


@dataclass
class Subject:
    """A trained classifier and what the techniques need besides it."""

    model: nn.Module  # eval mode, on the CPU
    spec: InputSpec
    calibration: np.ndarray  # prepared validation pictures (N, C, size, size) for static int8
    work_dir: Path  # where the techniques write their artifacts
    threads: int = 1  # intra-op threads of PyTorch and ONNX Runtime

    def __post_init__(self) -> None:
        self.work_dir = Path(self.work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)

    @functools.cached_property
    def onnx_path(self) -> Path:
        """The fp32 ONNX export (core.serving.onnx.export_onnx), made once."""
        return export_onnx(self.model, self.spec, self.work_dir / "model.onnx")

    @functools.cached_property
    def preprocessed_onnx_path(self) -> Path:
        """The export after ONNX Runtime's quantization pre-processing (shape inference and
        graph clean-up), the recommended input of quantize_static / quantize_dynamic."""
        path = self.work_dir / "model.preprocessed.onnx"
        quant_pre_process(str(self.onnx_path), str(path))
        return path

    @functools.cached_property
    def state_dict_path(self) -> Path:
        """The fp32 weights as torch.save writes them: the eager model's artifact."""
        return save_state(self.model, self.work_dir / "eager.pt")


@dataclass
class Predictor:
    """A technique applied: logits for a prepared batch, and the file it serves from."""

    predict: Callable[[np.ndarray], np.ndarray]
    artifact: Path
    note: str = ""  # e.g. how many BatchNorms were folded

    @property
    def size_bytes(self) -> int:
        return artifact_size(self.artifact)


@dataclass(frozen=True)
class Technique:
    """One registry entry: how to build its predictor and, if it may not apply, why not."""

    name: str
    description: str
    build: Callable[[Subject], Predictor]
    requires: Callable[[], str | None] | None = None  # None when it applies, else the reason

    def unavailable(self) -> str | None:
        """Why the technique cannot run here, or None when it can."""
        return self.requires() if self.requires else None


TECHNIQUES: dict[str, Technique] = {}


def register(name: str, description: str, requires: Callable[[], str | None] | None = None):
    """Decorator adding a `build(subject) -> Predictor` function to the registry."""

    def add(build: Callable[[Subject], Predictor]) -> Callable[[Subject], Predictor]:
        TECHNIQUES[name] = Technique(name, description, build, requires)
        return build

    return add


def list_techniques() -> list[str]:
    """Registered technique names, in registration order (eager first)."""
    return list(TECHNIQUES)


def get_technique(name: str) -> Technique:
    if name not in TECHNIQUES:
        raise ValueError(
            f"unknown inference technique {name!r}: choose one of {', '.join(TECHNIQUES)}"
        )
    return TECHNIQUES[name]


def build_predictor(name: str, subject: Subject) -> Predictor:
    """The named technique applied to the subject; NotApplicable when it cannot run here."""
    technique = get_technique(name)
    reason = technique.unavailable()
    if reason:
        raise NotApplicable(f"{name}: {reason}")
    return technique.build(subject)


# -- helpers ----------------------------------------------------------------------------------


def artifact_size(path: str | Path) -> int:
    """Bytes of a serialized model on disk."""
    return Path(path).stat().st_size


def save_state(model: nn.Module, path: Path) -> Path:
    """torch.save of the model's state dict (packed int8 weights included) to `path`."""
    torch.save(model.state_dict(), path)
    return path


def torch_predictor(
    model: nn.Module,
    context: Callable[[], contextlib.AbstractContextManager] = torch.inference_mode,
    convert: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
) -> Callable[[np.ndarray], np.ndarray]:
    """predict(batch) running `model` inside `context()` on `convert(batch)`, float32 logits."""

    def predict(batch: np.ndarray) -> np.ndarray:
        with context():
            return model(convert(torch.from_numpy(batch))).float().cpu().numpy()

    return predict


def ort_session(
    path: Path,
    threads: int,
    level: str = "all",
    providers: list | None = None,
    optimized_path: Path | None = None,
    profile_prefix: Path | None = None,
) -> ort.InferenceSession:
    """An ONNX Runtime session with `threads` intra-op threads and a graph optimisation level
    ("disabled", "basic", "all"); optionally saving the optimised graph or profiling."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = GRAPH_LEVELS[level]
    if optimized_path is not None:
        options.optimized_model_filepath = str(optimized_path)
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile_prefix)
    return ort.InferenceSession(str(path), options, providers=providers or CPU_PROVIDERS)


def ort_predict(session: ort.InferenceSession) -> Callable[[np.ndarray], np.ndarray]:
    return lambda batch: session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]


class _NormLeafTracer(fx.Tracer):
    """Keeps every BatchNorm2d (timm's BatchNormAct2d too) as one module call in the graph."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, nn.BatchNorm2d) or super().is_leaf_module(module, qualified_name)


def _after_norm(norm: nn.BatchNorm2d) -> nn.Module | None:
    """What a BatchNorm module does after normalising: nothing for nn.BatchNorm2d, dropout and
    activation for timm's BatchNormAct2d; None for other subclasses (left unfolded)."""
    if type(norm) is nn.BatchNorm2d:
        return nn.Identity()
    if hasattr(norm, "drop") and hasattr(norm, "act"):
        return nn.Sequential(norm.drop, norm.act)
    return None


def _replace_module(root: nn.Module, target: str, module: nn.Module) -> None:
    parent, _, attribute = target.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attribute, module)


def fold_batchnorm(model: nn.Module) -> tuple[fx.GraphModule, int]:
    """An eval-mode copy of `model` with each BatchNorm2d that follows a Conv2d folded into that
    conv (w' = w * g / sqrt(var + eps), b' = (b - mean) * g / sqrt(var + eps) + beta), and how
    many were folded.

    torch.fx's own `fuse` matches exact types only, so it folds nothing in timm's EfficientNet,
    whose norms are BatchNormAct2d (a BatchNorm2d subclass that also applies its activation);
    here the norm is replaced by what it does after normalising.
    """
    model = copy.deepcopy(model).eval()
    graph = _NormLeafTracer().trace(model)
    traced = fx.GraphModule(model, graph)
    modules = dict(traced.named_modules())
    folded = 0
    for node in traced.graph.nodes:
        norm = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(norm, nn.BatchNorm2d) or not node.args:
            continue
        source = node.args[0]
        conv = modules.get(source.target) if isinstance(source, fx.Node) else None
        rest = _after_norm(norm)
        if type(conv) is not nn.Conv2d or len(source.users) != 1 or rest is None:
            continue
        _replace_module(traced, source.target, fuse_conv_bn_eval(conv, norm))
        _replace_module(traced, node.target, rest)
        folded += 1
    traced.recompile()
    return traced, folded


class _CalibrationBatches(CalibrationDataReader):
    """Feeds prepared pictures to onnxruntime's quantize_static, a batch at a time."""

    def __init__(self, pictures: np.ndarray, batch_size: int = CALIBRATION_BATCH) -> None:
        self._batches = iter(
            [
                {INPUT_NAME: pictures[i : i + batch_size]}
                for i in range(0, len(pictures), batch_size)
            ]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def _no_cuda() -> str | None:
    if not torch.cuda.is_available():
        return (
            "not applicable on this CPU machine: no CUDA GPU (torch.cuda.is_available() is False)"
        )
    return None


def _ort_provider(provider: str) -> Callable[[], str | None]:
    """Requirement: a CUDA GPU and `provider` among ONNX Runtime's available providers (the
    onnxruntime-gpu wheel lists CUDA and TensorRT even on machines without a GPU)."""

    def requires() -> str | None:
        if provider not in ort.get_available_providers():
            return f"not applicable: this ONNX Runtime build has no {provider}"
        return _no_cuda()

    return requires


# -- PyTorch ----------------------------------------------------------------------------------


@register("eager", "PyTorch eager, torch.no_grad (the baseline)")
def _eager(subject: Subject) -> Predictor:
    return Predictor(torch_predictor(subject.model, torch.no_grad), subject.state_dict_path)


@register("inference_mode", "torch.inference_mode instead of no_grad (no autograd bookkeeping)")
def _inference_mode(subject: Subject) -> Predictor:
    return Predictor(torch_predictor(subject.model), subject.state_dict_path)


@register("fold_bn", "inference_mode + BatchNorm folded into the preceding conv (torch.fx)")
def _fold_bn(subject: Subject) -> Predictor:
    folded, count = fold_batchnorm(subject.model)
    path = save_state(folded, subject.work_dir / "fold_bn.pt")
    return Predictor(torch_predictor(folded), path, f"{count} BatchNorm layers folded")


@register("channels_last", "inference_mode + NHWC memory format for weights and input")
def _channels_last(subject: Subject) -> Predictor:
    model = copy.deepcopy(subject.model).to(memory_format=torch.channels_last)
    convert = functools.partial(torch.Tensor.contiguous, memory_format=torch.channels_last)
    return Predictor(torch_predictor(model, convert=convert), subject.state_dict_path)


@register("bf16_autocast", "inference_mode + torch.autocast('cpu', bfloat16)")
def _bf16_autocast(subject: Subject) -> Predictor:
    def context() -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16))
        return stack

    return Predictor(torch_predictor(subject.model, context), subject.state_dict_path)


@register("torch_compile", "inference_mode + torch.compile (Inductor, default mode)")
def _torch_compile(subject: Subject) -> Predictor:
    compiled = torch.compile(copy.deepcopy(subject.model))
    predict = torch_predictor(compiled)
    started = time.perf_counter()
    predict(subject.calibration[:1])  # compiles for batch 1 now, so it counts as build time
    note = f"first call (compilation) {time.perf_counter() - started:.1f} s"
    return Predictor(predict, subject.state_dict_path, note)


@register("torch_int8_dynamic", "torch.ao dynamic int8 quantization of the Linear layers")
def _torch_int8_dynamic(subject: Subject) -> Predictor:
    model = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(subject.model), {nn.Linear}, dtype=torch.qint8
    )
    path = save_state(model, subject.work_dir / "torch_int8_dynamic.pt")
    return Predictor(torch_predictor(model), path, "convolutions stay fp32")


@register("torch_int8_static", "torch.ao FX static int8 (x86 backend), calibrated on val pictures")
def _torch_int8_static(subject: Subject) -> Predictor:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    example = (torch.from_numpy(subject.calibration[:1]),)
    prepared = prepare_fx(copy.deepcopy(subject.model), get_default_qconfig_mapping("x86"), example)
    calibrate = torch_predictor(prepared)
    for start in range(0, len(subject.calibration), CALIBRATION_BATCH):
        calibrate(subject.calibration[start : start + CALIBRATION_BATCH])
    model = convert_fx(prepared)
    path = save_state(model, subject.work_dir / "torch_int8_static.pt")
    return Predictor(torch_predictor(model), path)


@register("prune_l1", f"inference_mode + global L1 pruning of {PRUNE_AMOUNT:.0%} of the weights")
def _prune_l1(subject: Subject) -> Predictor:
    model = copy.deepcopy(subject.model)
    weights = [(m, "weight") for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    prune.global_unstructured(weights, prune.L1Unstructured, amount=PRUNE_AMOUNT)
    for module, name in weights:
        prune.remove(module, name)  # the zeros become part of the dense weight tensors
    path = save_state(model, subject.work_dir / "prune_l1.pt")
    return Predictor(torch_predictor(model), path, "zeros stored densely: same file size")


@register("cuda_fp16", "PyTorch on the GPU with fp16 autocast (mixed precision)", _no_cuda)
def _cuda_fp16(subject: Subject) -> Predictor:
    model = copy.deepcopy(subject.model).cuda()

    def context() -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        stack.enter_context(torch.autocast("cuda", dtype=torch.float16))
        return stack

    return Predictor(torch_predictor(model, context, torch.Tensor.cuda), subject.state_dict_path)


# -- ONNX Runtime -----------------------------------------------------------------------------


def _ort_level(level: str) -> Callable[[Subject], Predictor]:
    def build(subject: Subject) -> Predictor:
        optimized = subject.work_dir / f"model.ort_{level}.onnx"
        session = ort_session(subject.onnx_path, subject.threads, level, optimized_path=optimized)
        return Predictor(ort_predict(session), optimized)

    return build


register("ort_disabled", "ONNX Runtime, graph optimisations off (ORT_DISABLE_ALL)")(
    _ort_level("disabled")
)
register("ort_basic", "ONNX Runtime, basic graph optimisations (ORT_ENABLE_BASIC)")(
    _ort_level("basic")
)
register("ort_all", "ONNX Runtime, all graph optimisations (ORT_ENABLE_ALL), optimised file saved")(
    _ort_level("all")
)


@register(
    "ort_int8_static",
    "ONNX Runtime int8 QDQ: quant_pre_process + quantize_static, per-channel, val calibration",
)
def _ort_int8_static(subject: Subject) -> Predictor:
    path = subject.work_dir / "model.int8_static.onnx"
    quantize_static(
        str(subject.preprocessed_onnx_path),
        str(path),
        _CalibrationBatches(subject.calibration),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    return Predictor(ort_predict(ort_session(path, subject.threads)), path)


@register("ort_int8_dynamic", "ONNX Runtime dynamic int8: weights int8, activations at run time")
def _ort_int8_dynamic(subject: Subject) -> Predictor:
    path = subject.work_dir / "model.int8_dynamic.onnx"
    quantize_dynamic(str(subject.preprocessed_onnx_path), str(path), weight_type=QuantType.QInt8)
    return Predictor(ort_predict(ort_session(path, subject.threads)), path)


def _ort_gpu(providers: list) -> Callable[[Subject], Predictor]:
    def build(subject: Subject) -> Predictor:
        session = ort_session(subject.onnx_path, subject.threads, providers=providers)
        return Predictor(ort_predict(session), subject.onnx_path)

    return build


register(
    "ort_cuda",
    "ONNX Runtime CUDAExecutionProvider",
    _ort_provider("CUDAExecutionProvider"),
)(_ort_gpu(["CUDAExecutionProvider", "CPUExecutionProvider"]))
register(
    "ort_tensorrt",
    "ONNX Runtime TensorrtExecutionProvider (fp16)",
    _ort_provider("TensorrtExecutionProvider"),
)(
    _ort_gpu(
        [
            ("TensorrtExecutionProvider", {"trt_fp16_enable": True}),
            "CUDAExecutionProvider",
            "CPUExecutionProvider",
        ]
    )
)
