"""The browser walk-through's Training step: launch a long run, watch it train, cancel it.

The walk-through is one user flow per tab in headless Chromium, each ending with a screenshot
in test-artifacts/screenshots/ (the README's images, via scripts/readme_screenshots.py). The
other tabs' flows live beside their other end-to-end tests: classifier.png (a drawn digit and an
uploaded photo, test_app_e2e.py), decoding.png (four strategies side by side), retrieval.png (a
search), gradient-descent.png (stepping and playing), metrics.png (an edited ROC table) and
pq-explorer.png (a run of the explorer), each in its tab's test_e2e_*.py.
"""

import re

import pytest
from conftest import choose_experiment, edit_cell

from core.runs.store import RunStore

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

EPOCHS_ROW, VALUE_COLUMN = 12, 1  # loan_exp1's config form: the "epochs" row, "value" column


def test_a_long_run_is_launched_then_cancelled(page, app_data, screenshot):
    page.get_by_role("tab", name="Training", exact=True).click()
    choose_experiment(page, "Loan default · loan_exp1")
    key = page.locator(f'#config-form [data-testid="cell-{EPOCHS_ROW}-0"]')
    sync_api.expect(key).to_have_text("epochs")
    edit_cell(page, "config-form", EPOCHS_ROW, VALUE_COLUMN, "1000")  # still running when cancelled
    value = page.locator(f'#config-form [data-testid="cell-{EPOCHS_ROW}-{VALUE_COLUMN}"]')
    sync_api.expect(value).to_contain_text("1000")

    page.locator("#launch-run").click()
    status = page.locator("#run-status")
    status.get_by_text("running").wait_for(timeout=60_000)
    status.get_by_text(re.compile(r"^epoch \d+: ")).wait_for(timeout=60_000)  # an epoch's metrics
    page.locator("#cancel-run").click()
    status.get_by_text("cancelled by the user").wait_for(timeout=60_000)

    run_id = int(status.inner_text().split("Run ")[1].split()[0])
    store = RunStore(app_data / "runs.sqlite")
    run = store.get(run_id)
    assert (run.experiment, run.status, run.config["epochs"]) == ("loan_exp1", "cancelled", 1000)
    assert 1 <= store.metrics(run_id)["epoch"].max() < 1000
    sync_api.expect(page.locator("#runs-table")).to_contain_text("cancelled")
    screenshot(page, "training", status)
