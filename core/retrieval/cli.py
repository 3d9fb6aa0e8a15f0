"""`dlstudio search`: search a question-answer corpus, or evaluate every retriever on it.

    dlstudio search --query TEXT [--retriever NAME] [--k K] [--corpus FILE]
                    [--collection NAME] [--json]
    dlstudio search --evaluate [--retriever NAME] [--corpus FILE] [--collection NAME] [--json]
    dlstudio search --evaluate --queries FILE [--corpus FILE] ...   (user-style questions)

The corpus is the shipped FAQ corpus (assets/qa_corpus.jsonl: python-faq, debian-faq-en,
debian-faq-ru) or a CSV / JSONL file with `question` and `answer` fields. A search looks through
every collection unless --collection names one. --json prints the one object `search` or
`evaluate` returns (`core.retrieval.search` gives its fields). Bad input (an empty or 100 KB
query, a file without the columns) exits with status 2 and the reason.
"""

import argparse
import json

from core.retrieval.registry import RETRIEVERS
from core.retrieval.search import DEFAULT_RETRIEVER, MAX_K, evaluate, search


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
    parser = argparse.ArgumentParser(
        prog="dlstudio search", description="Search or evaluate a question-answer corpus."
    )
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
    parser.add_argument(
        "--queries",
        help="with --evaluate: a JSONL or CSV file of user-style questions (`query`, and `id`, "
        "the entry that answers it), asked against whole entries; the shipped benchmark is "
        "assets/retrieval_paraphrases.jsonl",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.queries and not args.evaluate:
        parser.error("--queries goes with --evaluate")
    try:
        if args.evaluate:
            result = evaluate(args.retriever, args.corpus, args.collection, args.queries)
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
