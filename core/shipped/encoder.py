"""`dlstudio build-encoder`: the adapted dense encoder of the retrieval tab, built in one command.

It lives here, above the tools, because it joins two of them: the decoding package's offline LM
writes the synthetic questions (`--synthesize`; otherwise the shipped ones in
`assets/retrieval_synthetic_questions.jsonl` are used) and the retrieval package fine-tunes and
caches the encoder (`core.retrieval.adapted`).
"""

import argparse
import json
import sys

from core.decoding.lm import load_lm
from core.retrieval.adapted import EPOCHS, build_encoder
from core.retrieval.corpus import Corpus, load_corpus
from core.retrieval.synthetic import (
    SHIPPED_SYNTHETIC,
    SyntheticQuestion,
    synthesize,
    write_questions,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio build-encoder",
        description="Fine-tune the dense retriever's encoder on synthetic questions about the "
        "shipped FAQ corpus (no labels), for the retriever dense-adapted.",
    )
    parser.add_argument(
        "--synthesize",
        action="store_true",
        help="write the synthetic questions anew with the offline LM (slow) before training",
    )
    parser.add_argument("--per-entry", type=int, default=6, help="LM samples per entry")
    parser.add_argument(
        "--collection",
        action="append",
        help="with --synthesize: only these (default: the English ones; the LM writes English)",
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the build record as JSON")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.per_entry < 1:
        parser.error("--epochs and --per-entry must be 1 or more")
    say = (lambda line: print(line, file=sys.stderr)) if args.json else print
    if args.synthesize:
        corpus, lm = load_corpus(), load_lm()
        kept: list[SyntheticQuestion] = []
        for name in args.collection or english_collections(corpus):
            kept += synthesize(
                corpus.subset(name),
                lm,
                args.per_entry,
                args.seed,
                lambda part, done, total: say(f"{part}: {done}/{total} entries"),
            )
        write_questions(SHIPPED_SYNTHETIC, kept)
        say(f"{len(kept)} synthetic questions kept")
    record = build_encoder(epochs=args.epochs, seed=args.seed, progress=say)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(
            f"built the adapted encoder in {record['total_s']:.0f} s: {record['pairs']} pairs "
            f"over {record['entries']} entries, loss {record['first_loss']:.3f} -> "
            f"{record['last_loss']:.3f}; the retriever dense-adapted uses it"
        )
    return 0


def english_collections(corpus: Corpus) -> list[str]:
    """The collections whose entries are all in English."""
    pairs = zip(corpus.collections, corpus.languages, strict=True)
    other = {collection for collection, language in pairs if language != "en"}
    return [name for name in corpus.collection_names() if name not in other]
