"""The one timing rule the benchmarks share: warm up, then the median of several runs."""

import statistics
import time
from collections.abc import Callable


def median_ms(run: Callable[[], object], repeats: int, warm_up: int = 3) -> float:
    """Median wall-clock milliseconds of `run()` over `repeats` calls after `warm_up` calls
    (the first calls pay for caches, allocations and lazy initialisation)."""
    for _ in range(warm_up):
        run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)
