"""Device choice: CUDA with mixed precision when a GPU is present, the CPU otherwise.

PyTorch (`pick_device`) and ONNX Runtime (`onnx_providers`) follow the same rule, so a container
started with `docker run --gpus all` uses the GPU for both and one without a GPU uses the CPU.
"""

import contextlib

import torch


def pick_device(preference: str = "auto") -> torch.device:
    """`auto` picks CUDA when available; `cpu` / `cuda` force one (`cuda` fails without a GPU)."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available")
    if preference not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {preference!r}")
    return torch.device(preference)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision (fp16 autocast) on CUDA; a no-op on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def onnx_providers() -> list[str]:
    """ONNX Runtime's execution providers: CUDA first when a GPU is there, else the CPU alone.

    CUDA is never asked for without a GPU (ONNX Runtime would log errors and fall back anyway).
    """
    if torch.cuda.is_available():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def device_name(device: torch.device | None = None) -> str:
    """The device in words for the UI: "GPU (NVIDIA H100 80GB HBM3)" or "CPU"."""
    device = device or pick_device()
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)})"
    return "CPU"
