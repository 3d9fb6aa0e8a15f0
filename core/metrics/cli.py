"""What every `python -m core.metrics...` command shares: JSON or text out, one-line errors.

Bad input (any `ValueError`, which `MetricInputError` is) prints `error: MESSAGE` on one line
to stderr and exits with status 2, the status argparse uses for bad arguments.
"""

import argparse
import json
import math
import sys
from collections.abc import Callable

import numpy as np

BAD_INPUT = 2


def plain(value):
    """JSON-ready: numpy scalars to Python, NaN and infinities to null (JSON has neither)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_cli(
    parser: argparse.ArgumentParser,
    compute: Callable[[argparse.Namespace], dict],
    argv: list[str] | None,
    text: Callable[[dict], str],
) -> int:
    """Parse, compute, print JSON (`--json`) or `text(result)`; exit 2 on bad input."""
    args = parser.parse_args(argv)
    try:
        result = compute(args)
    except ValueError as error:
        message = " ".join(str(error).split())
        print(f"error: {message}", file=sys.stderr)
        return BAD_INPUT
    print(json.dumps(plain(result), indent=2) if args.json else text(result))
    return 0
