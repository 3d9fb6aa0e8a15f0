"""Hugging Face Spaces support: ZeroGPU wrapping of the GPU-heavy functions, and nothing else.

On a ZeroGPU Space (the platform sets `SPACES_ZERO_GPU=true` and ships the `spaces` package) a
GPU is attached only while a function decorated with `spaces.GPU` runs. `on_gpu` applies that
decorator there and returns the function itself everywhere else (a laptop, a container, a Docker
Space, CI), so the app has one code path.

    generate = on_gpu(duration=120)(generate)

What ZeroGPU cannot host: the Training tab's runs train in a child process of the app (see
`core.runs.jobs`), which never holds a ZeroGPU slice, so on ZeroGPU they train on the CPU. ZeroGPU
runs each decorated call in a process of its own, so a model loaded inside the call is loaded
again at every call: `preload_for_zero_gpu` loads the default language model in the app's
process before it starts serving, where ZeroGPU keeps it for every call.
"""

import importlib
import os
from collections.abc import Callable
from typing import TypeVar

from core.decoding.lm import load_lm

Function = TypeVar("Function", bound=Callable)


def on_zero_gpu() -> bool:
    """True on a ZeroGPU Space: `SPACES_ZERO_GPU` is set to a true value there."""
    return os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in ("1", "true", "yes")


def on_gpu(duration: int = 60) -> Callable[[Function], Function]:
    """A decorator: `spaces.GPU(duration=duration)` on a ZeroGPU Space, the identity otherwise.

    `duration` is the most seconds one call may hold the GPU (ZeroGPU's own default is 60).
    The `spaces` package is imported only on ZeroGPU; missing there, that is an error, because
    the function would silently run without the GPU the Space was given for it.
    """
    if duration < 1:
        raise ValueError(f"a GPU duration is a positive number of seconds, not {duration}")

    def decorate(function: Function) -> Function:
        if not on_zero_gpu():
            return function
        try:
            spaces = importlib.import_module("spaces")
        except ImportError as error:
            raise RuntimeError(
                "SPACES_ZERO_GPU is set but the `spaces` package is missing: "
                "ZeroGPU Spaces install it with Gradio"
            ) from error
        return spaces.GPU(duration=duration)(function)

    return decorate


def preload_for_zero_gpu() -> list[str]:
    """On ZeroGPU, load the default language model now (in the app's process); returns what was
    loaded. Elsewhere it loads nothing: models load at their first use, so the app starts fast."""
    if not on_zero_gpu():
        return []
    return [load_lm().name]
