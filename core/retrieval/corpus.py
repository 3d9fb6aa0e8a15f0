"""Question-answer corpora: the shipped FAQ corpus, users' CSV / JSONL files, files of Hugging
Face dataset repositories (`hf://datasets/OWNER/NAME/FILE.jsonl`, when the hub is reachable),
and the split.

The app is public, so what a visitor names is checked before anything is read:
- a local file must be one the app may read (`core.paths.confine`: an upload, or data shipped
  with the app); the hub field takes only `hf://datasets/OWNER/NAME/FILE`, whose parts are
  checked (no `..`, no absolute parts) before the hub is asked, and every hub failure becomes
  a `CorpusError` in plain words;
- a visitor's corpus (`load_upload`, `load_hub_file`) has at most the host's `upload_answers`
  answers (`core.sharing.limits`), since every answer is embedded;
- a refusal names the columns or keys a file has only when the visitor uploaded that file;
  no message names a server path.

A corpus is a list of records with a question and its answer (plus an id, and optionally a
collection and a language). The shipped `assets/qa_corpus.jsonl` holds three collections built
by `scripts/build_qa_corpus.py`: python-faq (en), debian-faq-en (en), debian-faq-ru (ru).

Evaluation protocol: the answers are the documents, the questions the queries, each question's
own answer its only relevant document. `split_queries` divides the questions once, with a
fixed seed, into a tuning split (used only to tune the hybrid's weights) and an evaluation
split (the one every reported number comes from).
"""

import csv
import dataclasses
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from core.paths import REPO_ROOT, confine
from core.sharing.limits import HostLimits

SHIPPED_CORPUS = REPO_ROOT / "assets" / "qa_corpus.jsonl"
REQUIRED = ("question", "answer")
MAX_RECORDS = 200_000
TUNE_FRACTION = 0.3
SPLIT_SEED = 0


class CorpusError(ValueError):
    """A corpus file that cannot be used; the message says why and where."""


@dataclass(frozen=True)
class Corpus:
    """Parallel tuples, one entry per record (tuples keep a corpus hashable for caching);
    `shipped` marks the app's own corpus (and its collections), whose fitted retrievers are
    kept for good."""

    name: str
    ids: tuple[str, ...]
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    collections: tuple[str, ...]
    languages: tuple[str, ...]
    shipped: bool = False

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
        kept = (tuple(c[i] for i in keep) for c in columns)
        return Corpus(f"{self.name}/{collection}", *kept, shipped=self.shipped)


def entry_text(question: str, answer: str) -> str:
    """An FAQ entry as one document: its question, a blank line, its answer."""
    return f"{question}\n\n{answer}"


def as_entries(corpus: Corpus) -> Corpus:
    """The corpus with each record's question and answer together as its document."""
    documents = tuple(map(entry_text, corpus.questions, corpus.answers))
    return dataclasses.replace(corpus, name=f"{corpus.name} (entries)", answers=documents)


def from_records(
    records: list[dict], name: str, max_records: int = MAX_RECORDS, describe: bool = False
) -> Corpus:
    """Check records (question and answer present and non-empty, ids unique) into a Corpus.

    `describe`: a refusal may quote the records (the columns found, repeated ids); only for a
    file the visitor gave, never for one of the server's."""
    if not records:
        raise CorpusError(f"{name} has no records")
    if len(records) > max_records:
        raise CorpusError(
            f"{name} has {len(records):,} question-answer pairs; at most {max_records:,} are "
            "taken here"
        )
    columns = {key.strip().lower() for record in records for key in record}
    missing = [field for field in REQUIRED if field not in columns]
    if missing:
        found = f" (found: {', '.join(sorted(columns)) or 'none'})" if describe else ""
        raise CorpusError(
            f"{name} lacks the column(s) {', '.join(missing)}: each record needs a 'question' and "
            f"an 'answer'{found}"
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
        raise CorpusError(f"{name} has duplicate ids" + (f": {shown}" if describe else ""))
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
HUB_FORMAT = "hf://datasets/OWNER/NAME/FILE.jsonl (or .csv)"
HUB_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")  # owner, dataset
HUB_FILE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._ -]{0,199}")  # a folder or the file


