"""The retrievers by name, and a fitted (and, for the hybrid, tuned) retriever per corpus.

The shipped corpus's retrievers are kept for good (its searches stay fast); those fitted on a
visitor's corpus live in an `ExpiringLRU`, so a busy Space keeps the last few corpora's and
forgets each after half an hour unused.
"""

import functools
from collections.abc import Callable

from core.retrieval.adapted import AdaptedDenseRetriever, is_built
from core.retrieval.base import Retriever
from core.retrieval.corpus import Corpus, split_queries
from core.retrieval.dense import DenseRetriever
from core.retrieval.expiring import ExpiringLRU
from core.retrieval.fusion import HybridRetriever, RRFRetriever
from core.retrieval.lexical import BM25Retriever, TfidfRetriever

KEPT_VISITOR_RETRIEVERS = 24  # fitted retrievers of visitors' corpora (a few corpora's worth)
CHAR_NGRAMS = (3, 5)  # chosen on the tuning split (python, debian en, ru: 0.76, 0.51, 0.35)


def char_tfidf() -> TfidfRetriever:
    return TfidfRetriever("char_wb", CHAR_NGRAMS)


RETRIEVERS: dict[str, Callable[[], Retriever]] = {
    "tfidf": lambda: TfidfRetriever("word"),
    "tfidf-char": char_tfidf,
    "bm25": BM25Retriever,
    "bm25-stem": lambda: BM25Retriever(stemmed=True),
    "dense": DenseRetriever,
    "dense-adapted": AdaptedDenseRetriever,
    "rrf": lambda: RRFRetriever([BM25Retriever(), DenseRetriever()]),
    "hybrid": lambda: HybridRetriever([BM25Retriever(), char_tfidf(), DenseRetriever()]),
}

DESCRIPTIONS = {  # each says which languages it reads
    "tfidf": "TF-IDF over words, cosine (the baseline; any language)",
    "tfidf-char": f"TF-IDF over character {CHAR_NGRAMS[0]}-{CHAR_NGRAMS[1]}-grams, cosine (any "
    "language)",
    "bm25": "Okapi BM25 (k1 1.5, b 0.75; any language)",
    "bm25-stem": "Okapi BM25 over Snowball stems (Russian and English): word forms match",
    "dense": "all-MiniLM-L6-v2 embeddings, exact inner product (faiss); trained on English, "
    "weaker on Russian",
    "dense-adapted": "all-MiniLM-L6-v2 fine-tuned on questions the offline LM wrote about each "
    "FAQ entry (no labels); English",
    "rrf": "reciprocal-rank fusion of BM25 and dense, untuned",
    "hybrid": "BM25 + char TF-IDF + dense, one score mix per query script (Latin, Cyrillic) "
    "tuned on the tuning split",
}


NEEDS_BUILDING = {"dense-adapted": is_built}  # a retriever whose model a command builds first


def available_retrievers() -> list[str]:
    """The registered retrievers that can run here: all but an adapted encoder not yet built.
    What evaluates "every retriever" and the tab's choices use this list."""
    return [name for name in RETRIEVERS if NEEDS_BUILDING.get(name, lambda: True)()]


def check_retriever(name: str) -> str:
    """`name` itself when a retriever is registered under it; else ValueError naming the known
    ones. Every entry point (search, evaluation, the tab) checks a name here."""
    if name not in RETRIEVERS:
        raise ValueError(f"unknown retriever {name!r}; choose one of {', '.join(RETRIEVERS)}")
    return name


def build_retriever(name: str) -> Retriever:
    """A new, unfitted retriever; ValueError names the known ones."""
    return RETRIEVERS[check_retriever(name)]()


def prepared_retriever(name: str, corpus: Corpus) -> Retriever:
    """`name` fitted on the corpus's answers; a tunable one (the hybrid) is then tuned on the
    corpus's tuning split of questions, never on the evaluation split. Cached per corpus: the
    shipped one's for good, a visitor's while it is in use."""
    if corpus.shipped:
        return shipped_retriever(name, corpus)
    retriever = visitor_retrievers.get((name, corpus))
    if retriever is None:
        retriever = fitted_retriever(name, corpus)
        visitor_retrievers.put((name, corpus), retriever)
    return retriever


visitor_retrievers: ExpiringLRU[Retriever] = ExpiringLRU(KEPT_VISITOR_RETRIEVERS)


@functools.cache
def shipped_retriever(name: str, corpus: Corpus) -> Retriever:
    return fitted_retriever(name, corpus)


def fitted_retriever(name: str, corpus: Corpus) -> Retriever:
    retriever = build_retriever(name).fit(corpus.answers)
    if hasattr(retriever, "tune"):
        tuning, _ = split_queries(len(corpus))
        retriever.tune([corpus.questions[i] for i in tuning], tuning)
    return retriever
