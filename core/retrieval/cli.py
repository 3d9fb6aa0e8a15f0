"""Search a question-answer corpus, or evaluate every retriever on it, from the command line.

    python -m core.retrieval.cli --query TEXT [--retriever NAME] [--k K] [--corpus FILE]
                          [--collection NAME] [--json]
    python -m core.retrieval.cli --evaluate [--retriever NAME] [--corpus FILE]
                          [--collection NAME] [--json]

The corpus is the shipped FAQ corpus (assets/qa_corpus.jsonl: python-faq, debian-faq-en,
debian-faq-ru) or a CSV / JSONL file with `question` and `answer` fields. A search looks through
every collection unless --collection names one. --json prints one object:
  search:   {"query", "retriever", "corpus", "collection", "hits": [{"rank", "id", "score",
             "question", "answer", "collection"}], "note"}; "note" says why there are no hits
  evaluate: {"corpus", "protocol", "collections": [{"collection", "language", "documents",
             "tuning_queries", "evaluation_queries", "metrics": {NAME: {"mrr", "recall@1",
             "recall@3", "recall@10", "ndcg@10"}}, "hybrid_weights"?}]}
Bad input (an empty or 100 KB query, a file without the columns) exits with status 2 and the
reason.
"""

import argparse
import functools
import json
import sys
from pathlib import Path

from core.retrieval.corpus import TUNE_FRACTION, Corpus, load_corpus
from core.retrieval.evaluate import evaluate_corpus
from core.retrieval.registry import RETRIEVERS, prepared_retriever
from core.retrieval.text import check_query

DEFAULT_RETRIEVER = "hybrid"
MAX_K = 100
PROTOCOL = (
    f"answers are the documents, questions the queries, a question's own answer its only "
    f"relevant document; {TUNE_FRACTION:.0%} of each collection's questions (seed 0) tune the "
    f"hybrid, the other {1 - TUNE_FRACTION:.0%} give every number; full rankings; ties: the "
    f"earlier document first; lexical retrievers rank only documents sharing a term"
)
NO_MATCH = (
    "No answer shares a word with the query: it has only stop words, or words this corpus "
    "never uses. Try other words, or the dense or hybrid retriever."
)


@functools.lru_cache(maxsize=4)
def cached_corpus(path: str | None) -> Corpus:
    return load_corpus(path)


def search(
    query: str,
    retriever: str = DEFAULT_RETRIEVER,
    k: int = 5,
    corpus: Corpus | str | Path | None = None,
    collection: str | None = None,
) -> dict:
    """The top-k answers for one question (see the module docstring for the result's shape)."""
    query = check_query(query)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
    if retriever not in RETRIEVERS:
        raise ValueError(f"unknown retriever {retriever!r}; choose one of {', '.join(RETRIEVERS)}")
    if not isinstance(corpus, Corpus):
        corpus = cached_corpus(None if corpus is None else str(corpus))
    corpus = corpus.subset(collection)
    ids, scores = prepared_retriever(retriever, corpus).search([query], k)
    hits = [
        {
            "rank": rank,
            "id": corpus.ids[doc],
            "score": round(float(score), 6),
            "question": corpus.questions[doc],
            "answer": corpus.answers[doc],
            "collection": corpus.collections[doc],
        }
        for rank, (doc, score) in enumerate(zip(ids[0], scores[0], strict=True), start=1)
        if doc >= 0
    ]
    return {
        "query": query,
        "retriever": retriever,
        "corpus": corpus.name,
        "collection": collection,
        "hits": hits,
        "note": None if hits else NO_MATCH,
    }


def evaluate(
    retriever: str | None = None,
    corpus: Corpus | str | Path | None = None,
    collection: str | None = None,
) -> dict:
    """Every retriever's (or the named one's) metrics on each collection's evaluation split."""
    if not isinstance(corpus, Corpus):
        corpus = cached_corpus(None if corpus is None else str(corpus))
    names = None if retriever is None else [retriever]
    reports = evaluate_corpus(corpus, names, collection)
    return {"corpus": corpus.name, "protocol": PROTOCOL, "collections": reports}


def format_hits(result: dict) -> str:
    lines = [f"{result['retriever']} on {result['corpus']}: {result['query']!r}"]
    if result["note"]:
        lines.append(result["note"])
    for hit in result["hits"]:
        answer = " ".join(hit["answer"].split())
        lines.append(f"{hit['rank']:2d}. {hit['score']:8.4f}  {hit['question']}")
        lines.append(f"    {answer[:200]}{'...' if len(answer) > 200 else ''}")
    return "\n".join(lines)


def format_report(result: dict) -> str:
    lines = [f"corpus {result['corpus']}; {result['protocol']}"]
    for report in result["collections"]:
        lines.append(
            f"\n{report['collection']} ({report['language'] or '?'}): {report['documents']} "
            f"documents, {report['evaluation_queries']} evaluation queries"
        )
        columns = list(next(iter(report["metrics"].values())))
        lines.append(f"{'retriever':<12}" + "".join(f"{c:>11}" for c in columns))
        for name, metrics in report["metrics"].items():
            lines.append(f"{name:<12}" + "".join(f"{metrics[c]:11.4f}" for c in columns))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Search or evaluate a question-answer corpus.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--query", help="a question to search for")
    action.add_argument("--evaluate", action="store_true", help="metrics of the retrievers")
    parser.add_argument("--retriever", choices=list(RETRIEVERS), help="default: hybrid / all")
    parser.add_argument("--k", type=int, default=5, help=f"hits to show, 1-{MAX_K}")
    parser.add_argument(
        "--corpus",
        help="a CSV or JSONL file of question-answer pairs, or hf://datasets/OWNER/NAME/FILE",
    )
    parser.add_argument("--collection", help="only this collection of the corpus")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        if args.evaluate:
            result = evaluate(args.retriever, args.corpus, args.collection)
        else:
            name = args.retriever or DEFAULT_RETRIEVER
            result = search(args.query, name, args.k, args.corpus, args.collection)
    except ValueError as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(format_report(result) if args.evaluate else format_hits(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
