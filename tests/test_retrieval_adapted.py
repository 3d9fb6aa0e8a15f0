"""The adapted dense encoder: synthetic questions from the offline LM, their round-trip filter,
fine-tuning with in-batch negatives, and the `dense-adapted` retriever built by one command."""

import json
import random

import numpy as np
import pytest

from core.cli import main as dlstudio_main
from core.decoding.lm import load_lm
from core.retrieval import adapted, registry
from core.retrieval.adapted import (
    EncoderNotBuilt,
    build_encoder,
    distinct_batches,
    fine_tune,
    training_pairs,
)
from core.retrieval.corpus import as_entries, from_records, load_corpus
from core.retrieval.dense import load_model
from core.retrieval.paraphrases import SHIPPED_QUERIES
from core.retrieval.synthetic import (
    SHIPPED_SYNTHETIC,
    SyntheticQuestion,
    is_question,
    keep_consistent,
    read_questions,
    synthesize,
    words_of,
    write_questions,
)


@pytest.fixture
def home(home_records):
    return from_records(home_records[:6], "home")


def test_a_candidate_is_kept_only_when_it_is_a_question_that_leads_back_to_its_entry(home):
    candidates = [[] for _ in home.ids]
    candidates[0] = [
        "what removes white vinegar crust from a kettle?",  # about it: kept
        "How do I descale a kettle?",  # the FAQ's own question: dropped
        "kettle vinegar",  # not a question: dropped
    ]
    candidates[1] = ["Why is my sourdough starter weak?"]  # about another entry: dropped
    candidates[2] = ["basil leaves yellow water soil?", "basil leaves yellow water soil?"]
    kept = keep_consistent(home, candidates)
    assert kept == [
        SyntheticQuestion("what removes white vinegar crust from a kettle?", "kettle", "home"),
        SyntheticQuestion("basil leaves yellow water soil?", "plant", "home"),
    ]
    assert not is_question("Why?", "How do I descale a kettle?")  # too short


def test_batches_never_hold_one_entry_twice_and_use_every_pair_once():
    pairs = [(f"q{i}", f"entry {i % 7}", str(i % 7)) for i in range(40)]
    batches = distinct_batches(pairs, 5, random.Random(0))
    assert sorted(p for batch in batches for p in batch) == sorted(pairs)
    assert all(len({p[2] for p in batch}) == len(batch) <= 5 for batch in batches)


def rank_of_own_entry(model, questions: list[str], documents: list[str]) -> np.ndarray:
    q = model.encode(questions, normalize_embeddings=True)
    d = model.encode(documents, normalize_embeddings=True)
    scores = q @ d.T
    own = np.diag(scores)[:, None]
    return (scores > own).sum(1)  # 0: first


def test_fine_tuning_teaches_the_encoder_pairs_it_could_not_know(home, tmp_path):
    """Ticket numbers mean nothing to the shipped model; after fine-tuning on (ticket, entry)
    pairs with in-batch negatives it ranks each ticket's entry above the others."""
    documents = list(as_entries(home).answers)
    questions = [f"ticket {4000 + 37 * i}" for i in range(len(documents))]
    pairs = [(q, d, i) for q, d, i in zip(questions, documents, home.ids, strict=True)]
    before = rank_of_own_entry(load_model(), questions, documents)
    trained = fine_tune(pairs * 4, tmp_path / "model", epochs=8, batch_size=6, learning_rate=2e-4)
    after = rank_of_own_entry(load_model(str(tmp_path / "model")), questions, documents)
    assert trained["last_loss"] < trained["first_loss"]
    assert before.mean() >= 1.0  # the shipped model ranks other entries first, on average
    assert after.mean() < before.mean() / 2 and (after == 0).sum() >= len(after) // 2


def test_the_offline_lm_writes_questions_about_entries_of_the_faq():
    part = load_corpus().subset("python-faq")
    few = from_records(
        [
            {"id": i, "question": q, "answer": a, "collection": "python-faq"}
            for i, q, a in list(zip(part.ids, part.questions, part.answers, strict=True))[:8]
        ],
        "python-faq",
    )
    kept = synthesize(few, load_lm(), per_entry=4, seed=0)
    assert kept, "no synthetic question passed the filter"
    assert {q.id for q in kept} <= set(few.ids) and {q.collection for q in kept} == {"python-faq"}
    assert all(is_question(q.query, few.questions[few.ids.index(q.id)]) for q in kept)


def test_the_shipped_synthetic_questions_cover_the_english_faq_and_leave_out_the_benchmark():
    questions = read_questions(SHIPPED_SYNTHETIC)
    corpus = load_corpus()
    collection_of = dict(zip(corpus.ids, corpus.collections, strict=True))
    assert {q.id for q in questions} <= set(corpus.ids)
    assert all(collection_of[q.id] == q.collection for q in questions)
    for name in ("python-faq", "debian-faq-en"):
        entries = {q.id for q in questions if q.collection == name}
        assert len(entries) >= 0.5 * corpus.collections.count(name)
    benchmark = {words_of(json.loads(line)["query"]) for line in SHIPPED_QUERIES.open()}
    assert not benchmark & {words_of(q.query) for q in questions}


def test_dense_adapted_refuses_until_built_then_one_command_builds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path / "data"))
    adapted.adapted_cache.cache_clear()
    assert "dense-adapted" not in registry.available_retrievers()
    with pytest.raises(EncoderNotBuilt, match="dlstudio build-encoder"):
        registry.build_retriever("dense-adapted")

    corpus = load_corpus().subset("python-faq")
    few = [
        SyntheticQuestion(q, i, c)
        for q, i, c in zip(
            corpus.questions[:12], corpus.ids[:12], corpus.collections[:12], strict=True
        )
    ]
    questions_file = tmp_path / "synthetic.jsonl"
    write_questions(questions_file, few)
    assert len(training_pairs(few, load_corpus())) == 12
    record = build_encoder(questions_file, epochs=1)
    assert record["pairs"] == 12 and record["entries"] == 12
    assert (adapted.encoder_dir() / adapted.BUILD_RECORD).exists()
    assert "dense-adapted" in registry.available_retrievers()
    hits = (
        registry.build_retriever("dense-adapted")
        .fit(list(corpus.answers))
        .search(["how do I make a Python script executable on Unix?"], 3)
    )
    assert hits[0].shape == (1, 3)
    adapted.adapted_cache.cache_clear()


def test_the_build_command_refuses_zero_epochs_before_training(capsys):
    with pytest.raises(SystemExit):
        dlstudio_main(["build-encoder", "--epochs", "0"])
    assert "epochs" in capsys.readouterr().err
