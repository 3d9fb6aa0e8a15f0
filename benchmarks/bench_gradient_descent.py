"""How long each interaction of the Gradient descent tab takes on the CPU, per preset.

    python -m benchmarks.bench_gradient_descent [--repeats 10]

Calls the tab's own event functions with each preset's defaults (lr, start point, 100 steps,
eps 1e-9; the comparison: gd, momentum and Nesterov, 300 steps) and serialises the figures as
Gradio does, so a number is the server's work for one event, without the browser. Prints the
median milliseconds and each one's share of the 200 ms budget the issue sets.
"""

import argparse
from collections.abc import Callable

import torch

from benchmarks.timing import median_ms
from core.descent import view
from core.descent.methods import PRESETS
from tabs import gradient_descent as tab

BUDGET_MS = 200.0
WARM_UP = 2


def event_ms(event: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of one UI event, including the JSON Gradio sends for its figures."""

    def once() -> None:
        for output in event():
            if hasattr(output, "to_json"):
                output.to_json()

    return median_ms(once, repeats, warm_up=WARM_UP)


def events(key: str) -> dict[str, Callable[[], object]]:
    """The tab's events for one preset, as the browser would send them."""
    subject = view.resolve(key)
    start = (*subject.start, 0.0)[:2]
    controls = (key, "", "gd", subject.lr, 0.9, -9, *start, 100)
    methods = ["gd", "momentum", "nesterov"]
    return {
        "choose": lambda: tab.choose_function(key, "", "gd", 0.9, -9, 100),
        "descend": lambda: tab.descend(*controls),
        "show step": lambda: tab.show_step(*controls, 3),
        "next step": lambda: tab.move_step(+1)(*controls, 3),
        "compare": lambda: tab.compare(key, "", methods, tab.COMPARE_LR, 0.9, 300),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = list(events("L"))
    print(f"median ms per event (share of the {BUDGET_MS:.0f} ms budget), CPU, 1 thread")
    print(f"{'preset':<12}" + "".join(f"{name:>18}" for name in names))
    worst = 0.0
    for key in PRESETS:
        timings = {name: event_ms(event, args.repeats) for name, event in events(key).items()}
        worst = max(worst, *timings.values())
        cells = "".join(f"{ms:>9.1f} ({ms / BUDGET_MS:>5.0%})" for ms in timings.values())
        print(f"{key:<12}{cells}")
    print(f"slowest event: {worst:.1f} ms = {worst / BUDGET_MS:.0%} of the budget")


if __name__ == "__main__":
    main()
