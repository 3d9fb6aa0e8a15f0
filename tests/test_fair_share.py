"""A shared server stays fair: heavy work is bounded and runs in the low-priority worker, the
shipped corpus's searches never wait for an upload's embedding, visitors' caches forget, and
the corpus loader reads only what it may, refusing in plain words."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub.errors import HFValidationError

from core.metrics import binary
from core.metrics.bootstrap import bootstrap_cis, check_budget
from core.paths import REPO_ROOT
from core.retrieval import corpus as corpus_module
from core.retrieval import dense
from core.retrieval.corpus import CorpusError, load_corpus, load_hub_file, load_upload
from core.retrieval.dense import EmbeddingCache, text_key
from core.retrieval.expiring import ExpiringLRU
from core.retrieval.search import search
from core.sharing import heavy
from core.sharing.limits import RateLimited
from tabs import heavy_events


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_encode(texts: list[str], model_folder: str | None = None) -> np.ndarray:
    """Unit vectors of the model's size, one per text, without the model (any model)."""
    seeds = [int(text_key(text)[:8], 16) for text in texts]
    vectors = np.stack([np.random.default_rng(seed).normal(size=384) for seed in seeds])
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def qa_file(path, pairs: int):
    rows = [json.dumps({"question": f"q {i}?", "answer": f"a {i}"}) for i in range(pairs)]
    path.write_text("\n".join(rows), encoding="utf-8")
    return path


# --- budgets ---


def test_a_bootstrap_over_the_budget_is_refused_with_what_fits(monkeypatch):
    monkeypatch.setenv("DLSTUDIO_BOOTSTRAP_BUDGET", "10000")
    check_budget(100, 100)  # exactly the budget: allowed
    with pytest.raises(ValueError, match=r"at most 50 resamples for these rows") as refused:
        check_budget(200, 100)
    assert "200 rows x 100 resamples" in str(refused.value)
    y = np.array([0, 1] * 100)
    with pytest.raises(ValueError, match="more than this server computes at once"):
        binary.binary_report(y, np.linspace(0, 1, 200), n_resamples=100)


def test_an_upload_over_the_answer_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_UPLOAD_ANSWERS", "5")
    assert len(load_upload(qa_file(tmp_path / "five.jsonl", 5))) == 5
    with pytest.raises(CorpusError, match="has 6 question-answer pairs; at most 5 are taken"):
        load_upload(qa_file(tmp_path / "six.jsonl", 6))


def test_heavy_events_are_rate_limited_per_visitor(monkeypatch):
    monkeypatch.setenv("DLSTUDIO_HEAVY_PER_MINUTE", "2")
    heavy.rate_limiter.cache_clear()

    class Request:
        def __init__(self, session_hash: str) -> None:
            self.session_hash = session_hash

    try:
        heavy_events.count_heavy(Request("one"))
        heavy_events.count_heavy(Request("one"))
        with pytest.raises(RateLimited, match="at most 2 a minute per visitor"):
            heavy_events.count_heavy(Request("one"))
        heavy_events.count_heavy(Request("two"))  # another visitor has their own share
    finally:
        heavy.rate_limiter.cache_clear()


# --- the heavy worker ---


def test_a_bootstrap_in_the_heavy_worker_equals_the_direct_one():
    rng = np.random.default_rng(3)
    y_true, y_score = rng.integers(0, 2, 300), rng.random(300)
    direct = binary.binary_report(y_true, y_score, 0.4, 2.0, 200, 0.9, seed=5)
    pooled = heavy.run(binary.binary_report, y_true, y_score, 0.4, 2.0, 200, 0.9, seed=5)
    assert pooled.intervals == direct.intervals and pooled.values == direct.values
    with pytest.raises(ValueError, match="level must be in"):  # raised there, raised here
        heavy.run(bootstrap_cis, {}, y_true, y_score, 10, 1.5)


def test_the_worker_runs_at_the_lowest_priority():
    import os

    assert heavy.run(os.nice, 0) == 19


# --- embeddings of uploads ---


def test_a_shipped_search_does_not_wait_for_an_upload_being_embedded(monkeypatch):
    """The upload's embedding is held inside the (fake) worker until the shipped search is
    done: with a shared lock the search would wait for it and the test would time out."""
    inside, release = threading.Event(), threading.Event()

    def blocked_worker(function, *args):
        inside.set()
        assert release.wait(60), "the test never released the worker"
        return function(*args)

    monkeypatch.setattr(dense.heavy, "run", blocked_worker)
    monkeypatch.setattr(dense, "encode", fake_encode)
    cache = EmbeddingCache()
    monkeypatch.setattr(dense, "default_cache", lambda: cache)
    upload = [f"an uploaded answer number {i}" for i in range(20)]
    embedding = threading.Thread(target=cache.embed, args=(upload,))
    embedding.start()
    try:
        assert inside.wait(60)
        result = search("How do I copy a list?", "dense", k=3, collection="python-faq")
        assert len(result["hits"]) == 3
        assert embedding.is_alive()  # the upload is still being embedded
    finally:
        release.set()
        embedding.join(60)


