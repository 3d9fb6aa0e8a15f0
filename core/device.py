"""Device choice: CUDA with mixed precision when a GPU is present, the CPU otherwise."""

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
