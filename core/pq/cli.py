"""`dlstudio quantize`: how well product quantization keeps a set of vectors.

    dlstudio quantize VECTORS --m M --bits B [--method {optimal,lloyd,uniform,kmeans}]
                      [--holdout 0.2] [--seed 0] [--json]
    dlstudio quantize VECTORS --curves [--json]            # MSE vs bits, M = D
    dlstudio quantize VECTORS --equal-bits BITS [--json]   # M = D against PQ, same size

VECTORS is a .npy file of a 2-D float array, a shipped embedding set (fashion-lite0,
digits-smallcnn) or "gaussian-mixture". `--json` prints one evaluation's fields (a list of them
for --curves and --equal-bits), as `core.pq.evaluate` describes them. Refused vectors or
settings exit with status 2 and the reason.
"""

import argparse
import json

from core.pq.evaluate import (
    HOLDOUT,
    MAX_BITS,
    VectorInputError,
    compare_at_equal_bits,
    evaluate,
    load_vectors,
    mse_curves,
)
from core.pq.product import METHODS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlstudio quantize", description=__doc__.split("\n\n")[0])
    parser.add_argument("vectors", help=".npy file, embedding set name or gaussian-mixture")
    parser.add_argument("--m", type=int, help="number of sub-spaces (D: one per component)")
    parser.add_argument("--bits", type=int, help=f"bits per code, 1 to {MAX_BITS}")
    parser.add_argument("--method", choices=METHODS, help="default: optimal if M = D, else kmeans")
    parser.add_argument("--curves", action="store_true", help="MSE vs bits for M = D")
    parser.add_argument("--equal-bits", type=int, metavar="BITS", help="compare at BITS/vector")
    parser.add_argument("--holdout", type=float, default=HOLDOUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    single = args.m is not None or args.bits is not None
    if single + args.curves + (args.equal_bits is not None) != 1:
        parser.error("give --m and --bits, or --curves, or --equal-bits BITS")
    if single and (args.m is None or args.bits is None):
        parser.error("--m and --bits go together")
    try:
        vectors = load_vectors(args.vectors)
        if args.curves:
            result = mse_curves(vectors, holdout=args.holdout, seed=args.seed)
        elif args.equal_bits is not None:
            rows = compare_at_equal_bits(vectors, args.equal_bits, args.holdout, args.seed)
            result = [row.to_dict() for row in rows]
        else:
            evaluation = evaluate(vectors, args.m, args.bits, args.method, args.holdout, args.seed)
            result = evaluation.to_dict()
    except VectorInputError as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for row in result if isinstance(result, list) else [result]:
            print(", ".join(f"{key} {_short(value)}" for key, value in row.items()))
    return 0


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
