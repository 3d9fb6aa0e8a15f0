"""The Results tab in a browser, on the app's fresh data directory: the shipped reference runs
are there from the first visit, and the loan study's table reads as the committed report's."""

import pytest
from conftest import committed_table

from core.paths import REPO_ROOT

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")


def test_a_first_visit_reads_the_loan_study_as_the_committed_report(page, screenshot):
    page.get_by_role("tab", name="Results", exact=True).click()
    choice = page.locator("#study-choice")
    sync_api.expect(choice).to_contain_text("Loan default: Exp 1-5")
    table = page.locator(".study-table").first
    sync_api.expect(table).to_contain_text("loan_exp5")
    committed = committed_table((REPO_ROOT / "reports" / "loan_default" / "README.md").read_text())
    shown = table.inner_text()
    for experiment, cells in committed.items():
        assert experiment in shown
        assert cells["test 95% CI"] in shown
        assert cells["test ROC-AUC"] in shown
    conclusions = page.get_by_text("nearly linear")
    sync_api.expect(conclusions.first).to_be_visible()
    screenshot(page, "results-loan", focus=table)
    page.screenshot(path="/tmp/results-full.png", full_page=True)
    plots = page.locator(".js-plotly-plot")
    sync_api.expect(plots).to_have_count(4)  # loss, ROC-AUC, the two sweeps
