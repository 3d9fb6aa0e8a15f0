"""Inference techniques against PyTorch eager on a trained classifier, on the CPU.

    python -m benchmarks.bench_inference [--run 15 | --checkpoint PATH] [--repeats 100]
                                         [--techniques eager ort_all ...]

One intra-op thread (the app's setting), the same test pictures for every technique. Prints the
median milliseconds per batch of 1 and of 64 after warm-up, the ratio eager / technique and the
largest logit difference against eager; then the ONNX Runtime speed-up over eager at batch 1
(all graph optimisations). The full study, with p95, throughput, accuracy, sizes and profiles,
is `dlstudio report inference`.
"""

import argparse

import numpy as np
import torch

from benchmarks.timing import median_ms
from core.paths import data_dir
from core.reports.inference import BASELINE, ORT_REFERENCE, checkpoint_of_run, load_subject
from core.serving.techniques import NotApplicable, build_predictor, list_techniques

TECHNIQUES = (
    "eager",
    "inference_mode",
    "fold_bn",
    "channels_last",
    "ort_basic",
    "ort_all",
    "ort_int8_static",
    "torch_int8_static",
)
BATCH_SIZES = (1, 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=int, default=15, help="run-store run id")
    parser.add_argument("--checkpoint", default=None, help="a best.pt file instead of a run")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--techniques", nargs="+", default=TECHNIQUES, choices=list_techniques())
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = args.checkpoint or checkpoint_of_run(args.run)
    subject, test, config = load_subject(checkpoint, data_dir() / "inference" / "bench")
    # eager is timed again as a technique: its ratio against the first timing shows the noise
    names = list(dict.fromkeys([BASELINE, ORT_REFERENCE, *args.techniques]))
    print(
        f"{checkpoint}: {config['backbone']} at {subject.spec.size}x{subject.spec.size}, 1 thread"
    )
    print(f"{'technique':<18} {'batch':>5} {'ms':>9} {'eager/it':>9} {'max |diff|':>11}")
    batches = {size: test.pictures[:size] for size in BATCH_SIZES}
    eager = build_predictor(BASELINE, subject)
    reference = {size: eager.predict(batch) for size, batch in batches.items()}
    eager_ms = {
        size: median_ms(lambda b=b: eager.predict(b), args.repeats) for size, b in batches.items()
    }
    ort_ratio = None
    for name in names:
        try:
            predictor = build_predictor(name, subject)
        except NotApplicable as reason:
            print(f"{name:<18} {reason}")
            continue
        for size, batch in batches.items():
            ms = median_ms(lambda b=batch, p=predictor: p.predict(b), args.repeats)
            difference = np.abs(predictor.predict(batch) - reference[size]).max()
            print(
                f"{name:<18} {size:>5} {ms:>9.3f} {eager_ms[size] / ms:>8.2f}x {difference:>11.2e}"
            )
            if name == ORT_REFERENCE and size == 1:
                ort_ratio = eager_ms[1] / ms
    print(f"ONNX Runtime speed-up over eager at batch 1: {ort_ratio:.2f}x")


if __name__ == "__main__":
    main()
