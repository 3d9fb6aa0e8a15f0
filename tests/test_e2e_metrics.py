"""End to end in headless Chromium: the Metrics tab's parts compute, react to edits and explain
bad input."""

from pathlib import Path

import pytest
from conftest import edit_cell

from tabs.metrics import TITLE

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def open_part(page, part: str) -> None:
    page.get_by_role("tab", name=TITLE, exact=True).click()
    page.get_by_role("tab", name=part, exact=True).click()


def error_toast(page, text: str) -> None:
    page.locator(".toast-body").filter(has_text=text).first.wait_for(timeout=15_000)


def test_binary_metrics_show_every_metric_with_an_interval(page):
    open_part(page, "Binary metrics")
    result = page.locator("#binary-result")
    for name in ("precision", "balanced_accuracy", "mcc", "roc_auc", "pr_auc", "log_loss"):
        sync_api.expect(result).to_contain_text(name)
    sync_api.expect(page.locator("#binary-notes")).to_contain_text("60 rows")
    edit_cell(page, "binary-table", 0, 0, "2")
    page.locator("#binary-compute").click()
    error_toast(page, "y_true must be 0 or 1: found 2 (row 1)")


def test_worked_roc_follows_an_edit_and_equals_sklearn(page, screenshot):
    open_part(page, "Worked ROC-AUC")
    explanation = page.locator("#roc-explanation")
    sync_api.expect(explanation).to_contain_text("(13 + 0.5) / 16 = 0.843750")
    edit_cell(page, "roc-table", 2, 1, "1")  # the 0.70 row becomes a positive
    page.locator("#roc-compute").click()
    sync_api.expect(explanation).to_contain_text("(14 + 0.5) / 15 = 0.966667")
    sync_api.expect(explanation).to_contain_text("roc_auc_score = 0.966667")
    screenshot(page, "metrics", page.locator("#roc-table"))
    edit_cell(page, "roc-table", 1, 0, "abc")
    page.locator("#roc-compute").click()
    error_toast(page, "y_score must be numbers: 'abc' is not (row 2)")


def test_imbalance_conclusions_and_averaging(page):
    open_part(page, "Imbalance")
    conclusions = page.locator("#imbalance-conclusions")
    sync_api.expect(conclusions).to_contain_text("Do not move")
    sync_api.expect(conclusions).to_contain_text("roc_auc = 0.8664")
    page.locator("#imbalance-run").click()
    sync_api.expect(conclusions).to_contain_text("precision: 0.8251 -> 0.0047")

    open_part(page, "Micro / macro / weighted")
    sync_api.expect(page.locator("#averaging-conclusions")).to_contain_text(
        "class fox (support 10 of 105) has the lowest recall"
    )


def test_the_significance_decision_follows_the_chosen_level(page):
    open_part(page, "A vs B significance")
    verdict = page.locator("#sig-verdict")
    sync_api.expect(verdict).to_contain_text("Wilcoxon signed-rank: p = 0.03711, reject H0")
    page.locator("#sig-alpha input").fill("0.01")
    page.locator("#sig-alpha input").press("Enter")
    page.locator("#sig-run").click()
    sync_api.expect(verdict).to_contain_text(
        "Wilcoxon signed-rank: p = 0.03711, do not reject H0 at alpha = 0.01"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "metrics.png"), full_page=True)
    edit_cell(page, "sig-table", 1, 2, "7")
    page.locator("#sig-run").click()
    error_toast(page, "a_grade must be whole grades from 0 to 3: found 7 (row 2)")
