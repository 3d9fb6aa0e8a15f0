"""What a first visitor sees: every tab of a running app, at a laptop's and a phone's width.

    .venv/bin/python scripts/first_visit_screenshots.py --url http://127.0.0.1:7860 --out DIR

Saves DIR/<tab>-<width>.png (whole page) for every tab the app has; run it against two versions
of the app (say, before and after a change) to compare them side by side. Each tab is opened at
the laptop's width, where every tab name is in the bar, then the window is narrowed if needed.
"""

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
WIDTHS = {"1366": (1366, 900), "390": (390, 844)}
SETTLE_MS = 1500  # a tab's first render (plots, tables) after its click


def file_name(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width, (w, h) in WIDTHS.items():
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(args.url)
            page.get_by_role("tab").first.wait_for()
            titles = page.get_by_role("tab").all_inner_texts()
            for title in titles:
                page.set_viewport_size({"width": 1366, "height": 900})
                page.get_by_role("tab", name=title, exact=True).click()
                page.set_viewport_size({"width": w, "height": h})
                page.evaluate("window.scrollTo(0, 0)")
                page.wait_for_timeout(SETTLE_MS)
                path = args.out / f"{file_name(title)}-{width}.png"
                page.screenshot(path=str(path), full_page=True)
                print(path)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
