"""Links between tabs, in a browser: a finished image run opens in the Classifier with its model
chosen and in Results with its page made; a loan run offers only its page; the shipped digits
model opens its embeddings in the PQ explorer."""

import re

import pytest
from conftest import train_reference_digits_run

from core.serving.onnx import list_models

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

FIRST_LOAN_RUN = 1  # the first shipped reference run: loan_exp1


@pytest.fixture(scope="module")
def image_run(app_data) -> int:
    """A small digits CNN every visitor may use, trained into the app's run store (seconds)."""
    if "digits" not in list_models():
        pytest.skip("models/digits.onnx is not built yet (make models)")
    return train_reference_digits_run(app_data, epochs=1, limit_train=300)


def show_run(page, run_id: int) -> None:
    page.get_by_role("tab", name="Training", exact=True).click()
    field = page.locator("#current-run input")
    field.fill(str(run_id))
    field.press("Enter")
    sync_api.expect(page.locator("#run-status")).to_contain_text(f"Run {run_id}")


def expect_tab(page, title: str) -> None:
    tab = page.get_by_role("tab", name=title, exact=True)
    sync_api.expect(tab).to_have_attribute("aria-selected", "true")


def test_an_image_run_opens_in_the_classifier_with_its_model_chosen(page, image_run, screenshot):
    show_run(page, image_run)
    page.locator("#run-to-classifier").click()
    expect_tab(page, "Classifier")
    chosen = page.locator("#digit-model input")
    sync_api.expect(chosen).to_have_value(re.compile(rf"^run {image_run} · digits_cnn"))
    page.locator("#digit-model-card-box").get_by_text("Model card").click()
    card = page.locator("#digit-model-card")
    sync_api.expect(card).to_contain_text(f"run-{image_run}", timeout=60_000)
    screenshot(page, "link-run-to-classifier", focus=page.locator("#digit-model"))


def test_a_finished_run_opens_in_results_with_its_page_made(page, image_run):
    show_run(page, image_run)
    page.locator("#run-to-results").click()
    expect_tab(page, "Results")
    sync_api.expect(page.locator("#study-runs")).to_contain_text(f"#{image_run} digits_cnn")
    download = page.locator("#page-zip a")  # the page, zipped, once it is made
    sync_api.expect(download.first).to_be_visible(timeout=120_000)


def test_a_loan_run_offers_its_page_but_no_model(page):
    show_run(page, FIRST_LOAN_RUN)
    sync_api.expect(page.locator("#run-to-results")).to_be_visible()
    sync_api.expect(page.locator("#run-to-classifier")).to_be_hidden()


def test_the_digits_model_opens_its_embeddings_in_the_pq_explorer(page):
    if "digits" not in list_models():
        pytest.skip("models/digits.onnx is not built yet (make models)")
    page.get_by_role("tab", name="Classifier", exact=True).click()
    page.locator("#digits-to-pq").click()
    expect_tab(page, "PQ explorer")
    source = page.locator("#pq-source input")
    sync_api.expect(source).to_have_value("digits-smallcnn (model embeddings)")
    sync_api.expect(page.locator("#pq-source-info")).to_contain_text("128")
    sync_api.expect(page.locator("#pq-m input")).to_have_value("32")  # D / 4: real PQ