def test_upload_embeddings_stay_in_memory_and_are_forgotten(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path / "data"))
    calls = []

    def counting_worker(function, texts, *rest):
        calls.append(len(texts))
        return function(texts, *rest)

    monkeypatch.setattr(dense.heavy, "run", counting_worker)
    monkeypatch.setattr(dense, "encode", fake_encode)
    clock = Clock()
    cache = EmbeddingCache(shipped=None, clock=clock)
    answers = [f"answer {i}" for i in range(10)]
    first = cache.embed(answers)
    np.testing.assert_array_equal(cache.embed(answers[:4]), first[:4])  # a part: no new call
    assert calls == [10]
    assert not (tmp_path / "data" / "embeddings").exists()  # nothing written to disk
    clock.now += 29 * 60
    cache.embed(answers)  # used again: its half hour starts again
    clock.now += 29 * 60
    cache.embed(answers)
    assert calls == [10]
    clock.now += 31 * 60
    cache.embed(answers)
    assert calls == [10, 10]  # forgotten after half an hour unused


def test_queries_are_embedded_here_and_kept_only_for_a_while(monkeypatch):
    def no_worker(function, texts):
        raise AssertionError("a query must not wait for the worker")

    monkeypatch.setattr(dense.heavy, "run", no_worker)
    monkeypatch.setattr(dense, "encode", fake_encode)
    clock = Clock()
    cache = EmbeddingCache(shipped=None, clock=clock)
    cache.embed(["how do I copy a list?"])
    assert cache.queries.get(text_key("how do I copy a list?")) is not None
    clock.now += 31 * 60
    assert cache.queries.get(text_key("how do I copy a list?")) is None


def test_the_expiring_cache_drops_the_least_recently_used():
    clock = Clock()
    cache = ExpiringLRU(2, ttl_s=10, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now b is the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    clock.now = 10
    assert len(cache) == 0


# --- what the corpus loader reads ---


@pytest.mark.parametrize(
    "typed",
    ["/etc/passwd.csv", "data/runs.jsonl", "~/notes.csv", "hf://models/x/y/z.jsonl", ""],
)
def test_the_hub_field_refuses_anything_but_a_hub_dataset_file(typed):
    with pytest.raises(CorpusError, match="this field takes a Hugging Face dataset file") as no:
        load_hub_file(typed)
    assert "upload it" in str(no.value)


@pytest.mark.parametrize(
    "spec",
    [
        "hf://datasets/../../etc/passwd.csv",
        "hf://datasets/someone/faq/../../../secret.jsonl",
        "hf://datasets/someone/faq//train.jsonl",
        "hf://datasets/someone/faq/train.parquet",
        "hf://datasets/some one/faq/train.jsonl",
        "hf://datasets/someone",
    ],
)
def test_hub_names_are_checked_before_the_hub_is_asked(spec, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the hub must not be asked")

    monkeypatch.setattr(corpus_module, "hf_hub_download", never)
    with pytest.raises(CorpusError, match="name a Hugging Face dataset file as hf://datasets/"):
        load_hub_file(spec)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (HFValidationError("Repo id must use alphanumeric chars"), "does not take"),
        (ConnectionError("offline"), "is the network reachable"),
    ],
)
def test_every_hub_failure_is_a_plain_refusal(failure, reason, monkeypatch):
    def failing(repo_id, filename, repo_type):
        raise failure

    monkeypatch.setattr(corpus_module, "hf_hub_download", failing)
    with pytest.raises(CorpusError, match=reason) as refused:
        load_hub_file("hf://datasets/someone/faq-pairs/train.jsonl")
    assert str(refused.value).startswith("could not fetch train.jsonl of the dataset someone/")


def test_a_local_file_outside_the_uploads_is_refused_without_its_path(monkeypatch):
    monkeypatch.delenv("DLSTUDIO_ALLOW_PATHS", raising=False)
    for path in ("/etc/hostname.csv", "/proc/self/environ.jsonl"):
        with pytest.raises(ValueError, match="corpus file: refused") as refused:
            load_corpus(path)
        assert "/etc" not in str(refused.value) and "/proc" not in str(refused.value)


def test_a_non_qa_file_is_described_only_when_the_visitor_uploaded_it(tmp_path, monkeypatch):
    path = tmp_path / "accounts.jsonl"
    path.write_text('{"user": "ann", "password_hash": "x"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\(found: password_hash, user\)"):
        load_upload(path)  # the visitor's own file: they may see its keys
    with pytest.raises(CorpusError, match="lacks the column") as server_file:
        load_corpus(path)  # a file named on the server: nothing of it is repeated
    assert "user" not in str(server_file.value) and "password" not in str(server_file.value)
    monkeypatch.setattr(corpus_module, "hf_hub_download", lambda *args, **kwargs: str(path))
    with pytest.raises(CorpusError, match="lacks the column") as hub_file:
        load_hub_file("hf://datasets/someone/faq/accounts.jsonl")
    assert "password" not in str(hub_file.value)


APP_WITH_A_WORKER = """
import os, sys, time
from core.sharing import heavy
print(heavy.run(os.getpid), flush=True)  # the worker's pid, once it is up
time.sleep(600)
"""


def running(pid: int) -> bool:
    """Whether process `pid` runs (a zombie waiting to be reaped has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_the_heavy_worker_ends_when_the_app_that_started_it_is_killed(wait_until):
    app = subprocess.Popen(
        [sys.executable, "-c", APP_WITH_A_WORKER],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = int(app.stdout.readline())
    assert worker != app.pid and running(worker)
    app.kill()  # no clean-up of any kind: as an out-of-memory kill or a container stop does
    app.wait()
    wait_until(lambda: not running(worker), "the orphaned worker to exit", 30)