def hub_parts(spec: str) -> tuple[str, str]:
    """(repo_id, filename) of `hf://datasets/OWNER/NAME/FILE`, checked before the hub is asked:
    names of letters, digits, '.', '_' and '-', no empty, '.' or '..' part, a .csv / .jsonl
    file; else a CorpusError showing the format."""
    parts = spec.removeprefix(HUB_PREFIX).split("/")
    owner, name, path = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
    valid = (
        spec.startswith(HUB_PREFIX)
        and HUB_NAME.fullmatch(owner)
        and HUB_NAME.fullmatch(name)
        and path
        and all(HUB_FILE_PART.fullmatch(part) and ".." not in part for part in path)
        and Path(path[-1]).suffix.lower() in PARSERS
    )
    if not valid:
        raise CorpusError(f"name a Hugging Face dataset file as {HUB_FORMAT}")
    return f"{owner}/{name}", "/".join(path)


def download_hub_file(spec: str) -> Path:
    """`hf://datasets/OWNER/NAME/FILE` -> the local copy of FILE from that dataset repository
    (downloaded once into the Hugging Face cache; needs the hub the first time). Every failure
    of the hub is a CorpusError that says what to check, and names no path of this server."""
    repo_id, filename = hub_parts(spec)
    try:
        return Path(hf_hub_download(repo_id, filename, repo_type="dataset"))
    except HFValidationError:
        reason = f"the hub does not take {repo_id!r} / {filename!r} as names"
    except LocalEntryNotFoundError:
        reason = "the hub could not be reached (is the network reachable?)"
    except (RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError, EntryNotFoundError):
        reason = "the hub has no such public dataset or file (check the names and their case)"
    except Exception:  # offline, timeouts, HTTP errors: all end in the one message
        reason = "the hub did not answer (is the network reachable, and does the file exist?)"
    raise CorpusError(f"could not fetch {filename} of the dataset {repo_id}: {reason}")


def load_corpus(path: str | Path | None = None) -> Corpus:
    """Read a corpus file (.jsonl or .csv with question and answer columns): None, the shipped
    FAQ corpus; `hf://datasets/OWNER/NAME/FILE`; else a local file the app may read
    (`core.paths.confine`: an upload, shipped data, or a folder opened with `--allow-path`)."""
    if path is None:
        return dataclasses.replace(read_corpus_file(SHIPPED_CORPUS, "faq"), shipped=True)
    if isinstance(path, str) and path.startswith(HUB_PREFIX):
        return read_corpus_file(download_hub_file(path), describe=False)
    return read_corpus_file(confine(path, "corpus file"), describe=False)


def load_upload(path: str | Path) -> Corpus:
    """A visitor's uploaded corpus file: confined (it lies in the uploads), at most the host's
    `upload_answers` pairs; a refusal may describe the file's columns, the visitor's own."""
    limit = HostLimits.from_env().upload_answers
    confined = confine(path, "corpus file", uploaded=True)
    return read_corpus_file(confined, max_records=limit, describe=True)


def load_hub_file(spec: str) -> Corpus:
    """What a visitor typed in the hub field: only `hf://datasets/OWNER/NAME/FILE` (a local
    path is refused), at most the host's `upload_answers` pairs."""
    spec = str(spec or "").strip()
    if not spec.startswith(HUB_PREFIX):
        raise CorpusError(
            f"this field takes a Hugging Face dataset file, {HUB_FORMAT}; to search a file of "
            "your own, upload it"
        )
    limit = HostLimits.from_env().upload_answers
    return read_corpus_file(download_hub_file(spec), max_records=limit, describe=False)


def read_corpus_file(
    path: Path, name: str | None = None, max_records: int = MAX_RECORDS, describe: bool = True
) -> Corpus:
    """Parse a .csv / .jsonl file already cleared for reading; messages name only its file
    name. `name` (default: the file's stem) names the corpus."""
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise CorpusError(f"{path.name}: use a .csv or .jsonl file, not {path.suffix or 'none'}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CorpusError(f"no such file: {path.name}") from None
    except UnicodeDecodeError:
        raise CorpusError(f"{path.name} is not UTF-8 text") from None
    except OSError:
        raise CorpusError(f"{path.name} could not be read") from None
    if not text.strip():
        raise CorpusError(f"{path.name} is empty")
    return from_records(parser(text, path.name), name or path.stem, max_records, describe)


def split_queries(n: int, tune_fraction: float = TUNE_FRACTION, seed: int = SPLIT_SEED):
    """Fixed (tuning, evaluation) index arrays over n questions, each sorted."""
    order = np.random.default_rng(seed).permutation(n)
    n_tune = round(n * tune_fraction)
    return np.sort(order[:n_tune]), np.sort(order[n_tune:])
