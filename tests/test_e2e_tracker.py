"""The Training tab as a tracker, in a browser: a visitor launches a run, tags it and notes
why, finds it by its tag, overlays it on a shipped reference run, sees how their configs
differ and downloads both as CSV, which reads back."""

import re

import pandas as pd
import pytest
from conftest import edit_cell, run_row

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

EPOCHS_ROW, VALUE_COLUMN = 12, 1  # loan_exp1's config form: the "epochs" row, "value" column
REFERENCE_EXP1 = "#1 loan_exp1 (done)"  # the first shipped reference run


def test_a_run_is_tagged_found_by_its_tag_compared_with_a_reference_and_exported(page):
    page.get_by_role("tab", name="Training", exact=True).click()
    edit_cell(page, "config-form", EPOCHS_ROW, VALUE_COLUMN, "3")
    page.locator("#launch-run").click()
    status = page.locator("#run-status")
    status.get_by_text("done").wait_for(timeout=120_000)
    run_id = re.search(r"Run (\d+)", status.inner_text()).group(1)

    page.locator("#run-controls").click()  # the accordion with the run's own controls
    page.locator("#run-tags textarea, #run-tags input").first.fill("short, mine")
    page.locator("#run-note textarea").fill("three epochs only")
    page.locator("#save-note").click()
    sync_api.expect(status).to_contain_text("tags: short, mine")
    sync_api.expect(status).to_contain_text("note: three epochs only")

    page.locator("#tag-filter input").click()
    page.get_by_role("option", name="short", exact=True).click()
    sync_api.expect(run_row(page, run_id)).to_contain_text("short, mine")
    rows = page.locator("#runs-table").get_by_role("row")
    sync_api.expect(rows).to_have_count(2)  # the header and this run: the reference runs hidden

    page.locator("#compare-runs input").click()
    page.get_by_role("option", name=REFERENCE_EXP1, exact=True).click()
    page.locator("#compare-runs input").click()
    page.get_by_role("option", name=f"#{run_id} loan_exp1 (done)", exact=True).click()
    plot = page.locator("#compare-plot")  # its legend names each run's lines
    sync_api.expect(plot).to_contain_text(f"#{run_id} loan_exp1 (roc_auc) train")
    sync_api.expect(plot).to_contain_text("#1 loan_exp1 (roc_auc) test")
    sync_api.expect(page.locator("#config-diff")).to_contain_text("epochs")

    page.locator("#export-runs").click()
    links = page.locator("#exported-runs a")
    sync_api.expect(links).to_have_count(2)
    with page.expect_download() as download:
        page.locator('#exported-runs a[download="runs.csv"]').click()
    runs = pd.read_csv(download.value.path())
    assert sorted(runs["run"].tolist()) == sorted([1, int(run_id)])
    assert sorted(runs["config.epochs"].tolist()) == [3, 10]
