"""Evaluation on the questions people type: FAQ entries as documents, paraphrases as queries.

The default protocol (`core.retrieval.evaluate`) asks each FAQ entry's own question against the
answers. People do not type the FAQ's wording, so this protocol asks user-style questions
instead (`assets/retrieval_paraphrases.jsonl`: how they were written is in `assets/README.md`):

- documents: every entry of the collection, its question and answer together (what a real FAQ
  search indexes), `corpus.as_entries`;
- queries: a queries file, one record per question with `query` and `id` (the entry that
  answers it) and optionally `also` (more entries that answer it equally; in a CSV cell,
  separated by semicolons) and `split`
  (`tuning` or `held-out`); an entry's own question is never asked;
- split: a record's `split` when given, else a fixed seeded 30 % of each collection's
  questions tune the hybrid's weights and nothing else; every reported number comes from the
  held-out rest.

The result has the default protocol's shape (`core.retrieval.search.evaluate`).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.paths import REPO_ROOT, confine
from core.retrieval.corpus import (
    Corpus,
    CorpusError,
    as_entries,
    parse_csv,
    parse_jsonl,
    split_queries,
)
from core.retrieval.metrics import metric_table
from core.retrieval.registry import (
    available_retrievers,
    build_retriever,
    check_retriever,
)

SHIPPED_QUERIES = REPO_ROOT / "assets" / "retrieval_paraphrases.jsonl"
SPLITS = ("tuning", "held-out")
MAX_QUERIES = 10_000
PROTOCOL = (
    "FAQ entries (question and answer) are the documents, user-style questions the queries, "
    "each naming the entries that answer it; the questions marked tuning (else a seeded 30 % "
    "per collection) tune the hybrid, the held-out rest give every number; full rankings"
)


@dataclass(frozen=True)
class Question:
    """One user-style question, the corpus ids of the entries that answer it, its split."""

    text: str
    relevant: tuple[str, ...]
    split: str | None = None


def read_questions(path: str | Path, corpus: Corpus) -> list[Question]:
    """The questions of a JSONL or CSV queries file, each naming entries `corpus` holds."""
    path = confine(path, "queries file")
    parser = {".jsonl": parse_jsonl, ".csv": parse_csv}.get(path.suffix.lower())
    if parser is None:
        raise CorpusError(f"{path.name}: give a .jsonl or .csv file of queries")
    try:
        records = parser(path.read_text(encoding="utf-8"), path.name)
    except (OSError, UnicodeDecodeError):
        raise CorpusError(f"{path.name} could not be read as UTF-8 text") from None
    if not records or len(records) > MAX_QUERIES:
        raise CorpusError(f"{path.name}: give 1 to {MAX_QUERIES:,} queries, not {len(records):,}")
    known = set(corpus.ids)
    questions = []
    for number, record in enumerate(records, start=1):
        text, answered_by = record.get("query"), record.get("id")
        if not isinstance(text, str) or not text.strip() or not answered_by:
            raise CorpusError(f"{path.name}, record {number}: each needs a 'query' and an 'id'")
        also = record.get("also") or []
        if isinstance(also, str):  # a CSV cell: ids separated by semicolons
            also = also.split(";")
        relevant = (str(answered_by), *(str(i).strip() for i in also if str(i).strip()))
        unknown = [i for i in relevant if i not in known]
        if unknown:
            raise CorpusError(
                f"{path.name}, record {number}: no entry {unknown[0]!r} in {corpus.name}"
            )
        split = record.get("split") or None
        if split is not None and split not in SPLITS:
            raise CorpusError(
                f"{path.name}, record {number}: split is {' or '.join(SPLITS)}, not {split!r}"
            )
        questions.append(Question(text.strip(), relevant, split))
    return questions


def split_of(questions: list[Question]) -> tuple[np.ndarray, np.ndarray]:
    """(tuning, held-out) indices: each question's own split, else the seeded 30 %."""
    tuning, _ = split_queries(len(questions))
    seeded = set(tuning.tolist())
    tune = [
        i
        for i, question in enumerate(questions)
        if question.split == "tuning" or (question.split is None and i in seeded)
    ]
    return np.array(tune, dtype=int), np.setdiff1d(np.arange(len(questions)), tune)


def evaluate_collection(corpus: Corpus, questions: list[Question], names: list[str]) -> dict:
    """Each named retriever's metrics on the held-out questions of one collection, with the
    collection's entries as the documents."""
    entries = as_entries(corpus)
    position = {doc_id: i for i, doc_id in enumerate(corpus.ids)}
    relevant = [[position[i] for i in question.relevant] for question in questions]
    tuning, held_out = split_of(questions)
    report = {
        "collection": corpus.collection_names()[0],
        "language": ",".join(sorted(set(corpus.languages) - {""})),
        "documents": len(corpus),
        "tuning_queries": len(tuning),
        "evaluation_queries": len(held_out),
        "metrics": {},
    }
    asked = [questions[i].text for i in held_out]
    for name in names:
        retriever = build_retriever(name).fit(entries.answers)
        if hasattr(retriever, "tune"):
            retriever.tune([questions[i].text for i in tuning], [relevant[i][0] for i in tuning])
            report["hybrid_weights"] = retriever.named_weights()
        ids, _ = retriever.search(asked, k=len(corpus))
        report["metrics"][name] = metric_table(ids, [relevant[i] for i in held_out])
    return report


def evaluate_paraphrases(
    corpus: Corpus,
    queries: str | Path = SHIPPED_QUERIES,
    names: list[str] | None = None,
    collection: str | None = None,
) -> list[dict]:
    """One report per collection that the queries file asks about (or only the named one)."""
    names = available_retrievers() if names is None else [check_retriever(name) for name in names]
    questions = read_questions(queries, corpus)
    collection_of = dict(zip(corpus.ids, corpus.collections, strict=True))
    asked = list(dict.fromkeys(collection_of[q.relevant[0]] for q in questions))
    if collection is not None:
        corpus.subset(collection)  # names the collections when there is no such one
        if collection not in asked:
            raise CorpusError(f"the queries file asks nothing about {collection!r}")
        asked = [collection]
    reports = []
    for name in asked:
        mine = [q for q in questions if collection_of[q.relevant[0]] == name]
        if any(collection_of[i] != name for q in mine for i in q.relevant):
            raise CorpusError(f"a query about {name} names an entry of another collection")
        reports.append(evaluate_collection(corpus.subset(name), mine, names))
    return reports
