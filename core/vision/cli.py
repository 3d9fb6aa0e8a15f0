"""`dlstudio fetch afhq`: download a data set the app can fetch into its data directory."""

import argparse
import sys

from tqdm import tqdm

from core.paths import redact_paths
from core.vision.hub import HUB_BYTES, HUB_REPO, fetch_afhq

FETCHERS = {"afhq": fetch_afhq}


def fetch_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio fetch",
        description=f"Download a data set into the data directory: afhq from {HUB_REPO} "
        f"(about {HUB_BYTES / 1e6:.0f} MB, once).",
    )
    parser.add_argument("name", choices=sorted(FETCHERS))
    args = parser.parse_args(argv)
    with tqdm(total=1.0, desc=args.name, file=sys.stderr, bar_format="{desc}: {l_bar}") as bar:

        def show(fraction: float, message: str) -> None:
            bar.n = fraction
            bar.set_description_str(f"{args.name}: {message}")

        try:
            folder = FETCHERS[args.name](show)
        except (OSError, ValueError) as error:
            print(f"error: {redact_paths(str(error))}", file=sys.stderr)
            return 1
    print(f"{args.name} is in {folder}")
    return 0
