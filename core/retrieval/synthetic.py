"""Synthetic questions for every FAQ entry, written by the offline LM: the training data of the
adapted encoder (`core.retrieval.adapted`), made without a single label.

How a question is written: the decoding tab's model (SmolLM2-135M-Instruct offline, handed in
by the caller) completes
a few-shot prompt. The shots are three other entries of the same collection, each shown as its
topic words (its answer's top TF-IDF words in the collection), the start of its answer and the
question the FAQ itself asks for it; then come the entry's own topic words and answer start,
and "A user asks:". Sampling (temperature 0.7, top-p 0.9) gives several candidates per entry.

Which are kept: a 135M model often writes a fluent question about something else, so a
candidate is kept only when it is a question of 3 to 30 words, not a copy of the FAQ's own
question, and BM25 over the collection's entries ranks its entry in the top three (round-trip
consistency, as in PAQ and GenQ). The check is lexical, not the dense encoder's own, so the kept
questions teach the encoder something it does not know yet.

Nothing here reads the paraphrase benchmark (`assets/retrieval_paraphrases.jsonl`): its
questions are for evaluation only. The records written have the benchmark's shape (`query`,
`id`, `collection`), so the same loaders read both.
"""

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer

from core.paths import REPO_ROOT
from core.retrieval.corpus import Corpus, as_entries
from core.retrieval.lexical import BM25Retriever

SHIPPED_SYNTHETIC = REPO_ROOT / "assets" / "retrieval_synthetic_questions.jsonl"
SHOTS = 3  # other entries shown before the one asked about
TOPIC_WORDS = 4
SHOT_CHARS, ANSWER_CHARS = 160, 240  # how much of an answer the prompt shows
MAX_NEW_TOKENS = 28
KEEP_RANK = 3  # BM25 must rank the entry this high for its question to be kept
MIN_WORDS, MAX_WORDS = 3, 30


class CausalLM(Protocol):
    """What generation needs of a language model: `core.decoding.lm.LM` is one (handed in by
    the caller, `core.shipped.encoder`, since retrieval does not import decoding)."""

    model: Any  # a transformers causal LM
    tokenizer: Any
    eos_ids: tuple[int, ...]
    device: Any


@dataclass(frozen=True)
class SyntheticQuestion:
    """A question the LM wrote for the entry `id` of `collection`."""

    query: str
    id: str
    collection: str


def topic_words(answers: Sequence[str], n: int = TOPIC_WORDS) -> list[str]:
    """Each answer's `n` highest-weighted TF-IDF words within its collection, comma-separated."""
    vectorizer = TfidfVectorizer(token_pattern=r"(?u)\b\w[\w.]{2,}\b", max_df=0.5)
    weights = vectorizer.fit_transform(answers).toarray()
    vocabulary = vectorizer.get_feature_names_out()
    return [", ".join(vocabulary[np.argsort(-row, kind="stable")[:n]]) for row in weights]


def opening(text: str, chars: int) -> str:
    """The first `chars` characters of `text` with its whitespace collapsed."""
    return " ".join(text.split())[:chars]


def few_shot_prompt(corpus: Corpus, topics: list[str], index: int, rng: random.Random) -> str:
    """The prompt for entry `index`: SHOTS other entries with their FAQ questions, then it."""
    others = rng.sample([i for i in range(len(corpus)) if i != index], SHOTS)
    shots = "".join(
        f"Topic: {topics[i]}\nText: {opening(corpus.answers[i], SHOT_CHARS)}\n"
        f"A user asks: {corpus.questions[i]}\n\n"
        for i in others
    )
    return (
        f"{shots}Topic: {topics[index]}\nText: {opening(corpus.answers[index], ANSWER_CHARS)}\n"
        "A user asks:"
    )


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()


def words_of(text: str) -> str:
    """The text's words in lower case, single-spaced: how two questions are compared."""
    return re.sub(r"\W+", " ", text).lower().strip()


def is_question(text: str, own_question: str) -> bool:
    """A question of MIN_WORDS-MAX_WORDS words that does not copy the FAQ's own question."""
    words = len(text.split())
    copied = words_of(text) == words_of(own_question)
    return text.endswith("?") and MIN_WORDS <= words <= MAX_WORDS and not copied


def generate_candidates(
    corpus: Corpus,
    lm: CausalLM,
    per_entry: int = 6,
    batch_entries: int = 16,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[str]]:
    """`per_entry` sampled questions for each entry of one collection, by entry."""
    tokenizer = lm.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else lm.eos_ids[0]
    newline_id = tokenizer.encode("\n", add_special_tokens=False)[-1]
    rng = random.Random(seed)
    torch.manual_seed(seed)
    topics = topic_words(corpus.answers)
    prompts = [few_shot_prompt(corpus, topics, i, rng) for i in range(len(corpus))]
    candidates: list[list[str]] = []
    for start in range(0, len(prompts), batch_entries):
        batch = tokenizer(
            prompts[start : start + batch_entries],
            return_tensors="pt",
            padding=True,
            padding_side="left",  # generation continues every prompt from its end
        )
        with torch.no_grad():
            output = lm.model.generate(
                **batch.to(lm.device),
                do_sample=True,
                temperature=0.7,
                top_p=0.9,
                max_new_tokens=MAX_NEW_TOKENS,
                num_return_sequences=per_entry,
                eos_token_id=[*lm.eos_ids, newline_id],
                pad_token_id=pad_id,
            )
        texts = tokenizer.batch_decode(
            output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
        )
        lines = [first_line(text) for text in texts]
        candidates += [lines[i : i + per_entry] for i in range(0, len(lines), per_entry)]
        if progress:
            progress(len(candidates), len(prompts))
    return candidates


def keep_consistent(corpus: Corpus, candidates: list[list[str]]) -> list[SyntheticQuestion]:
    """The candidates that are questions and lead BM25 (over whole entries) back to their entry
    within the top KEEP_RANK; one copy of each."""
    flat = [
        (i, text)
        for i, texts in enumerate(candidates)
        for text in dict.fromkeys(texts)
        if is_question(text, corpus.questions[i])
    ]
    if not flat:
        return []
    bm25 = BM25Retriever().fit(as_entries(corpus).answers)
    ranked, _ = bm25.search([text for _, text in flat], KEEP_RANK)
    return [
        SyntheticQuestion(text, corpus.ids[i], corpus.collections[i])
        for (i, text), top in zip(flat, ranked, strict=True)
        if i in top
    ]


def synthesize(
    corpus: Corpus,
    lm: CausalLM,
    per_entry: int = 6,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[SyntheticQuestion]:
    """Kept synthetic questions for every entry, collection by collection."""
    kept: list[SyntheticQuestion] = []
    for name in corpus.collection_names():
        part = corpus.subset(name)

        def report(done: int, total: int, name: str = name) -> None:
            if progress:
                progress(name, done, total)

        candidates = generate_candidates(part, lm, per_entry, seed=seed, progress=report)
        kept += keep_consistent(part, candidates)
    return kept


def write_questions(path: Path, questions: Sequence[SyntheticQuestion]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(asdict(q), ensure_ascii=False) for q in questions)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def read_questions(path: Path = SHIPPED_SYNTHETIC) -> list[SyntheticQuestion]:
    with path.open(encoding="utf-8") as lines:
        return [SyntheticQuestion(**json.loads(line)) for line in lines if line.strip()]
