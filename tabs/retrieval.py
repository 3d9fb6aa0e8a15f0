"""Retrieval tab: ask a FAQ corpus a question, compare and evaluate retrievers, upload a corpus."""

import html

import gradio as gr
import pandas as pd
import plotly.express as px

from core.retrieval.corpus import SHIPPED_CORPUS, Corpus, load_hub_file, load_upload
from core.retrieval.paraphrases import SHIPPED_QUERIES
from core.retrieval.registry import DESCRIPTIONS, available_retrievers
from core.retrieval.search import (
    DEFAULT_RETRIEVER,
    cached_corpus,
    evaluate,
    prepare,
    search,
)
from core.retrieval.text import term_spans
from core.sharing.heavy import WorkerStopped
from core.sharing.limits import HostLimits
from tabs import heavy_events
from tabs.heavy_events import count_heavy

TITLE = "Retrieval"
TOOL = "retrieval"  # its runtime statement's key in core.hosting.runtime
ALL = "all collections"
ANSWER_PREVIEW = 700  # characters of an answer shown before "more"
METRICS = ("mrr", "recall@1", "recall@3", "recall@10", "ndcg@10")
EXAMPLES = [
    "Why is a mutable default value shared between calls?",
    "How can I copy a list?",
    "Is there a tool to find bugs in my code?",
    "Какие архитектуры поддерживает Debian?",
]
OWN_QUESTIONS = "the FAQ's own questions"
TYPED_QUESTIONS = "questions users type (FAQ corpus)"
CSS_NOTE = "padding:0.6em 0.8em;border-radius:6px;background:var(--block-background-fill)"


def marked(query: str, text: str) -> str:
    """Escaped text with the query's words in <mark>."""
    pieces, start = [], 0
    for a, b in term_spans(query, text):
        pieces += [html.escape(text[start:a]), f"<mark>{html.escape(text[a:b])}</mark>"]
        start = b
    return "".join(pieces) + html.escape(text[start:])


def hit_html(query: str, hit: dict) -> str:
    answer = hit["answer"]
    preview, rest = answer[:ANSWER_PREVIEW], answer[ANSWER_PREVIEW:]
    more = f"<details><summary>more</summary>{marked(query, rest)}</details>" if rest else ""
    return (
        f'<div class="retrieval-hit" style="margin-bottom:1em">'
        f"<b>{hit['rank']}. {marked(query, hit['question'])}</b> "
        f"<small>score {hit['score']:.4f} · {html.escape(hit['collection'])}</small>"
        f'<div style="white-space:pre-wrap">{marked(query, preview)}{more}</div></div>'
    )


def note_html(text: str) -> str:
    return f'<div class="retrieval-note" style="{CSS_NOTE}">{html.escape(text)}</div>'


def collection_choices(corpus: Corpus | None) -> list[str]:
    names = (corpus or cached_corpus(None)).collection_names()
    return [ALL, *names] if len(names) > 1 else names


def chosen(collection: str) -> str | None:
    return None if collection == ALL else collection


def run_search(query: str, retriever: str, collection: str, k: float, corpus: Corpus | None):
    """The hits as HTML with the query's words marked, or the reason there are none."""
    try:
        result = search(query, retriever, int(k), corpus, chosen(collection))
    except (ValueError, WorkerStopped) as error:
        return note_html(str(error))
    if not result["hits"]:
        return note_html(result["note"])
    heading = f"<p><small>{DESCRIPTIONS[retriever]} · {html.escape(result['corpus'])}</small></p>"
    return heading + "".join(hit_html(result["query"], hit) for hit in result["hits"])


def run_evaluation(collection: str, corpus: Corpus | None, questions: str = OWN_QUESTIONS):
    """The metrics table of every retriever and its bar chart: on the FAQ's own questions, or
    on the questions users type (the shipped corpus only)."""
    typed = questions == TYPED_QUESTIONS
    if typed and corpus is not None:
        raise gr.Error(
            "The questions users type are written for the FAQ corpus: go back to it, or "
            "evaluate your corpus on its own questions."
        )
    try:
        result = evaluate(None, corpus, chosen(collection), SHIPPED_QUERIES if typed else None)
    except (ValueError, WorkerStopped) as error:
        raise gr.Error(str(error)) from None
    rows = [
        {"collection": report["collection"], "retriever": name}
        | {metric: round(values[metric], 4) for metric in METRICS}
        for report in result["collections"]
        for name, values in report["metrics"].items()
    ]
    table = pd.DataFrame(rows)
    long = table.melt(["collection", "retriever"], METRICS, "metric", "value")
    figure = px.bar(
        long,
        x="retriever",
        y="value",
        color="metric",
        barmode="group",
        facet_col="collection",
        range_y=(0, 1),
        title="Held-out evaluation split",
    )
    sizes = "; ".join(
        f"{r['collection']}: {r['documents']} {'entries' if typed else 'answers'}, "
        f"{r['evaluation_queries']} test questions"
        for r in result["collections"]
    )
    note = f"{sizes}.\n\n*Protocol:* {result['protocol']}."
    return gr.Dataframe(table, visible=True), gr.Plot(figure, visible=True), note


def load_visitor_corpus(load, source: str | None, current: Corpus | None, request: gr.Request):
    """Load a visitor's corpus with `load` (an upload or a hub file) and fit every retriever on
    it (its answers embedded in the heavy worker); on error keep the current corpus and say
    why."""
    if not source:
        return current, gr.update(), gr.update()
    try:
        count_heavy(request)
        corpus = load(source)
        prepare(corpus)
    except (ValueError, WorkerStopped) as error:
        gr.Warning(str(error))
        return current, f"**Not loaded:** {error}", gr.update()
    names = collection_choices(corpus)
    status = f"Searching **{corpus.name}**: {len(corpus)} question-answer pairs."
    return corpus, status, gr.Dropdown(choices=names, value=names[0])


