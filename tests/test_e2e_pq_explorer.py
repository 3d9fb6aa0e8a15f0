"""The PQ explorer tab in headless Chromium: M = D and PQ on the shipped embeddings, the
per-component plot, MSE against bits, the equal-bits comparison, and clear refusals of bad
settings and bad uploads."""

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

TITLE = "PQ explorer"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def tab(page):
    page.get_by_role("tab", name=TITLE, exact=True).click()
    sync_api.expect(page.locator("#pq-source-info")).to_contain_text("2000 vectors x 64 dims")
    return page


def set_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Tab")


def quantize(page, m: int, bits: int, method: str) -> None:
    set_number(page, "pq-m", m)
    set_number(page, "pq-bits", bits)
    page.locator("#pq-method").get_by_text(method, exact=True).click()
    page.locator("#pq-run").click()


def test_it_opens_on_product_quantization_with_no_empty_table(tab):
    sync_api.expect(tab.locator("#pq-m input[type=number]")).to_have_value("16")  # D = 64
    sync_api.expect(tab.locator("#pq-method input[value=kmeans]")).to_be_checked()
    sync_api.expect(tab.locator("#pq-compare-table")).to_be_hidden()  # until a comparison


def test_m_equals_d_shows_numbers_and_the_component_histogram(tab, screenshot):
    quantize(tab, 64, 2, "optimal")
    metrics = tab.locator("#pq-metrics")
    sync_api.expect(metrics).to_contain_text("optimal, M = 64", timeout=TIMEOUT)
    sync_api.expect(metrics).to_contain_text("16.0x")
    sync_api.expect(metrics).to_contain_text("recall@10 (2000 queries)")
    sync_api.expect(tab.locator("#pq-plot")).to_contain_text("thresholds (3)")
    sync_api.expect(tab.locator("#pq-plot")).to_contain_text("levels (4)")
    set_number(tab, "pq-part", 5)
    sync_api.expect(tab.locator("#pq-plot")).to_contain_text("Component 5", timeout=TIMEOUT)
    screenshot(tab, "pq-explorer", tab.locator("#pq-plot"))


def test_pq_with_sixteen_sub_spaces(tab):
    quantize(tab, 16, 8, "kmeans")
    metrics = tab.locator("#pq-metrics")
    sync_api.expect(metrics).to_contain_text(
        "kmeans, M = 16 (4 dims per sub-space)", timeout=TIMEOUT
    )
    sync_api.expect(tab.locator("#pq-plot")).to_contain_text("centroids (256)")


def test_mse_against_bits_and_the_equal_bits_comparison(tab):
    tab.locator("#pq-curves-run").click()
    sync_api.expect(tab.locator("#pq-curves")).to_contain_text("optimal held out", timeout=TIMEOUT)
    sync_api.expect(tab.locator("#pq-curves-table")).to_contain_text("uniform in-sample")
    tab.locator("#pq-compare-run").click()
    verdict = tab.locator("#pq-verdict")
    sync_api.expect(verdict).to_contain_text(
        "At 128 bits per vector, PQ with M = ", timeout=TIMEOUT
    )
    sync_api.expect(tab.locator("#pq-compare-table")).to_contain_text("optimal, M = 64, 2 bits")
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "pq-explorer.png"), full_page=True)


def test_the_digits_embeddings_are_a_choice_too(tab):
    tab.locator("#pq-source input").click()
    tab.get_by_role("option", name="digits-smallcnn (model embeddings)", exact=True).click()
    sync_api.expect(tab.locator("#pq-source-info")).to_contain_text("1797 vectors x 128 dims")
    # a set opens on product quantization proper: 4 dimensions per sub-space
    sync_api.expect(tab.locator("#pq-m input[type=number]")).to_have_value("32")
    quantize(tab, 128, 1, "uniform")
    sync_api.expect(tab.locator("#pq-metrics")).to_contain_text("uniform, M = 128", timeout=TIMEOUT)


def test_bad_settings_get_clear_messages(tab):  # on the digits set chosen above
    quantize(tab, 7, 2, "kmeans")
    tab.get_by_text("D = 128 is not divisible by M = 7").wait_for(timeout=TIMEOUT)
    quantize(tab, 16, 2, "optimal")
    tab.get_by_text("needs M = D = 128, not M = 16").wait_for(timeout=TIMEOUT)


def upload(page, path: Path) -> None:
    page.locator("#pq-upload input[type=file]").set_input_files(str(path))


def test_bad_uploads_get_clear_messages_and_a_good_one_is_used(tab, tmp_path):
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros(50, np.float32))
    upload(tab, flat)
    tab.get_by_text("flat.npy must be a 2-D array").wait_for(timeout=TIMEOUT)
    holes = tmp_path / "holes.npy"
    np.save(holes, np.where(np.eye(40, 8) > 0, np.nan, 1.0).astype(np.float32))
    upload(tab, holes)
    tab.get_by_text("holes.npy contain 8 NaN or infinite value(s)").wait_for(timeout=TIMEOUT)
    text = tmp_path / "text.npy"
    text.write_text("1 2 3")
    upload(tab, text)
    tab.get_by_text("text.npy is not a readable NumPy .npy file").wait_for(timeout=TIMEOUT)

    few = tmp_path / "few.npy"
    np.save(few, np.random.default_rng(0).standard_normal((60, 12)).astype(np.float32))
    upload(tab, few)
    sync_api.expect(tab.locator("#pq-source-info")).to_contain_text(
        "60 vectors x 12 dims", timeout=TIMEOUT
    )
    sync_api.expect(tab.locator("#pq-m input[type=number]")).to_have_value("3")
    quantize(tab, 12, 8, "optimal")  # 48 training vectors for 256 levels
    tab.get_by_text("only 48 training vectors for 256 centroids").wait_for(timeout=TIMEOUT)
    quantize(tab, 12, 3, "optimal")
    sync_api.expect(tab.locator("#pq-metrics")).to_contain_text(
        "Fitted on 48 of 60 vectors (12-D)", timeout=TIMEOUT
    )
