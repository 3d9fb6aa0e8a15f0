"""The Gradient descent tab in headless Chromium: steps on L(x), stepping through them, the
divergence hint, a typed function (and a refused one), and the comparison plot."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

TITLE = "Gradient descent"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def tab(page):
    page.get_by_role("tab", name=TITLE, exact=True).click()
    page.locator("#gd-summary").get_by_text("stopped by").wait_for(timeout=TIMEOUT)
    return page


def step_value(page) -> int:
    return int(page.locator("#gd-step input[type=number]").input_value())


def wait_for_step(page, step: int) -> None:
    page.wait_for_function(
        f"document.querySelector('#gd-step input[type=number]').value == '{step}'",
        timeout=TIMEOUT,
    )


def test_L_shows_numbered_steps_the_stop_and_the_table(tab):
    summary = tab.locator("#gd-summary")
    sync_api.expect(summary).to_contain_text("stopped by eps")
    sync_api.expect(summary).to_contain_text("f = -4")  # the minimum of L is L(0) = -4
    labels = tab.locator("#gd-plot g.textpoint text")
    sync_api.expect(labels.first).to_be_visible(timeout=TIMEOUT)
    shown = set(labels.all_text_contents())
    assert {"0", "1", "2", "3"} <= shown  # at least three numbered steps
    table = tab.locator("#gd-table")
    sync_api.expect(table).to_contain_text("df/dx")
    assert step_value(tab) >= 3


def test_previous_next_and_play_step_through_the_path(tab, screenshot):
    last = step_value(tab)
    for step in (last - 1, last - 2):  # each click answers before the next one reads the step
        tab.locator("#gd-previous").click()
        wait_for_step(tab, step)
    sync_api.expect(tab.locator("#gd-plot")).to_contain_text(f"tangent at step {last - 2}")
    tab.locator("#gd-next").click()
    wait_for_step(tab, last - 1)
    tab.locator("#gd-play").click()  # plays on to the last step, then stops
    wait_for_step(tab, last)
    sync_api.expect(tab.locator("#gd-plot")).to_contain_text(f"tangent at step {last}")
    screenshot(tab, "gradient-descent", tab.locator("#gd-plot"))


def choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_nesterov_on_the_bowl_diverges_with_a_hint(tab):
    choose(tab, "gd-function", "Ill-conditioned bowl (x² + 50y²) / 2")
    sync_api.expect(tab.locator("#gd-y0")).to_be_visible(timeout=TIMEOUT)
    sync_api.expect(tab.locator("#gd-summary")).to_contain_text(
        "Curvatures 1 and 50", timeout=TIMEOUT
    )  # the preset's note: the bowl's run is shown
    tab.locator("#gd-method").get_by_text("Nesterov", exact=True).click()
    summary = tab.locator("#gd-summary")
    sync_api.expect(summary).to_contain_text("Why did it diverge?", timeout=TIMEOUT)
    sync_api.expect(summary).to_contain_text("try lr < 0.0271")
    lr = tab.locator("#gd-lr input[type=number]")
    lr.fill("0.02")
    lr.press("Tab")  # leaving the number box releases the slider
    sync_api.expect(summary).to_contain_text("Nesterov, lr 0.02:", timeout=TIMEOUT)
    sync_api.expect(summary).not_to_contain_text("Why did it diverge?")
    sync_api.expect(summary).not_to_contain_text("stopped by diverged")


def test_a_typed_function_runs_and_a_hostile_one_is_refused(tab):
    box = tab.locator("#gd-expression textarea")
    message = tab.locator("#gd-message")
    summary_before = tab.locator("#gd-summary").inner_text()
    box.fill("x**100000")
    box.press("Enter")
    sync_api.expect(message).to_contain_text("the exponent 100000 is too large", timeout=TIMEOUT)
    box.fill("__import__('os').system('echo pwned')")
    box.press("Enter")
    sync_api.expect(message).to_contain_text("only the named functions", timeout=TIMEOUT)
    # the refusal is said once, in its line: the controls and the path stay as they were
    for control in ("gd-function", "gd-lr", "gd-x0", "gd-summary", "gd-plot"):
        sync_api.expect(tab.locator(f"#{control}")).not_to_contain_text("Error")
    assert tab.locator("#gd-summary").inner_text() == summary_before
    sync_api.expect(tab.locator(".toast-body")).to_have_count(0)
    box.fill("(x - 1)^2 + 2")
    box.press("Enter")
    summary = tab.locator("#gd-summary")
    sync_api.expect(summary).to_contain_text("f = 2", timeout=TIMEOUT)
    sync_api.expect(summary).to_contain_text("stopped by eps")
    sync_api.expect(message).to_have_text("")  # a good function clears the refusal
    lr = tab.locator("#gd-lr input[type=number]")
    lr.fill("0.2")
    lr.press("Tab")  # the controls still answer
    sync_api.expect(summary).to_contain_text("lr 0.2", timeout=TIMEOUT)


def test_the_comparison_overlays_several_methods(tab):
    choose(tab, "gd-compare-function", "Rosenbrock (1 - x)² + 100(y - x²)²")
    lr = tab.locator("#gd-compare-lr input[type=number]")
    lr.fill("0.001")
    lr.press("Tab")
    tab.locator("#gd-compare").click()
    table = tab.locator("#gd-compare-table")
    sync_api.expect(table).to_contain_text("Nesterov", timeout=TIMEOUT)
    sync_api.expect(table).to_contain_text("Momentum")
    legend = tab.locator("#gd-compare-plot .legendtext")
    sync_api.expect(legend.first).to_be_visible(timeout=TIMEOUT)
    assert {"Gradient descent", "Momentum", "Nesterov"} <= set(legend.all_text_contents())
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "gradient-descent.png"), full_page=True)
