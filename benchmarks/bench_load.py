"""Load test: concurrent gradio_client clients drive the running app for a bounded time.

    python -m benchmarks.bench_load [--seconds 60] [--clients 20] [--url URL] [--json]

Without --url the benchmark starts `python app.py` itself on a free loopback port, with a
temporary DLSTUDIO_DATA, and stops it at the end; a --url must name a loopback host
(127.0.0.1, ::1, localhost): this tool never loads a machine it does not run on.

Each client is a thread with its own `gradio_client.Client`. It calls the app's endpoints one
after another, drawing each from a fixed mix (seeded per client): digit recognition on a drawn
digit from tests/drawn_digits, animal classification on a photo from assets/examples, retrieval
queries (BM25 and the hybrid, which encodes the query with MiniLM), binary metrics with their
bootstrap intervals, and short greedy generations (8 new tokens; the LM is the slow part on a
CPU, so its share is small). Requests still running at the end are waited for and counted.

Before the load: a warm-up (each endpoint once: this loads the LM and MiniLM), then each
endpoint alone, several calls in a row from one client, whose median is the idle latency the
loaded figures compare to.

Latency is wall clock at the client: the file upload, the wait in Gradio's queue, the function,
and gradio_client's own reading of the event stream, which looks for new messages every 50 ms
(so an idle call through gradio_client already costs ~70-100 ms on this app, most of it not the
app's). Goal: zero errors, and the classifier's p95 under 100 ms on 2 CPU cores.
"""

import argparse
import contextlib
import ipaddress
import json
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gradio_client import Client, handle_file

from benchmarks.app_process import REPO, served_app

DIGITS = sorted((REPO / "tests" / "drawn_digits").glob("*_strokes_*.png"))
PHOTOS = sorted((REPO / "assets" / "examples").glob("*.jpg"))
QUERIES = (
    ("How do I install a source package?", "bm25", "debian-faq-en"),
    ("Why is a mutable default value shared between calls?", "hybrid", "all collections"),
    ("How do I read a file line by line?", "bm25", "python-faq"),
    ("Как обновить систему?", "hybrid", "all collections"),
)
PROMPTS = ("What is the capital of France?", "Name a primary colour.", "What is 2 + 2?")
CLASSIFIERS = ("recognise_digit", "classify_animal")
IDLE_CALLS = 5


def recognise_digit(client: Client, rng: random.Random) -> None:
    drawing = {"background": None, "layers": [], "composite": handle_file(rng.choice(DIGITS))}
    expect_label(client.predict({**drawing, "id": None}, "digits", api_name="/recognise_digit"))


def classify_animal(client: Client, rng: random.Random) -> None:
    photo = handle_file(rng.choice(PHOTOS))
    expect_label(client.predict(photo, "animals", api_name="/classify_animal"))


def retrieval_search(client: Client, rng: random.Random) -> None:
    query, retriever, collection = rng.choice(QUERIES)
    html = client.predict(query, retriever, collection, 5, api_name="/retrieval_search")
    if html.count('class="retrieval-hit"') != 5:
        raise ValueError(f"expected 5 hits, got: {html[:200]}")


def binary_metrics(client: Client, rng: random.Random) -> None:
    table, _notes = client.predict(api_name="/binary_metrics")  # the tab's 60-row example
    if len(table["data"]) < 10:
        raise ValueError(f"expected every metric, got {table['data']}")


def generate(client: Client, rng: random.Random) -> None:
    settings = ("greedy", 0.7, 0.9, "assignment", 1, 8, 0)  # strategy ... max_new_tokens, seed
    job = client.submit("smollm2", "", rng.choice(PROMPTS), *settings, api_name="/generate")
    job.result()
    if not any(isinstance(update[0], str) and update[0] for update in job.outputs()):
        raise ValueError("the generation streamed no reply")


@dataclass(frozen=True)
class Endpoint:
    name: str
    call: Callable[[Client, random.Random], None]
    weight: int  # relative share of the calls in the mix


MIX = (
    Endpoint("recognise_digit", recognise_digit, 30),
    Endpoint("classify_animal", classify_animal, 20),
    Endpoint("retrieval_search", retrieval_search, 25),
    Endpoint("binary_metrics", binary_metrics, 20),
    Endpoint("generate", generate, 5),
)


def expect_label(result: dict) -> None:
    if not isinstance(result, dict) or not result.get("confidences"):
        raise ValueError(f"expected a label with confidences, got {result!r}")


@dataclass(frozen=True)
class Call:
    endpoint: str
    started: float
    latency_s: float
    error: str | None


def timed(endpoint: Endpoint, client: Client, rng: random.Random) -> Call:
    started = time.perf_counter()
    try:
        endpoint.call(client, rng)
        error = None
    except Exception as failure:  # a load test counts every failure, whatever its kind
        error = f"{type(failure).__name__}: {failure}"[:300]
    return Call(endpoint.name, started, time.perf_counter() - started, error)


def new_client(url: str) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


