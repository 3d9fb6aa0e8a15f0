"""The dense encoder adapted to the FAQ corpus without labels: all-MiniLM-L6-v2 fine-tuned on
(synthetic question, entry) pairs with in-batch negatives.

Training data: `core.retrieval.synthetic` (questions the offline LM wrote for each entry, kept
by a BM25 round-trip check; shipped in `assets/retrieval_synthetic_questions.jsonl`). A pair's
positive is the entry as the paraphrase evaluation indexes it (question and answer,
`entry_text`); the other entries of its batch are its negatives (sentence-transformers'
MultipleNegativesRankingLoss). A batch never holds two questions of one entry, which would make
a right answer a negative.

`build_encoder` writes the model, the vectors of the shipped corpus's texts (answers and
entries, so that a search embeds only its query) and `build.json` (what it was trained on, how
long it took) into `<data dir>/models/minilm-adapted/`; `dlstudio build-encoder`
(`core.shipped.encoder`) runs it. The
retriever `dense-adapted` reads that folder and, while it is not built, refuses with the
command that builds it.
"""

import functools
import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from core.paths import data_dir
from core.retrieval.corpus import Corpus, as_entries, load_corpus
from core.retrieval.dense import (
    DenseRetriever,
    EmbeddingCache,
    encode,
    load_model,
    text_key,
    write_vectors,
)
from core.retrieval.synthetic import SHIPPED_SYNTHETIC, SyntheticQuestion, read_questions

FOLDER_NAME = "minilm-adapted"
VECTORS = "vectors.npz"
BUILD_RECORD = "build.json"
EPOCHS, BATCH_SIZE, LEARNING_RATE, WARMUP = 3, 32, 2e-5, 0.1  # fixed in advance, never tuned


class EncoderNotBuilt(ValueError):
    """The adapted encoder's folder is missing; the message names the command that builds it."""


def encoder_dir() -> Path:
    return data_dir() / "models" / FOLDER_NAME


def is_built(folder: Path | None = None) -> bool:
    return ((folder or encoder_dir()) / BUILD_RECORD).exists()


def training_pairs(
    questions: Sequence[SyntheticQuestion], corpus: Corpus
) -> list[tuple[str, str, str]]:
    """(question, entry text, entry id) for every question whose entry is in the corpus."""
    entries = dict(zip(corpus.ids, as_entries(corpus).answers, strict=True))
    return [(q.query, entries[q.id], q.id) for q in questions if q.id in entries]


def distinct_batches(
    pairs: Sequence[tuple[str, str, str]], batch_size: int, rng: random.Random
) -> list[list[tuple[str, str, str]]]:
    """The pairs shuffled into batches in which no entry appears twice (a later batch takes a
    pair whose entry is already in the one being filled)."""
    waiting = list(pairs)
    rng.shuffle(waiting)
    batches = []
    while waiting:
        batch, ids, rest = [], set(), []
        for pair in waiting:
            if len(batch) < batch_size and pair[2] not in ids:
                batch.append(pair)
                ids.add(pair[2])
            else:
                rest.append(pair)
        batches.append(batch)
        waiting = rest
    return batches


def fine_tune(
    pairs: Sequence[tuple[str, str, str]],
    out: Path,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    seed: int = 0,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict:
    """Fine-tune all-MiniLM-L6-v2 on the pairs (in-batch negatives) and save it to `out`."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )

    from core.retrieval.dense import shipped_model_folder

    if len(pairs) < 2:
        raise ValueError("fine-tuning needs at least two (question, entry) pairs")
    if epochs < 1:
        raise ValueError(f"epochs must be 1 or more, not {epochs}")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = SentenceTransformer(str(shipped_model_folder()), device=device)
    loss = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    plan = [distinct_batches(pairs, batch_size, rng) for _ in range(epochs)]
    steps = sum(map(len, plan))
    warmup = max(1, int(WARMUP * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, (steps - step) / (steps - warmup + 1))
    )
    model.train()
    step, losses = 0, []
    for batches in plan:
        for batch in batches:
            features = [
                batch_to(model.preprocess(texts), device)
                for texts in ([p[0] for p in batch], [p[1] for p in batch])
            ]
            value = loss(features, labels=None)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(value.item())
            if progress:
                progress(step, steps, losses[-1])
    model.eval()
    model.save(str(out))
    return {"steps": steps, "first_loss": losses[0], "last_loss": float(np.mean(losses[-10:]))}


def batch_to(features: dict, device: str) -> dict:
    """The model's inputs with their tensors on `device` (other entries, such as the input's
    modality, as they are)."""
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}


def build_encoder(
    questions_file: Path = SHIPPED_SYNTHETIC,
    folder: Path | None = None,
    epochs: int = EPOCHS,
    seed: int = 0,
    progress: Callable[[str], None] = lambda line: None,
) -> dict:
    """Fine-tune on the synthetic questions, embed the shipped corpus with the result, and put
    both in `folder` (default `encoder_dir()`), replacing an older build only when done."""
    folder = folder or encoder_dir()
    corpus = load_corpus()
    questions = read_questions(questions_file)
    pairs = training_pairs(questions, corpus)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.monotonic()
    trained = fine_tune(
        pairs,
        partial,
        epochs,
        seed=seed,
        progress=lambda step, steps, value: progress(f"step {step}/{steps}: loss {value:.3f}"),
    )
    training_s = time.monotonic() - started
    texts = list(dict.fromkeys(corpus.answers + as_entries(corpus).answers))
    progress(f"embedding the corpus's {len(texts)} texts")
    vectors = encode(texts, str(partial))
    write_vectors(partial / VECTORS, dict(zip(map(text_key, texts), vectors, strict=True)))
    record = {
        "questions": len(questions),
        "pairs": len(pairs),
        "entries": len({p[2] for p in pairs}),
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "seed": seed,
        **trained,
        "training_s": round(training_s, 1),
        "total_s": round(time.monotonic() - started, 1),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
    }
    (partial / BUILD_RECORD).write_text(json.dumps(record, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    partial.replace(folder)
    load_model.cache_clear()  # a model loaded from an older build must not meet the new vectors
    adapted_cache.cache_clear()
    return record


@functools.cache
def adapted_cache() -> EmbeddingCache:
    """The adapted encoder's embeddings, its shipped-corpus vectors loaded (once per process);
    EncoderNotBuilt, naming the command, while the folder is missing."""
    folder = encoder_dir()
    if not is_built(folder):
        raise EncoderNotBuilt(
            "the adapted encoder is not built yet: `dlstudio build-encoder` builds it (some "
            "minutes on a CPU)"
        )
    return EmbeddingCache(folder / VECTORS, model_folder=str(folder))


class AdaptedDenseRetriever(DenseRetriever):
    """Cosine similarity of the adapted encoder's embeddings (see the module docstring)."""

    name = "dense-adapted"

    def __init__(self) -> None:
        super().__init__(adapted_cache())
