"""Does the Training tab's timer slow the app? Classification latency with nobody on the
Training tab, then with several viewers on it.

    python -m benchmarks.bench_training_tab [--viewers 5] [--calls 15] [--browsers] [--json]

Without --url the benchmark starts `python app.py` itself with a temporary data directory (so
the store holds the shipped reference runs, which every viewer's runs table lists). A viewer is
what a browser on the Training tab sends: the tab's one-second timer, i.e. `/refresh_runs`
and `/refresh_sweep` once a second each. By default viewers are threads sending exactly those
events through gradio_client; `--browsers` opens real headless Chromium pages on the tab
instead (their rendering then shares this machine's cores with the app, which overstates the
app's own cost). It prints the median latency of digit recognition and animal classification,
idle and with the viewers, and their ratio; the goal is a rise under 20 %.
"""

import argparse
import json
import random
import threading
import time
from contextlib import ExitStack, contextmanager

from benchmarks.bench_load import (
    app_in_temporary_folder,
    classify_animal,
    new_client,
    recognise_digit,
    require_loopback,
)
from benchmarks.timing import latency_ratios, median_ms, print_ratios

CLASSIFIERS = {"recognise_digit": recognise_digit, "classify_animal": classify_animal}
GOAL = 1.20  # with viewers / idle, at most
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def medians_ms(url: str, calls: int) -> dict[str, float]:
    """Median latency of each classifier endpoint over `calls` calls (after a warm-up)."""
    client, rng = new_client(url), random.Random(0)
    return {
        name: median_ms(lambda call=call: call(client, rng), calls)
        for name, call in CLASSIFIERS.items()
    }


@contextmanager
def timer_viewers(url: str, viewers: int):
    """Threads that each send the Training tab's timer events once a second."""
    stop = threading.Event()
    ticks = [0] * viewers

    def view(index: int) -> None:
        client = new_client(url)
        while not stop.is_set():
            started = time.monotonic()
            client.predict(None, "all", "all", "all", False, api_name="/refresh_runs")
            client.predict(None, api_name="/refresh_sweep")
            ticks[index] += 1
            stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    threads = [threading.Thread(target=view, args=(i,), daemon=True) for i in range(viewers)]
    for thread in threads:
        thread.start()
    try:
        yield ticks
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


@contextmanager
def browser_viewers(url: str, viewers: int):
    """Headless Chromium pages, each on the Training tab (its timer runs in the page)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = []
        for _ in range(viewers):
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(url)
            page.get_by_role("tab", name="Training", exact=True).click()
            pages.append(page)
        try:
            yield pages
        finally:
            browser.close()


def measure(url: str, viewers: int, calls: int, browsers: bool) -> dict:
    idle = medians_ms(url, calls)
    with ExitStack() as stack:
        watched = browser_viewers if browsers else timer_viewers
        stack.enter_context(watched(url, viewers))
        time.sleep(5)  # every viewer's timer is ticking
        loaded = medians_ms(url, calls)
    return {
        "viewers": viewers,
        "kind": "Chromium pages" if browsers else "timer clients",
        "calls": calls,
        "endpoints": latency_ratios(idle, loaded, GOAL),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=5)
    parser.add_argument("--calls", type=int, default=15, help="calls per median")
    parser.add_argument("--browsers", action="store_true", help="real Chromium pages")
    parser.add_argument("--url", help="a running app on this machine (default: start one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.url:
        require_loopback(args.url)
        result = measure(args.url, args.viewers, args.calls, args.browsers)
    else:
        with app_in_temporary_folder() as url:
            result = measure(url, args.viewers, args.calls, args.browsers)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['viewers']} {result['kind']} on the Training tab; medians of {args.calls}")
    print_ratios(result["endpoints"], "under +20 %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
