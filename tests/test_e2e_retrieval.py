"""End to end, the Retrieval tab in headless Chromium: a search with marked words, the
evaluation table and chart, bad input messages, and an uploaded corpus; plus the API."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
TITLE = "Retrieval"


def open_tab(page) -> None:
    page.get_by_role("tab", name=TITLE, exact=True).click()


def choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


def ask(page, question: str) -> None:
    page.locator("#retrieval-query textarea").fill(question)
    page.locator("#retrieval-search").click()


def test_the_hybrid_answers_a_question_with_marked_words(page, screenshot):
    open_tab(page)
    ask(page, "Why is a mutable default value shared between calls?")
    hits = page.locator("#retrieval-hits")
    first = hits.locator(".retrieval-hit").first
    first.wait_for(timeout=180_000)  # the first dense query loads MiniLM
    sync_api.expect(first).to_contain_text("Why are default values shared between objects?")
    assert hits.locator("mark").count() > 0
    assert hits.locator(".retrieval-hit").count() == 5
    screenshot(page, "retrieval", page.locator("#retrieval-query"))


def test_bad_queries_say_what_is_wrong(page):
    open_tab(page)
    choose(page, "retrieval-retriever", "tfidf: TF-IDF over words")
    ask(page, "   ")
    sync_api.expect(page.locator("#retrieval-hits")).to_contain_text("the query is empty")
    ask(page, "the of and")
    sync_api.expect(page.locator("#retrieval-hits")).to_contain_text("only stop words")


def test_the_evaluation_panel_shows_every_retriever(page):
    open_tab(page)
    choose(page, "retrieval-collection", "debian-faq-ru")
    page.locator("#retrieval-evaluate").click()
    table = page.locator("#retrieval-eval-table")
    sync_api.expect(table).to_contain_text("hybrid", timeout=120_000)
    for name in ("tfidf", "tfidf-char", "bm25", "dense", "rrf"):
        sync_api.expect(table).to_contain_text(name)
    page.locator("#retrieval-eval-plot .js-plotly-plot").wait_for(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "retrieval.png"), full_page=True)


def test_the_questions_users_type_are_evaluated_against_whole_entries(page):
    open_tab(page)
    choose(page, "retrieval-collection", "python-faq")
    page.locator("#retrieval-eval-questions").get_by_text("questions users type").click()
    page.locator("#retrieval-evaluate").click()
    table = page.locator("#retrieval-eval-table")
    sync_api.expect(table).to_contain_text("bm25-stem", timeout=120_000)
    note = page.locator("#retrieval-eval-note")
    sync_api.expect(note).to_contain_text("176 entries, 39 test questions")
    sync_api.expect(note).to_contain_text("user-style questions the queries")


def test_an_uploaded_corpus_is_checked_then_searched(page, tmp_path):
    open_tab(page)
    page.get_by_text("Your own corpus").click()
    bad = tmp_path / "bad.csv"
    bad.write_text("q,a\nwhy?,because\n", encoding="utf-8")
    page.locator("#retrieval-upload input[type=file]").set_input_files(str(bad))
    status = page.locator("#retrieval-corpus-status")
    sync_api.expect(status).to_contain_text("lacks the column(s) question, answer", timeout=30_000)

    page.locator("#retrieval-reset").click()
    good = tmp_path / "cooking.jsonl"
    pairs = [
        ("How long do I boil an egg?", "Boil an egg for seven minutes for a firm yolk."),
        ("How do I keep pasta from sticking?", "Stir the pasta and use plenty of salted water."),
        ("Why does bread go stale?", "Starch in bread crystallises as it cools and dries."),
    ]
    good.write_text(
        "\n".join(json.dumps({"question": q, "answer": a}) for q, a in pairs), encoding="utf-8"
    )
    page.locator("#retrieval-upload input[type=file]").set_input_files(str(good))
    sync_api.expect(status).to_contain_text("cooking", timeout=30_000)
    sync_api.expect(status).to_contain_text("3 question-answer pairs")
    choose(page, "retrieval-retriever", "bm25: Okapi BM25")
    ask(page, "stale bread")
    sync_api.expect(page.locator("#retrieval-hits .retrieval-hit").first).to_contain_text(
        "Starch in bread"
    )
    page.locator("#retrieval-reset").click()


def test_the_api_searches_and_explains_bad_queries(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/retrieval_search", "/retrieval_evaluate", "/retrieval_upload"} <= set(endpoints)
    html = client.predict(
        "How do I install a source package?", "bm25", "debian-faq-en", 3,
        api_name="/retrieval_search",
    )  # fmt: skip
    assert html.count('class="retrieval-hit"') == 3 and "source" in html
    assert "characters" in client.predict(
        "x" * 100_000, "bm25", "all collections", 3, api_name="/retrieval_search"
    )
