"""User-style questions against whole FAQ entries (core.retrieval.paraphrases): the protocol on a
small corpus, its refusals, the CLI, and the shipped benchmark itself."""

import json
import subprocess
import sys
from collections import Counter

import ir_measures
import numpy as np
import pytest
from ir_measures import MRR, Success

from core.paths import REPO_ROOT, PathRefused
from core.retrieval.corpus import CorpusError, as_entries, from_records, load_corpus
from core.retrieval.lexical import BM25Retriever
from core.retrieval.paraphrases import (
    SHIPPED_QUERIES,
    evaluate_paraphrases,
    read_questions,
    split_of,
)

QUESTIONS = [
    ("kettle full of white crust, how to clean", "kettle", "held-out"),
    ("bicycle chain noise when riding", "bike", "held-out"),
    ("basil going yellow", "plant", "held-out"),
    ("sourdough loaf didnt rise", "bread", "held-out"),
    ("punctured tyre on the road", "tyre", "held-out"),
    ("velvet sofa stain", "sofa", "tuning"),
    ("freezer full of ice", "frost", "tuning"),
]


@pytest.fixture
def corpus(home_records):
    return from_records(home_records, "home")


def write_queries(folder, rows, name="queries.jsonl"):
    path = folder / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def queries(tmp_path):
    rows = [{"query": q, "id": i, "split": s} for q, i, s in QUESTIONS]
    rows[0]["also"] = ["glass"]  # a second entry counts as answering the first question
    return write_queries(tmp_path, rows)


def test_entries_are_documents_so_words_only_in_a_question_are_found(corpus, queries):
    (report,) = evaluate_paraphrases(corpus, queries, ["bm25", "tfidf"])
    assert report["collection"] == "home" and report["documents"] == len(corpus)
    assert (report["tuning_queries"], report["evaluation_queries"]) == (2, 5)
    assert report["metrics"]["bm25"]["recall@1"] == 1.0  # every topic word is in a question
    answers_only = BM25Retriever().fit(corpus.answers)
    ids, _ = answers_only.search([q for q, _, s in QUESTIONS if s == "held-out"], k=3)
    assert (ids[:, 0] != np.arange(5)).any()  # indexing answers alone misses some
    assert as_entries(corpus).answers[0] == f"{corpus.questions[0]}\n\n{corpus.answers[0]}"


def test_the_metrics_equal_ir_measures_on_the_same_rankings(corpus, queries):
    """Scored as the reference library scores the run: qrels with both relevant entries of the
    first question, the run from BM25 over the whole entries. Recall@K here is the share of
    questions answered in the top K, which is ir_measures' Success@K."""
    (report,) = evaluate_paraphrases(corpus, queries, ["bm25"])
    questions = read_questions(queries, corpus)
    _, held_out = split_of(questions)
    retriever = BM25Retriever().fit(as_entries(corpus).answers)
    scores = retriever.score([questions[i].text for i in held_out])
    qrels = [ir_measures.Qrel(str(q), doc, 1) for q in held_out for doc in questions[q].relevant]
    run = [
        ir_measures.ScoredDoc(str(q), corpus.ids[d], float(row[d]) - 1e-9 * d)
        for q, row in zip(held_out, scores, strict=True)
        for d in range(len(corpus))
        if row[d] > 0
    ]
    expected = ir_measures.calc_aggregate([MRR, Success @ 1, Success @ 3], qrels, run)
    metrics = report["metrics"]["bm25"]
    assert metrics["mrr"] == pytest.approx(expected[MRR])
    assert metrics["recall@1"] == pytest.approx(expected[Success @ 1])
    assert metrics["recall@3"] == pytest.approx(expected[Success @ 3])


def test_a_csv_queries_file_lists_more_answering_entries_with_semicolons(corpus, tmp_path):
    path = tmp_path / "queries.csv"
    path.write_text("query,id,also\ncrusty kettle,kettle,glass; sofa\nsquealing chain,bike,\n")
    first, second = read_questions(path, corpus)
    assert first.relevant == ("kettle", "glass", "sofa") and second.relevant == ("bike",)


def test_without_a_split_field_a_seeded_30_percent_tunes(corpus, tmp_path):
    rows = [{"query": q, "id": i} for q, i, _ in QUESTIONS] * 3
    questions = read_questions(write_queries(tmp_path, rows, "plain.jsonl"), corpus)
    tuning, held_out = split_of(questions)
    assert len(tuning) == round(0.3 * len(rows)) and not set(tuning) & set(held_out)
    assert np.array_equal(split_of(questions)[0], tuning)  # the same every time


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"query": "x"}, "each needs a 'query' and an 'id'"),
        ({"query": "  ", "id": "kettle"}, "each needs a 'query' and an 'id'"),
        ({"query": "x", "id": "oven"}, "no entry 'oven'"),
        ({"query": "x", "id": "kettle", "also": ["oven"]}, "no entry 'oven'"),
        ({"query": "x", "id": "kettle", "split": "test"}, "split is tuning or held-out"),
    ],
)
def test_a_bad_queries_file_is_refused_saying_which_record(corpus, tmp_path, row, message):
    path = write_queries(tmp_path, [{"query": "fine", "id": "bike"}, row])
    with pytest.raises(CorpusError, match=message) as refused:
        read_questions(path, corpus)
    assert "record 2" in str(refused.value) and str(tmp_path) not in str(refused.value)


def test_a_queries_file_outside_the_allowed_folders_is_refused(corpus, queries):
    with pytest.raises(PathRefused):
        read_questions("/etc/passwd.jsonl", corpus)
    with pytest.raises(CorpusError, match="no collection 'kitchen'"):
        evaluate_paraphrases(corpus, queries, ["bm25"], collection="kitchen")


def test_the_cli_evaluates_with_a_queries_file_in_the_usual_shape(home_records, queries, tmp_path):
    corpus_file = tmp_path / "home.jsonl"
    corpus_file.write_text("".join(json.dumps(record) + "\n" for record in home_records))
    command = [sys.executable, "-m", "core", "search", "--evaluate", "--retriever", "bm25"]
    done = subprocess.run(
        [*command, "--corpus", str(corpus_file), "--queries", str(queries), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    result = json.loads(done.stdout)
    assert set(result) == {"corpus", "protocol", "collections"}
    assert "user-style questions" in result["protocol"]
    (report,) = result["collections"]
    assert set(report["metrics"]["bm25"]) == {"mrr", "recall@1", "recall@3", "recall@10", "ndcg@10"}
    refused = subprocess.run(
        [sys.executable, "-m", "core", "search", "--query", "x", "--queries", str(queries)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert refused.returncode == 2 and "--queries goes with --evaluate" in refused.stderr


def test_the_shipped_benchmark_asks_each_collection_50_user_questions():
    corpus = load_corpus()
    questions = read_questions(SHIPPED_QUERIES, corpus)
    collection_of = dict(zip(corpus.ids, corpus.collections, strict=True))
    counts = Counter(collection_of[q.relevant[0]] for q in questions)
    assert set(counts) == {"python-faq", "debian-faq-en", "debian-faq-ru"}
    assert min(counts.values()) >= 50 and sum(counts.values()) >= 150
    own = dict(zip(corpus.ids, corpus.questions, strict=True))
    assert not [q for q in questions if q.text.lower() == own[q.relevant[0]].lower()]
    tuning, held_out = split_of(questions)
    assert len(held_out) >= 100 and len(tuning) >= 30
