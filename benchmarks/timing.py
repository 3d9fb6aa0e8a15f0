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


def latency_ratios(
    idle: dict[str, float], loaded: dict[str, float], goal: float
) -> dict[str, dict]:
    """Per endpoint: its idle and loaded median (ms), loaded / idle, and whether that ratio is
    within `goal`: what the benchmarks of one load against light requests report."""
    return {
        name: {
            "idle_ms": round(idle[name], 1),
            "loaded_ms": round(loaded[name], 1),
            "ratio": round(loaded[name] / idle[name], 3),
            "within_goal": loaded[name] / idle[name] <= goal,
        }
        for name in idle
    }


def print_ratios(endpoints: dict[str, dict], goal: str) -> None:
    """`latency_ratios` as a table; `goal` heads its last column ("within 2x")."""
    print(f"{'endpoint':<18}{'idle ms':>9}{'loaded ms':>11}{'ratio':>8}  {goal}")
    for name, row in endpoints.items():
        print(
            f"{name:<18}{row['idle_ms']:>9.1f}{row['loaded_ms']:>11.1f}{row['ratio']:>8.3f}"
            f"  {'yes' if row['within_goal'] else 'no'}"
        )
