"""A first visit in headless Chromium: every tab opens without a placeholder table (a table
with no data yet shows Gradio's "1 2 3" headers, which reads as broken)."""

import re

import pytest
from conftest import TAB_TITLES

from tabs.home import TOOLS

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

PLACEHOLDER_HEADERS = """() => [...document.querySelectorAll('table')]
    .filter(table => table.offsetParent !== null)  // shown
    .map(table => [...table.querySelectorAll('thead th')].map(th => th.innerText.trim()))
    .filter(names => names.length > 1 && names.every(name => /^\\d+$/.test(name)))"""


def test_no_tab_shows_a_placeholder_table_before_its_first_result(page):
    for title in TAB_TITLES:
        page.get_by_role("tab", name=title, exact=True).click()
        page.wait_for_timeout(500)  # the tab's panels render
        assert page.evaluate(PLACEHOLDER_HEADERS) == [], title


DEVELOPER_WORDS = re.compile(r"python -m|make models|InputSpec|Rebuild:|\bCLI\b|core\.\w+")


def test_no_tab_shows_developer_commands_outside_a_fold(page):
    for title in TAB_TITLES:
        page.get_by_role("tab", name=title, exact=True).click()
        page.wait_for_timeout(500)
        shown = page.locator("body").inner_text()
        assert not DEVELOPER_WORDS.findall(shown), title


def test_the_model_card_keeps_its_rebuild_command_in_the_fold(page):
    page.get_by_role("tab", name="Classifier", exact=True).click()
    page.locator("#digit-model-card-box").get_by_text("Model card").click()
    card = page.locator("#digit-model-card")
    sync_api.expect(card).to_contain_text("Trained on scikit-learn's small digits")
    command = card.get_by_text("dlstudio build-models digits")
    sync_api.expect(command).to_be_hidden()
    card.get_by_text("For developers").click()
    sync_api.expect(command).to_be_visible()


SIZES = [(1366, 900, "home"), (390, 844, "home-phone")]  # a laptop, a phone


@pytest.mark.parametrize(("width", "height", "shot"), SIZES)
def test_the_home_tab_reaches_every_tool_at_laptop_and_phone_width(
    browser, app_url, screenshot, width, height, shot
):
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(app_url)
        home = page.get_by_role("tab", name="Home", exact=True)
        sync_api.expect(home).to_have_attribute("aria-selected", "true")  # the first visit
        sync_api.expect(page.locator("#home-intro")).to_contain_text("working tools")
        overflow = page.evaluate("document.documentElement.scrollWidth") - width
        assert overflow <= 1, f"{overflow} px of horizontal scrolling at {width} px"
        page.get_by_text("Loading...").first.wait_for(state="hidden")
        screenshot(page, shot)
        for tool in TOOLS:
            page.get_by_role("button", name=tool.start, exact=True).click()
            tab = page.get_by_role("tab", name=tool.title, exact=True)
            if tab.count():  # at 390 px most tab names sit in the overflow menu
                sync_api.expect(tab).to_have_attribute("aria-selected", "true")
            sync_api.expect(page.locator("#home-intro")).to_be_hidden()
            home.click()
            sync_api.expect(page.locator("#home-intro")).to_be_visible()
    finally:
        page.close()


def test_every_tool_reads_on_a_phone_without_sideways_scrolling(browser, app_url, screenshot):
    """At 390 px each tool is reached from Home and fits the width: only a wide table may
    scroll sideways, inside itself."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(app_url)
        for tool in TOOLS:
            page.get_by_role("button", name=tool.start, exact=True).click()
            page.wait_for_timeout(1_000)  # the tab's panels render
            overflow = page.evaluate("document.documentElement.scrollWidth") - 390
            assert overflow <= 1, f"{tool.title}: {overflow} px of sideways scrolling"
            slug = tool.title.lower().replace(" ", "-")
            screenshot(page, f"phone-{slug}")
            page.get_by_role("tab", name="Home", exact=True).click()
    finally:
        page.close()
