"""A first visit in headless Chromium: every tab opens without a placeholder table (a table
with no data yet shows Gradio's "1 2 3" headers, which reads as broken)."""

import pytest

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

TABS = [
    "Classifier",
    "Decoding",
    "Retrieval",
    "Gradient descent",
    "Metrics",
    "PQ explorer",
    "Results",
    "Training",
]

PLACEHOLDER_HEADERS = """() => [...document.querySelectorAll('table')]
    .filter(table => table.offsetParent !== null)  // shown
    .map(table => [...table.querySelectorAll('thead th')].map(th => th.innerText.trim()))
    .filter(names => names.length > 1 && names.every(name => /^\\d+$/.test(name)))"""


def test_no_tab_shows_a_placeholder_table_before_its_first_result(page):
    for title in TABS:
        page.get_by_role("tab", name=title, exact=True).click()
        page.wait_for_timeout(500)  # the tab's panels render
        assert page.evaluate(PLACEHOLDER_HEADERS) == [], title
