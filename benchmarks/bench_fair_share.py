"""Fair share: do a third visitor's light requests stay fast while two others run the heaviest
work the app allows?

    python -m benchmarks.bench_fair_share [--calls 7] [--url URL] [--json]

Without --url the benchmark starts `python app.py` itself (as `bench_load` does) with a
temporary data directory. It measures, as the median of --calls calls, the latency of a
classification (`/classify_animal` on a shipped example photo) and of a search of the shipped
corpus (`/retrieval_search`, the hybrid retriever, which embeds the query with MiniLM): first
on the idle app, then while visitor 1 runs the largest bootstrap the budget allows
(`/binary_intervals`, rows x resamples = `bootstrap_budget`) and visitor 2 uploads a generated
corpus of `upload_answers` answers (`/retrieval_upload`, which embeds every answer). It prints
loaded / idle for both and whether each is within 2x. The heavy work runs in the app's
low-priority worker (`core.sharing.heavy`), so the ratios measure how well the scheduler shields the
light requests; the number that matters is the ratio, not the absolute times.
"""

import argparse
import json
import random
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file

from benchmarks.bench_load import (
    app_in_temporary_folder,
    classify_animal,
    new_client,
    require_loopback,
)
from benchmarks.timing import latency_ratios, median_ms, print_ratios
from core.sharing.limits import HostLimits

MAX_RESAMPLES = 2_000  # the Binary metrics tab's slider ends here
WITHIN = 2.0  # loaded / idle at most this: the light requests keep their share
QUERY = ("Why is a mutable default value shared between calls?", "hybrid", "all collections", 5)
WORDS = [
    *("kettle", "garden", "window", "river", "lantern", "pencil", "harbour", "meadow", "violin"),
    *("copper", "blanket", "orchard", "compass", "ladder", "saddle", "tunnel", "marble"),
    *("feather", "canyon", "biscuit", "anchor", "velvet", "falcon", "chimney", "glacier"),
]


def shipped_search(client: Client, rng: random.Random) -> None:
    html = client.predict(*QUERY, api_name="/retrieval_search")
    if html.count('class="retrieval-hit"') != QUERY[3]:
        raise ValueError(f"expected {QUERY[3]} hits, got: {html[:200]}")


LIGHT = {"classify_animal": classify_animal, "shipped_search": shipped_search}


def light_median_ms(call, client: Client, calls: int) -> float:
    """Median latency of one light request (the warm-up is done once, before idle)."""
    rng = random.Random(0)
    return median_ms(lambda: call(client, rng), calls, warm_up=0)


def largest_bootstrap(client: Client, limits: HostLimits) -> None:
    """Visitor 1: rows x resamples exactly at the budget, with the slider's most resamples."""
    rows = limits.bootstrap_budget // MAX_RESAMPLES
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, rows)
    y_score = np.clip(0.3 * y_true + rng.random(rows) * 0.7, 0, 1).round(4)
    table = {
        "headers": ["y_true", "y_score"],
        "data": [[int(t), float(s)] for t, s in zip(y_true, y_score, strict=True)],
        "metadata": None,
    }
    result, _notes = client.predict(
        table, 0.5, 1.0, MAX_RESAMPLES, 0.95, api_name="/binary_intervals"
    )
    if result["data"][0][2] is None:
        raise ValueError(f"the bootstrap returned no intervals: {result['data'][:2]}")


def largest_upload(client: Client, limits: HostLimits, folder: Path) -> None:
    """Visitor 2: a generated corpus of `upload_answers` answers, each embedded on upload."""
    rng = random.Random(1)
    path = folder / "generated.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i in range(limits.upload_answers):
            answer = " ".join(rng.choice(WORDS) for _ in range(40))
            question = f"What about the {WORDS[i % len(WORDS)]} number {i}?"
            out.write(json.dumps({"question": question, "answer": answer}) + "\n")
    status, _collection = client.predict(handle_file(path), api_name="/retrieval_upload")
    if "Searching" not in str(status):
        raise ValueError(f"the upload was not loaded: {status}")


def under_load(url: str, calls: int, folder: Path) -> tuple[dict[str, float], float, list]:
    """Medians of the light calls while the two heavy visitors run; the heavy work's duration
    and any heavy failure."""
    limits = HostLimits.from_env()
    failures: list[str] = []

    def visitor(work, *args) -> None:
        try:
            work(new_client(url), limits, *args)
        except Exception as error:  # reported, not raised: the light figures still print
            failures.append(f"{work.__name__}: {type(error).__name__}: {error}"[:300])

    heavy = [
        threading.Thread(target=visitor, args=(largest_bootstrap,)),
        threading.Thread(target=visitor, args=(largest_upload, folder)),
    ]
    started = time.perf_counter()
    for thread in heavy:
        thread.start()
    time.sleep(5)  # both heavy events have reached the app and its worker
    third = new_client(url)
    loaded = {name: light_median_ms(call, third, calls) for name, call in LIGHT.items()}
    busy = [thread.is_alive() for thread in heavy]
    for thread in heavy:
        thread.join()
    if not all(busy):
        failures.append("a heavy visitor finished before the loaded calls did: ratios understate")
    return loaded, time.perf_counter() - started, failures


def measure(url: str, calls: int) -> dict:
    client = new_client(url)
    for call in LIGHT.values():  # warm-up: model loads
        call(client, random.Random(0))
    idle = {name: light_median_ms(call, client, calls) for name, call in LIGHT.items()}
    with tempfile.TemporaryDirectory(prefix="dlstudio-fair-") as folder:
        loaded, heavy_s, failures = under_load(url, calls, Path(folder))
    return {
        "calls": calls,
        "heavy_seconds": round(heavy_s, 1),
        "heavy_failures": failures,
        "endpoints": latency_ratios(idle, loaded, WITHIN),
    }


def print_table(result: dict) -> None:
    limits = HostLimits.from_env()
    print(
        f"heavy load: a bootstrap of {limits.bootstrap_budget // MAX_RESAMPLES:,} rows x "
        f"{MAX_RESAMPLES:,} resamples and an upload of {limits.upload_answers:,} answers, "
        f"{result['heavy_seconds']} s; medians of {result['calls']} calls"
    )
    print_ratios(result["endpoints"], "within 2x")
    for failure in result["heavy_failures"]:
        print(f"  note: {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=7, help="calls per median")
    parser.add_argument("--url", help="a running app on this machine (default: start one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.url:
        require_loopback(args.url)
        result = measure(args.url, args.calls)
    else:
        with app_in_temporary_folder() as url:
            result = measure(url, args.calls)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
