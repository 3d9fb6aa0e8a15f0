"""`dlstudio optimize`: minimise a function of x (or x, y), as the Gradient descent tab does.

    dlstudio optimize --function EXPR [--method {gd,momentum,nesterov,adam,lion}]
        [--lr LR] [--momentum B] [--x0 X0 ...] [--eps EPS] [--max-steps N] [--json]
    dlstudio optimize --preset NAME [same options]   # a preset: its start point and box
    dlstudio optimize --race [PRESET] [--tol TOL] [--momenta B ...] [--json]
        # steps to f - f_min <= TOL of gd, momentum, nesterov at their best lr (and beta)
    dlstudio optimize --list-presets

`--json` prints {"x_min", "f_min", "steps", "stopped_by" ("eps", "max_steps" or "diverged"),
"hint", "trajectory": [{"step", "x", "f", "gradient", "step_size"}, ...], ...}. A refused
expression or setting exits with status 2 and one line on stderr, having run nothing of it.
Without --x0 a function starts at 2.0 in every variable, a preset at its own start point.
"""

import argparse
import json
import sys
from dataclasses import asdict

from core.descent.expressions import parse_function
from core.descent.methods import DEFAULT_START, METHODS, PRESETS, descend, get_preset, race


def minimise(args: argparse.Namespace) -> dict:
    """One run as the JSON the contract promises; ValueError for refused input."""
    if args.preset:
        preset = get_preset(args.preset)
        function, box = preset.function(), preset.box
        x0 = args.x0 or list(preset.x0)
        lr = preset.lr if args.lr is None else args.lr
    else:
        function, box = parse_function(args.function), None
        x0 = args.x0 or [DEFAULT_START] * function.dim
        lr = 0.1 if args.lr is None else args.lr
    if len(x0) != function.dim:
        raise ValueError(
            f"--x0 needs {function.dim} number(s), one per variable "
            f"({', '.join(function.variables)}), got {len(x0)}"
        )
    run = descend(function, x0, args.method, lr, args.momentum, args.eps, args.max_steps, box=box)
    return {"function": function.text, "variables": list(function.variables), **run.to_dict()}


def summary(result: dict) -> str:
    point = ", ".join(f"{value:.6g}" for value in result["x_min"])
    lines = [
        f"{result['method']} on f({', '.join(result['variables'])}) = {result['function']}",
        f"x_min = ({point}), f_min = {result['f_min']:.8g}",
        f"{result['steps']} steps, stopped by {result['stopped_by']}",
    ]
    return "\n".join(lines + ([result["hint"]] if result["hint"] else []))


def race_table(result: dict) -> str:
    lines = [
        f"steps to f - f_min <= {result['tol']:g} on {result['preset']}, each at its best lr",
        "| method | lr | momentum | steps |",
        "| --- | --- | --- | --- |",
    ]
    for row in result["results"]:
        steps = row["steps"] if row["steps"] is not None else "not reached"
        lines.append(f"| {row['method']} | {row['lr']:.4g} | {row['momentum']:g} | {steps} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio optimize",
        description="Minimise a function of x (or x, y) by gradient descent or a variant of it.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--function", help="an expression in x, or x and y, e.g. 'x**2 + sin(x)'")
    what.add_argument("--preset", help=f"one of {', '.join(PRESETS)}")
    what.add_argument(
        "--race",
        nargs="?",
        const="bowl",
        metavar="PRESET",
        help="steps to --tol of gd, momentum and nesterov at their best lr (default: bowl)",
    )
    what.add_argument("--list-presets", action="store_true")
    parser.add_argument("--method", choices=tuple(METHODS), default="gd")
    parser.add_argument("--lr", type=float, help="learning rate (default 0.1, or the preset's)")
    parser.add_argument("--momentum", type=float, default=0.9, help="beta (beta1: adam, lion)")
    parser.add_argument("--x0", type=float, nargs="+", help="start point, one number a variable")
    parser.add_argument("--eps", type=float, default=1e-9, help="stop when |f_k - f_k-1| < eps")
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--tol", type=float, default=1e-6, help="--race: reach f - f_min <= tol")
    parser.add_argument(
        "--momenta", type=float, nargs="+", help="--race: the betas to try (default 0.3-0.95)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    if args.list_presets:
        for preset in PRESETS.values():
            print(f"{preset.key:<12} f = {preset.text:<40} {preset.label}")
        return 0
    try:
        if args.race:
            grid = {"momenta": args.momenta} if args.momenta else {}
            results = [asdict(result) for result in race(args.race, tol=args.tol, **grid)]
            result = {"preset": args.race, "tol": args.tol, "results": results}
        else:
            result = minimise(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(race_table(result) if args.race else summary(result))
    return 0
