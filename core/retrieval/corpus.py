"""Question-answer corpora: the shipped FAQ corpus, users' CSV / JSONL files, files of Hugging
Face dataset repositories (`hf://datasets/OWNER/NAME/FILE.jsonl`, when the hub is reachable),
and the split.

A corpus is a list of records with a question and its answer (plus an id, and optionally a
collection and a language). The shipped `assets/qa_corpus.jsonl` holds three collections built
by `scripts/build_qa_corpus.py`: python-faq (en), debian-faq-en (en), debian-faq-ru (ru).

Evaluation protocol: the answers are the documents, the questions the queries, each question's
own answer its only relevant document. `split_queries` divides the questions once, with a
fixed seed, into a tuning split (used only to tune the hybrid's weights) and an evaluation
split (the one every reported number comes from).
"""

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from core.paths import REPO_ROOT

SHIPPED_CORPUS = REPO_ROOT / "assets" / "qa_corpus.jsonl"
REQUIRED = ("question", "answer")
MAX_RECORDS = 200_000
TUNE_FRACTION = 0.3
SPLIT_SEED = 0


class CorpusError(ValueError):
    """A corpus file that cannot be used; the message says why and where."""


@dataclass(frozen=True)
class Corpus:
    """Parallel tuples, one entry per record (tuples keep a corpus hashable for caching)."""

    name: str
    ids: tuple[str, ...]
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    collections: tuple[str, ...]
    languages: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def collection_names(self) -> list[str]:
        return list(dict.fromkeys(self.collections))

    def subset(self, collection: str | None) -> "Corpus":
        """Only the records of one collection (None: all of them)."""
        if collection is None:
            return self
        if collection not in self.collections:
            raise CorpusError(
                f"no collection {collection!r} in {self.name}; it has "
                f"{', '.join(self.collection_names())}"
            )
        keep = [i for i, name in enumerate(self.collections) if name == collection]
        columns = (self.ids, self.questions, self.answers, self.collections, self.languages)
        return Corpus(f"{self.name}/{collection}", *(tuple(c[i] for i in keep) for c in columns))


def from_records(records: list[dict], name: str) -> Corpus:
    """Check records (question and answer present and non-empty, ids unique) into a Corpus."""
    if not records:
        raise CorpusError(f"{name} has no records")
    if len(records) > MAX_RECORDS:
        raise CorpusError(f"{name} has {len(records):,} records; at most {MAX_RECORDS:,} are taken")
    columns = {key.strip().lower() for record in records for key in record}
    missing = [field for field in REQUIRED if field not in columns]
    if missing:
        raise CorpusError(
            f"{name} lacks the column(s) {', '.join(missing)}: each record needs a 'question' and "
            f"an 'answer' (found: {', '.join(sorted(columns)) or 'none'})"
        )
    rows = [{key.strip().lower(): value for key, value in record.items()} for record in records]
    for number, row in enumerate(rows, start=1):
        for field in REQUIRED:
            value = row.get(field)
            if not isinstance(value, str) or not value.strip():
                raise CorpusError(f"{name}, record {number}: the {field} is empty or not text")
    ids = [str(row.get("id") or f"{name}:{n}") for n, row in enumerate(rows, start=1)]
    repeated = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) < len(ids) else []
    if repeated:
        shown = ", ".join(repeated[:5]) + (" ..." if len(repeated) > 5 else "")
        raise CorpusError(f"{name} has duplicate ids: {shown}")
    return Corpus(
        name,
        tuple(ids),
        tuple(row["question"].strip() for row in rows),
        tuple(row["answer"].strip() for row in rows),
        tuple(str(row.get("collection") or name) for row in rows),
        tuple(str(row.get("language") or "") for row in rows),
    )


def parse_jsonl(text: str, name: str) -> list[dict]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CorpusError(f"{name}, line {number} is not JSON: {error.msg}") from None
        if not isinstance(record, dict):
            raise CorpusError(f"{name}, line {number}: each line must be a JSON object")
        records.append(record)
    return records


def parse_csv(text: str, name: str) -> list[dict]:
    try:
        return [dict(row) for row in csv.DictReader(io.StringIO(text))]
    except csv.Error as error:
        raise CorpusError(f"{name} is not a readable CSV: {error}") from None


PARSERS = {".jsonl": parse_jsonl, ".json": parse_jsonl, ".csv": parse_csv}


HUB_PREFIX = "hf://datasets/"


def download_hub_file(spec: str) -> Path:
    """`hf://datasets/OWNER/NAME/FILE` -> the local copy of FILE from that dataset repository
    (downloaded once into the Hugging Face cache; needs the hub the first time)."""
    parts = spec.removeprefix(HUB_PREFIX).split("/", 2)
    if len(parts) != 3 or not all(parts):
        raise CorpusError(
            f"{spec!r}: name a Hugging Face dataset file as hf://datasets/OWNER/NAME/FILE.jsonl "
            "(or .csv)"
        )
    repo_id, filename = f"{parts[0]}/{parts[1]}", parts[2]
    try:
        return Path(hf_hub_download(repo_id, filename, repo_type="dataset"))
    except (OSError, HfHubHTTPError) as error:
        raise CorpusError(
            f"could not fetch {filename} of the dataset {repo_id} from the Hugging Face hub "
            f"(is the network reachable, and do the repository and file exist?): {error}"
        ) from None


def load_corpus(path: str | Path | None = None) -> Corpus:
    """Read a corpus file (.jsonl or .csv with question and answer columns), local or
    `hf://datasets/OWNER/NAME/FILE`; None: the shipped FAQ corpus."""
    if isinstance(path, str) and path.startswith(HUB_PREFIX):
        path = download_hub_file(path)
    path = Path(path) if path is not None else SHIPPED_CORPUS
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise CorpusError(f"{path.name}: use a .csv or .jsonl file, not {path.suffix or 'none'}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CorpusError(f"no such file: {path}") from None
    except UnicodeDecodeError:
        raise CorpusError(f"{path.name} is not UTF-8 text") from None
    if not text.strip():
        raise CorpusError(f"{path.name} is empty")
    return from_records(parser(text, path.name), path.stem if path != SHIPPED_CORPUS else "faq")


def split_queries(n: int, tune_fraction: float = TUNE_FRACTION, seed: int = SPLIT_SEED):
    """Fixed (tuning, evaluation) index arrays over n questions, each sorted."""
    order = np.random.default_rng(seed).permutation(n)
    n_tune = round(n * tune_fraction)
    return np.sort(order[:n_tune]), np.sort(order[n_tune:])