def upload_corpus(path: str | None, current: Corpus | None, request: gr.Request):
    """An uploaded CSV / JSONL file."""
    return load_visitor_corpus(load_upload, path, current, request)


def hub_corpus(spec: str | None, current: Corpus | None, request: gr.Request):
    """A file of a Hugging Face dataset, named hf://datasets/OWNER/NAME/FILE."""
    return load_visitor_corpus(load_hub_file, spec, current, request)


def reset_corpus():
    names = collection_choices(None)
    shipped = f"Searching the shipped FAQ corpus ({SHIPPED_CORPUS.name})."
    return None, shipped, gr.Dropdown(choices=names, value=ALL), None


def build() -> None:
    gr.Markdown(
        "Ask a question; the retriever ranks the **answers** of a real FAQ corpus (the Python "
        "FAQ, and the Debian FAQ in English and Russian) and the words it matched are marked. "
        "Lexical retrievers (TF-IDF, BM25) match words, the dense one meaning (English only), "
        "the hybrid mixes them with weights tuned on held-out questions. The dense model "
        "loads at its first use (a few seconds)."
    )
    corpus = gr.State(None)  # None: the shipped corpus; else the user's Corpus
    with gr.Row():
        query = gr.Textbox(
            label="Question", placeholder=EXAMPLES[0], scale=4, elem_id="retrieval-query"
        )
        retriever = gr.Dropdown(
            [(f"{name}: {DESCRIPTIONS[name]}", name) for name in available_retrievers()],
            value=DEFAULT_RETRIEVER,
            label="Retriever",
            scale=2,
            elem_id="retrieval-retriever",
        )
    with gr.Row():
        collection = gr.Dropdown(
            collection_choices(None), value=ALL, label="Collection", elem_id="retrieval-collection"
        )
        k = gr.Slider(1, 20, value=5, step=1, label="Answers to show", elem_id="retrieval-k")
        search_button = gr.Button("Search", variant="primary", elem_id="retrieval-search")
    gr.Examples([[example] for example in EXAMPLES], inputs=query, label="Try")
    hits = gr.HTML(elem_id="retrieval-hits")
    with gr.Accordion("Your own corpus: a CSV or JSONL of question-answer pairs", open=False):
        gr.Markdown(
            "Columns (CSV) or keys (JSONL): `question`, `answer`, optionally `id` (unique) and "
            "`collection`; at most "
            f"{HostLimits.from_env().upload_answers:,} question-answer pairs. Loading embeds "
            "every answer for the dense and hybrid retrievers (about a second per ten answers "
            "on a CPU); search and evaluation then use your corpus."
        )
        upload = gr.File(
            file_types=[".csv", ".jsonl"], label="Corpus file", elem_id="retrieval-upload"
        )
        with gr.Row():
            hub_file = gr.Textbox(
                label="or a file of a Hugging Face dataset (needs the network)",
                placeholder="hf://datasets/OWNER/NAME/FILE.jsonl",
                elem_id="retrieval-hub-file",
                scale=4,
            )
            hub_load = gr.Button("Load", size="sm", scale=1, elem_id="retrieval-hub-load")
        corpus_status = gr.Markdown(elem_id="retrieval-corpus-status")
        reset = gr.Button("Back to the FAQ corpus", size="sm", elem_id="retrieval-reset")
    gr.Markdown(
        "### Evaluation\nThe FAQ's own questions ask for their answers; the questions users "
        "type (165, written the way people search, with error messages and slang) ask for "
        "whole entries. Numbers come from questions never used to tune the hybrid."
    )
    questions = gr.Radio(
        [OWN_QUESTIONS, TYPED_QUESTIONS],
        value=OWN_QUESTIONS,
        label="Questions",
        elem_id="retrieval-eval-questions",
    )
    evaluate_button = gr.Button("Evaluate every retriever", elem_id="retrieval-evaluate")
    evaluation_note = gr.Markdown(elem_id="retrieval-eval-note")
    # both appear with the first evaluation (an empty table would show placeholder headers)
    table = gr.Dataframe(
        label="Metrics", interactive=False, visible=False, elem_id="retrieval-eval-table"
    )
    chart = gr.Plot(label="Metrics by retriever", visible=False, elem_id="retrieval-eval-plot")

    inputs = [query, retriever, collection, k, corpus]
    search_button.click(run_search, inputs, hits, api_name="retrieval_search")
    query.submit(run_search, inputs, hits, api_name="retrieval_search_submit")
    upload.upload(
        upload_corpus,
        [upload, corpus],
        [corpus, corpus_status, collection],
        api_name="retrieval_upload",
        **heavy_events.EVENT,
    )
    hub_load.click(
        hub_corpus,
        [hub_file, corpus],
        [corpus, corpus_status, collection],
        api_name="retrieval_load_hub_file",
        **heavy_events.EVENT,
    )
    reset.click(
        reset_corpus, None, [corpus, corpus_status, collection, upload], api_name="retrieval_reset"
    )
    evaluate_button.click(
        run_evaluation,
        [collection, corpus, questions],
        [table, chart, evaluation_note],
        api_name="retrieval_evaluate",
        **heavy_events.EVENT,
    )
