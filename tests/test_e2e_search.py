"""A search from the Training tab, in a browser: launched with its space, sampler and budget,
its trials train as the visitor's runs, and its page shows the best trial, the history and the
table of trials once they finish."""

import re

import pytest
from conftest import edit_cell

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

EPOCHS_ROW, VALUE_COLUMN = 12, 1  # loan_exp1's config form: the "epochs" row, "value" column


def test_a_search_runs_from_the_training_tab_and_shows_its_page(page, screenshot):
    page.get_by_role("tab", name="Training", exact=True).click()
    edit_cell(page, "config-form", EPOCHS_ROW, VALUE_COLUMN, "2")
    page.locator("#search-box").get_by_text("Search: Bayesian optimisation").click()
    space = page.locator("#search-space textarea")
    sync_api.expect(space).to_have_value(re.compile(r"^lr=1e-4\.\.1e-1:log"))
    space.fill("lr=1e-3..0.3:log")
    trials = page.locator("#search-trials input")
    trials.fill("3")
    trials.press("Tab")
    page.locator("#search-box").get_by_text("random", exact=True).click()
    page.locator("#search-box").get_by_text("none", exact=True).click()
    page.locator("#launch-search").click()
    sync_api.expect(page.locator("#search-started")).to_contain_text("3 trials")
    chosen = page.locator("#search-choice input")
    sync_api.expect(chosen).to_have_value(re.compile(r"^loan_exp1-random-"))
    summary = page.get_by_text("3 of 3 trials (3 finished)")
    sync_api.expect(summary).to_be_visible(timeout=240_000)
    sync_api.expect(page.get_by_text(re.compile(r"Best trial: \d"))).to_be_visible()
    sync_api.expect(page.get_by_text("its test roc_auc is")).to_be_visible()
    sync_api.expect(page.get_by_role("heading", name="Every trial")).to_be_visible()
    screenshot(page, "training-search", focus=page.locator("#search-box"))