def client_loop(
    client: Client, mix: list[Endpoint], seed: int, deadline: float, calls: list[Call]
) -> None:
    """One simulated user: calls drawn from `mix` until the deadline (the last one finishes)."""
    rng = random.Random(seed)
    weights = [endpoint.weight for endpoint in mix]
    while time.perf_counter() < deadline:
        endpoint = rng.choices(mix, weights)[0]
        calls.append(timed(endpoint, client, rng))  # list.append is atomic under the GIL


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, as numpy's default."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(calls: list[Call], seconds: float, idle_ms: dict[str, float]) -> dict:
    rows = {}
    for endpoint in MIX:
        if endpoint.name not in idle_ms:  # left out of this run's mix
            continue
        mine = [call for call in calls if call.endpoint == endpoint.name]
        latencies = [1000 * call.latency_s for call in mine if call.error is None]
        rows[endpoint.name] = {
            "count": len(mine),
            "errors": sum(call.error is not None for call in mine),
            "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
            "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
            "idle_p50_ms": round(idle_ms[endpoint.name], 1),
        }
    classifier = [
        1000 * call.latency_s
        for call in calls
        if call.endpoint in CLASSIFIERS and call.error is None
    ]
    classifier_p95 = percentile(classifier, 95) if classifier else float("inf")
    return {
        "seconds": round(seconds, 1),
        "requests": len(calls),
        "requests_per_s": round(len(calls) / seconds, 2),
        "errors": sum(call.error is not None for call in calls),
        "first_errors": sorted({call.error for call in calls if call.error})[:5],
        "classifier_p95_ms": round(classifier_p95, 1),
        "classifier_p95_under_100ms": classifier_p95 < 100,
        "endpoints": rows,
    }


def warm_up(url: str, mix: list[Endpoint]) -> dict[str, float]:
    """Each endpoint once (model loads), then its median over IDLE_CALLS calls on an idle app."""
    client = new_client(url)
    rng = random.Random(0)
    idle = {}
    for endpoint in mix:
        call = timed(endpoint, client, rng)
        if call.error:
            raise SystemExit(f"warm-up: {endpoint.name} failed: {call.error}")
        times = [timed(endpoint, client, rng) for _ in range(IDLE_CALLS)]
        failed = [call.error for call in times if call.error]
        if failed:
            raise SystemExit(f"idle calls: {endpoint.name} failed: {failed[0]}")
        idle[endpoint.name] = 1000 * statistics.median(call.latency_s for call in times)
    return idle


def run_load(
    url: str, mix: list[Endpoint], clients: int, seconds: float
) -> tuple[list[Call], float]:
    """`clients` threads calling for `seconds`; returns the calls and the seconds until the
    last one finished. The clients connect first, one by one, outside the timed part."""
    connected = [new_client(url) for _ in range(clients)]
    calls: list[Call] = []
    started = time.perf_counter()
    deadline = started + seconds
    threads = [
        threading.Thread(target=client_loop, args=(client, mix, seed, deadline, calls), daemon=True)
        for seed, client in enumerate(connected)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return calls, time.perf_counter() - started


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(
            f"refusing to load {host or url!r}: --url must be a loopback address "
            "(127.0.0.1, ::1 or localhost), an app running on this machine"
        )


@contextlib.contextmanager
def app_in_temporary_folder() -> Iterator[str]:
    """The app with a data directory of its own (an empty run store), removed afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="dlstudio-load-") as data,
        served_app(Path(data)) as url,
    ):
        yield url


def print_table(result: dict, clients: int) -> None:
    print(
        f"{clients} clients, {result['seconds']} s: {result['requests']} requests, "
        f"{result['requests_per_s']} requests/s, {result['errors']} errors"
    )
    print(f"{'endpoint':<18}{'count':>7}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'idle ms':>9}")
    for name, row in result["endpoints"].items():
        p50 = "-" if row["p50_ms"] is None else f"{row['p50_ms']:.0f}"
        p95 = "-" if row["p95_ms"] is None else f"{row['p95_ms']:.0f}"
        print(
            f"{name:<18}{row['count']:>7}{row['errors']:>8}{p50:>9}{p95:>9}"
            f"{row['idle_p50_ms']:>9.0f}"
        )
    for error in result["first_errors"]:
        print(f"  error: {error}")
    verdict = "yes" if result["classifier_p95_under_100ms"] else "no"
    print(f"classifier p95 < 100 ms: {verdict} ({result['classifier_p95_ms']:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running app on a loopback address (default: start one)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[endpoint.name for endpoint in MIX],
        help="call only these endpoints (default: the whole mix)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    mix = [endpoint for endpoint in MIX if not args.only or endpoint.name in args.only]
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients must be >= 1 and --seconds > 0")
    if args.url:
        require_loopback(args.url)
    with contextlib.nullcontext(args.url) if args.url else app_in_temporary_folder() as url:
        idle_ms = warm_up(url, mix)
        calls, seconds = run_load(url, mix, args.clients, args.seconds)
    result = {"clients": args.clients, **summary(calls, seconds, idle_ms)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result, args.clients)


if __name__ == "__main__":
    main()
