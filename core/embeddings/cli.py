"""`dlstudio embeddings NAME | --list`: build one embedding set, or list the built ones."""

import argparse
import json
from pathlib import Path

from core.embeddings import EMBEDDINGS_DIR, RECIPES, list_embedding_sets, load_embedding_set
from core.embeddings.build import build_embedding_set


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio embeddings", description="Build or list the embedding data sets."
    )
    parser.add_argument("name", nargs="?", choices=sorted(RECIPES), help="the set to (re)build")
    parser.add_argument("--count", type=int, help="number of images (default: the recipe's)")
    parser.add_argument("--out-dir", type=Path, default=EMBEDDINGS_DIR)
    parser.add_argument("--list", action="store_true", help="list the sets in --out-dir")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if args.list == (args.name is not None):
        parser.error("give one set NAME to build, or --list")
    if args.count is not None and args.count < 2:
        parser.error("--count must be at least 2")
    try:
        if args.list:
            names = list_embedding_sets(args.out_dir)
            cards = [load_embedding_set(name, args.out_dir)[1] for name in names]
        else:
            cards = [build_embedding_set(args.name, args.out_dir, args.count)]
    except (KeyError, ValueError, FileNotFoundError) as error:
        parser.error(error.args[0])
    summaries = [card.summary() for card in cards]
    if args.json:
        print(json.dumps(summaries if args.list else summaries[0], indent=2))
    else:
        for summary in summaries:
            print(", ".join(f"{key} {value}" for key, value in summary.items()))
    return 0
