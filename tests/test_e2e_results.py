"""The Results tab in a browser, on the app's fresh data directory: the shipped reference runs
are there from the first visit, and the loan study's table reads as the committed report's."""

import zipfile

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
    plots = page.locator(".js-plotly-plot")
    sync_api.expect(plots).to_have_count(4)  # loss, ROC-AUC, the two sweeps
    screenshot(page, "results-loan", focus=page.locator("#study-choice"))


def test_the_inference_study_reads_as_its_committed_report(page, screenshot):
    page.get_by_role("tab", name="Results", exact=True).click()
    page.locator("#study-choice").get_by_text("Inference optimisation", exact=True).click()
    heading = page.get_by_role("heading", name="Speed-up at batch 1 over eager, per model")
    sync_api.expect(heading).to_be_visible()
    committed = (REPO_ROOT / "reports" / "inference" / "README.md").read_text()
    row = next(line for line in committed.splitlines() if line.startswith("| fold_bn |"))
    speedups = [cell.strip() for cell in row.strip("|").split("|")[1:]]  # one per model
    table = page.locator("table").filter(has_text="fold_bn").first
    for speedup in speedups:
        sync_api.expect(table).to_contain_text(speedup)
    command = page.get_by_text("Measured by dlstudio report inference")
    sync_api.expect(command).to_be_hidden()  # in the closed "For developers" fold
    folds = page.get_by_role("button", name="For developers").filter(visible=True)
    folds.first.click()  # the study's first fold: how it was measured
    sync_api.expect(command).to_be_visible()
    screenshot(page, "results-inference", focus=page.locator("#study-choice"))


def test_the_pq_study_shows_its_curves_and_conclusions(page, screenshot):
    page.get_by_role("tab", name="Results", exact=True).click()
    page.locator("#study-choice").get_by_text("Product quantization", exact=True).click()
    heading = page.get_by_role("heading", name="One quantizer per component (M = D)", exact=True)
    sync_api.expect(heading).to_be_visible()
    sync_api.expect(page.get_by_text("Each extra bit divides")).to_be_visible()
    sync_api.expect(page.locator(".js-plotly-plot")).to_have_count(1)
    screenshot(page, "results-pq", focus=page.locator("#study-choice"))


def committed_rows(folder: str, heading: str) -> list[dict[str, str]]:
    """The rows of a committed README's first table after `heading`, each as column -> cell."""
    text = (REPO_ROOT / "reports" / folder / "README.md").read_text()
    lines = [line for line in text.split(heading)[1].splitlines() if line.startswith("|")]
    end = next((i for i in range(1, len(lines)) if lines[i].startswith("| ---")), len(lines))
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:end]]
    return [dict(zip(header, row, strict=True)) for row in rows if len(row) == len(header)]


@pytest.mark.parametrize(
    ("title", "folder", "heading", "columns", "figures", "shot"),
    [
        (
            "Digits: four fine-tuning recipes",
            "image_digits",
            "## Results",
            ("configuration", "test acc, %", "95 % interval"),
            4,  # loss, accuracy, the confusion matrix, the example pictures
            "results-digits",
        ),
        (
            "Self-supervised pretraining: digits",
            "ssl/digits",
            "## Classifiers",
            ("init", "test acc, %", "plateau epoch (per seed)"),
            4,  # the pretext task, then one figure per label fraction
            "results-ssl-digits",
        ),
        (
            "Pseudo-labeling",
            "pseudo_labeling",
            "## Over seeds",
            ("configuration", "student test acc, %", "student − teacher"),
            5,  # the threshold trade-off, then loss and accuracy per data set (digits, Fashion)
            "results-pseudo-labeling",
        ),
    ],
)
def test_an_image_study_reads_as_its_committed_report(
    page, screenshot, title, folder, heading, columns, figures, shot
):
    page.get_by_role("tab", name="Results", exact=True).click()
    page.locator("#study-choice").get_by_text(title, exact=True).click()
    table = page.locator(".study-table").first
    rows = committed_rows(folder, heading)
    sync_api.expect(table).to_contain_text(rows[0][columns[0]])
    shown = table.inner_text()
    for row in rows:
        for column in columns:
            assert row[column] in shown, (column, row[column])
    sync_api.expect(page.get_by_role("heading", name="Conclusions")).to_be_visible()
    sync_api.expect(page.locator(".js-plotly-plot")).to_have_count(figures)
    screenshot(page, shot, focus=page.locator("#study-choice"))


def test_a_page_made_from_two_runs_reads_here_and_downloads_as_a_zip(page):
    page.get_by_role("tab", name="Results", exact=True).click()
    page.get_by_text("Your own study: a page from runs you choose").click()
    for label in ("#1 loan_exp1", "#2 loan_exp2"):  # the shipped reference runs
        page.locator("#study-runs input").click()
        page.get_by_role("option", name=label, exact=True).click()
    page.locator("#make-page").click()
    sync_api.expect(page.get_by_text("Your study: 2 runs")).to_be_visible(timeout=60_000)
    sync_api.expect(page.get_by_text("by a paired bootstrap").first).to_be_visible()
    with page.expect_download() as download:
        page.locator('#page-zip a[download="study.zip"]').click()
    with zipfile.ZipFile(download.value.path()) as packed:
        assert sorted(packed.namelist()) == ["README.md", "loss.png", "metric.png"]
        readme = packed.read("README.md").decode()
    assert "# Your study: 2 runs" in readme and "| #1 loan_exp1 |" in readme
