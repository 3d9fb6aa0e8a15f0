"""PyTorch eager against ONNX Runtime on the CPU, for a shipped model.

    python -m benchmarks.bench_onnx [--model animals] [--repeats 30]

Both run with one thread (the app's setting), on the same prepared batches of 1 and 32 images.
Prints the median milliseconds per batch after warm-up, the ratio eager / ONNX Runtime (goal:
ONNX Runtime at least 2x faster at batch 1) and the largest logit difference between the two.
"""

import argparse
from collections.abc import Callable

import numpy as np
import torch

from benchmarks.timing import median_ms
from core.serving.onnx import load_model
from core.shipped.build import animals_model

EAGER_MODELS: dict[str, Callable[[], torch.nn.Module]] = {"animals": animals_model}
BATCH_SIZES = (1, 32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(EAGER_MODELS), default="animals")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    eager = EAGER_MODELS[args.model]().eval()
    onnx = load_model(args.model)  # intra-op threads: 1
    spec = onnx.card.input
    rng = np.random.default_rng(0)
    print(f"model {args.model}: input {spec.kind} {spec.size}x{spec.size}, 1 thread, CPU")
    print(f"{'batch':>5} {'eager ms':>10} {'ORT ms':>10} {'eager/ORT':>10} {'max |diff|':>11}")
    for size in BATCH_SIZES:
        batch = rng.standard_normal((size, spec.channels, spec.size, spec.size), np.float32)
        tensor = torch.from_numpy(batch)
        with torch.inference_mode():
            eager_ms = median_ms(lambda t=tensor: eager(t), args.repeats)
            difference = np.abs(eager(tensor).numpy() - onnx.logits(batch)).max()
        onnx_ms = median_ms(lambda b=batch: onnx.logits(b), args.repeats)
        print(
            f"{size:>5} {eager_ms:>10.1f} {onnx_ms:>10.1f} {eager_ms / onnx_ms:>9.2f}x "
            f"{difference:>11.2e}"
        )


if __name__ == "__main__":
    main()
