"""Speed of the optimal M = D quantizer: divide and conquer against the naive dynamic programme.

    python -m benchmarks.bench_quantize [--vectors fashion-lite0] [--bits 8] [--naive-columns 64]

Fits 2^bits optimal levels to every component of the vectors (the shipped 2,000 x 64
embedding set by default, 256 levels) with the divide-and-conquer programme, then with the
naive O(K n^2) one on the first --naive-columns components, and prints wall-clock and CPU
seconds, the naive / divide-and-conquer ratio per component, and that both reach the same
squared error. Lloyd-Max and uniform are timed on all components for comparison. One thread;
the compiled kernels are warmed up first, so compilation is not counted.
"""

import argparse
import time
from collections.abc import Callable

import numpy as np

from core.pq.evaluate import load_vectors
from core.pq.scalar import lloyd_levels, optimal_levels, quantize, uniform_levels


def timed(fit: Callable[[np.ndarray], np.ndarray], columns: np.ndarray):
    """(wall seconds, CPU seconds, total squared error) of fitting every column."""
    wall, cpu = time.perf_counter(), time.process_time()
    levels = [fit(column) for column in columns]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    error = sum(((c - quantize(c, lv)) ** 2).sum() for c, lv in zip(columns, levels, strict=True))
    return wall, cpu, float(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", default="fashion-lite0", help=".npy file or set name")
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--naive-columns", type=int, default=64)
    args = parser.parse_args()
    columns = np.asarray(load_vectors(args.vectors), np.float64).T
    k = 2**args.bits
    optimal_levels(columns[0][:100], 4)  # compile (or load) the kernels
    optimal_levels(columns[0][:100], 4, monotone=False)
    print(f"{columns.shape[1]} values x {len(columns)} components, K = {k} levels, 1 thread")
    naive_columns = columns[: args.naive_columns]
    runs = {
        "optimal, divide and conquer": (lambda c: optimal_levels(c, k), columns),
        "optimal, naive": (lambda c: optimal_levels(c, k, monotone=False), naive_columns),
        "Lloyd-Max": (lambda c: lloyd_levels(c, k), columns),
        "uniform": (lambda c: uniform_levels(c, k), columns),
    }
    print(f"{'method':<28} {'components':>10} {'wall s':>8} {'CPU s':>8} {'squared error':>14}")
    results = {}
    for name, (fit, chosen) in runs.items():
        results[name] = timed(fit, chosen)
        wall, cpu, error = results[name]
        print(f"{name:<28} {len(chosen):>10} {wall:>8.2f} {cpu:>8.2f} {error:>14.6g}")
    fast_wall, fast_cpu, _ = results["optimal, divide and conquer"]
    naive_wall, naive_cpu, naive_error = results["optimal, naive"]
    share = args.naive_columns / len(columns)
    fast_error = timed(lambda c: optimal_levels(c, k), naive_columns)[2]
    print(
        f"naive / divide and conquer, per component: {naive_wall / (fast_wall * share):.0f}x "
        f"wall, {naive_cpu / (fast_cpu * share):.0f}x CPU; same squared error on the naive "
        f"components: {np.isclose(fast_error, naive_error, rtol=1e-9)}"
    )


if __name__ == "__main__":
    main()
