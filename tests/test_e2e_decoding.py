"""The Decoding tab in headless Chromium: a streamed reply equal to the core's, the per-step
view and the distribution panel, beam search, side by side, clear errors, and two browsers
generating at the same time. The app loads the model at the first request."""

import re
from pathlib import Path

import pytest

from core.decoding.lm import load_lm
from core.decoding.strategies import DecodingSettings, generate

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TITLE = "Decoding"
FRANCE = "What is the capital of France?"
PARIS = "The capital of France is Paris."
RUNNING = re.compile("generating", re.IGNORECASE)
LONG_WAIT = 240_000  # ms: the first request loads the model in the app (~20 s, more when busy)
FEEDBACK = 5_000  # ms: the stats line answers Generate at once, even while the model loads


def open_tab(page) -> None:
    page.get_by_role("tab", name=TITLE, exact=True).click()


def set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Tab")


def ask(page, prompt: str, strategy: str, max_new_tokens: int, wait_ms: int = FEEDBACK) -> None:
    """Ask for a reply; its stats line must say "generating" within `wait_ms` (a request queued
    behind another page's reply waits its turn: give that one more)."""
    page.locator("#decoding-prompt textarea").fill(prompt)
    page.locator("#decoding-strategy").get_by_text(strategy, exact=True).click()
    set_number(page, "decoding-max-new-tokens", max_new_tokens)
    page.locator("#decoding-generate").click()
    # every update but the last says "generating" (the first one "Loading the model ..., then
    # generating" when the model loads): so this reply, not the previous one, is read
    page.locator("#decoding-stats").get_by_text(RUNNING).wait_for(timeout=wait_ms)


def wait_done(page, timeout: int = LONG_WAIT) -> str:
    page.locator("#decoding-stats").get_by_text("stopped at").wait_for(timeout=timeout)
    return page.locator("#decoding-output textarea").input_value()


def test_a_greedy_reply_with_its_steps_and_distribution(page):
    open_tab(page)
    ask(page, FRANCE, "Greedy", 20)
    assert wait_done(page) == PARIS
    stats = page.locator("#decoding-stats").inner_text()
    assert "8 tokens" in stats and "tokens/s" in stats and "the EOS token" in stats
    steps = page.locator("#decoding-steps")
    sync_api.expect(steps).to_contain_text("'<|im_end|>'")
    sync_api.expect(steps).to_contain_text("' Paris'")
    kept = page.locator("#decoding-kept")
    sync_api.expect(kept).to_contain_text("assignment rule")
    sync_api.expect(kept).to_contain_text("paper rule")
    sync_api.expect(page.locator("#decoding-distribution")).to_contain_text("Step 1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "decoding.png"), full_page=True)
    set_number(page, "decoding-step", 6)  # the step that produced " Paris"
    sync_api.expect(page.locator("#decoding-distribution")).to_contain_text("Step 6")
    sync_api.expect(page.locator("#decoding-distribution")).to_contain_text("' Paris'")


def test_the_steps_fill_as_the_reply_streams_and_stop_ends_it(page):
    open_tab(page)
    ask(page, "Write a long story about a dragon who learns to cook.", "Greedy", 400)
    page.wait_for_function(  # a header and four steps, while the reply still streams
        "(document.querySelector('#decoding-steps [role=grid]')"
        "?.getAttribute('aria-rowcount') ?? 0) >= 5",
        timeout=LONG_WAIT,
    )
    sync_api.expect(page.locator("#decoding-stats")).to_contain_text(RUNNING)
    page.locator("#decoding-stop").click()
    sync_api.expect(page.locator("#decoding-stats")).to_contain_text("Stopped.")
    reply = page.locator("#decoding-output textarea")
    stopped_at = reply.input_value()
    page.wait_for_timeout(2_000)
    assert reply.input_value() == stopped_at  # nothing more arrives


def test_beam_search_shows_the_finished_beams(page):
    lm = load_lm()  # the reference: the core's beams for the same settings
    settings = DecodingSettings("beam", num_beams=2, max_new_tokens=10)
    expected = generate(lm.model, lm.encode(FRANCE), settings, lm.eos_ids).beams
    open_tab(page)
    sync_api.expect(page.locator("#decoding-num-beams")).to_be_hidden()  # greedy reads no beams
    page.locator("#decoding-strategy").get_by_text("Beam search (early stopping)").click()
    sync_api.expect(page.locator("#decoding-temperature")).to_be_hidden()
    set_number(page, "decoding-num-beams", 2)
    ask(page, FRANCE, "Beam search (early stopping)", 10)
    assert wait_done(page) == PARIS
    beams = page.locator("#decoding-beams")
    sync_api.expect(beams.get_by_role("grid")).to_have_attribute("aria-rowcount", "3")
    for beam in expected:  # a header row and one row per finished beam
        sync_api.expect(beams).to_contain_text(lm.decode(beam.token_ids))
        sync_api.expect(beams).to_contain_text(f"{beam.score:.4f}")


def test_bad_input_gets_a_clear_message(page):
    open_tab(page)
    page.locator("#decoding-prompt textarea").fill("   ")
    page.locator("#decoding-generate").click()
    page.get_by_text("the prompt is empty").first.wait_for(timeout=30_000)
    page.locator("#decoding-prompt textarea").fill(FRANCE)
    page.locator("#decoding-strategy").get_by_text("Sampling with temperature").click()
    set_number(page, "decoding-temperature", 0)
    page.locator("#decoding-generate").click()
    page.get_by_text("temperature must be a number > 0").first.wait_for(timeout=30_000)
    set_number(page, "decoding-temperature", 0.7)


def test_side_by_side_runs_each_strategy_on_the_same_prompt(page, screenshot):
    open_tab(page)
    page.locator("#decoding-prompt textarea").fill(FRANCE)
    set_number(page, "decoding-max-new-tokens", 10)
    page.get_by_text("Side by side: several strategies").click()
    page.locator("#decoding-compare").click()
    table = page.locator("#decoding-compare-table")
    sync_api.expect(table).to_contain_text("Beam search", timeout=LONG_WAIT)
    sync_api.expect(table.get_by_role("grid")).to_have_attribute("aria-rowcount", "5")
    sync_api.expect(table.get_by_role("row").nth(1)).to_contain_text(PARIS)  # greedy's
    beam = table.get_by_role("row").nth(4)
    sync_api.expect(beam).not_to_contain_text("…", timeout=LONG_WAIT)  # the last one finished
    screenshot(page, "decoding", table)


def test_two_browsers_generating_at_once_get_their_own_reply(page, browser, app_url):
    """The second page samples (top-p, seed 3): its reply must be the core's for that seed."""
    lm = load_lm()
    primes = "List three prime numbers."
    settings = DecodingSettings("top_p", temperature=0.7, top_p=0.9, max_new_tokens=12, seed=3)
    expected = lm.decode(generate(lm.model, lm.encode(primes), settings, lm.eos_ids).token_ids)
    other = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        other.goto(app_url)
        open_tab(other)
        other.locator("#decoding-strategy").get_by_text("Top-p (nucleus) sampling").click()
        set_number(other, "decoding-seed", 3)
        open_tab(page)
        ask(other, primes, "Top-p (nucleus) sampling", 12)
        ask(page, FRANCE, "Greedy", 20, wait_ms=LONG_WAIT)  # may wait for the other's reply
        assert wait_done(page) == PARIS
        assert wait_done(other) == expected
    finally:
        other.close()
