"""The `dlstudio` command: one verb per package, each a thin `main(argv)` over its library.

    dlstudio --help                  the verbs, one line each
    dlstudio VERB --help             that verb's flags
    dlstudio train loan_exp1 --json  (python -m core train loan_exp1 --json is the same)
    dlstudio --allow-path ~/loans train loan_exp1 --data ~/loans/my.csv --target label

`VERBS` maps a verb to its one-line help and the `module:function` that parses the rest of the
command line; the module is imported only when its verb runs, so `dlstudio --help` answers
without loading PyTorch. A verb may have sub-verbs of its own (`report loan`, `metrics roc`),
found the same way. Every verb keeps its module's contract: `--json` prints one JSON object on
stdout and nothing else there; bad input exits with status 2 and the reason on stderr.

The files a command reads are confined as in the app (`core.paths.confine`): uploads and the
data shipped with it. `--allow-path DIR`, given before the verb (as often as needed), opens a
folder of the terminal user's too, for this command and the processes it starts. A refused path
ends the command with status 2, the refusal and that hint.
"""

import difflib
import importlib
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.paths import PathRefused, allow_paths

BAD_INPUT = 2  # argparse's status for bad arguments
HELP_FLAGS = ("-h", "--help")
ALLOW_PATH = "--allow-path"
ALLOW_PATH_HINT = (
    f"from a terminal, `dlstudio {ALLOW_PATH} DIR ...` lets the app read a folder of yours"
)


@dataclass(frozen=True)
class Verb:
    """One word of the command: what it does, and the `module:function` that does it.

    `target` takes the rest of the command line (a list of strings) and returns the exit status
    (None counts as 0). A verb with `verbs` runs the sub-verb its first argument names; without
    a sub-verb it runs its own `target`, or, having none, says which sub-verbs there are.
    """

    help: str
    target: str | None = None
    verbs: Mapping[str, "Verb"] = field(default_factory=dict)
    options: str = ""  # lines on the options that come before a sub-verb, for its --help


REPORTS = {
    "loan": Verb(
        "the loan-default study: five MLP experiments and their sweeps",
        "core.reports.loan:main",
    ),
    "image": Verb(
        "the image-classifier study: four fine-tuning recipes over seeds",
        "core.reports.images:main",
    ),
    "ssl": Verb(
        "context-prediction pretraining against random init, by label fraction",
        "core.reports.ssl:main",
    ),
    "pseudo-labels": Verb(
        "pseudo-labeling against its supervised baseline",
        "core.reports.pseudo_labels:main",
    ),
    "runs": Verb(
        "a study page from runs you pick: table with intervals, curves, conclusions",
        "core.reports.run_set:main",
    ),
    "tuning": Verb(
        "grid, random, TPE and GP searches at 9 and 30 trials, and what pruning saves",
        "core.reports.samplers:main",
    ),
    "search": Verb(
        "a hyper-parameter search's page: history, parallel coordinates, importances, trials",
        "core.reports.search:main",
    ),
    "pq": Verb(
        "product quantization of the embeddings: M = D methods, PQ at equal bits",
        "core.reports.pq:main",
    ),
    "inference": Verb(
        "inference speed-ups (ONNX Runtime, quantization, ...) against eager PyTorch",
        "core.reports.inference:main",
    ),
}

METRIC_STUDIES = {
    "roc": Verb(
        "ROC-AUC worked by hand: trapezoids and the pair count", "core.metrics.cli:roc_main"
    ),
    "fbeta": Verb(
        "worked examples where F-beta with beta != 1 is right", "core.metrics.cli:fbeta_main"
    ),
    "imbalance": Verb(
        "which metrics move when only the class balance changes", "core.metrics.cli:imbalance_main"
    ),
    "coverage": Verb(
        "how often the bootstrap intervals cover the true value", "core.metrics.cli:coverage_main"
    ),
    "page": Verb("whole-page metrics of a results page CSV", "core.metrics.cli:page_main"),
    "labeling": Verb(
        "agreement, honeypots and Dawid-Skene for crowd labels", "core.metrics.cli:labeling_main"
    ),
    "significance": Verb(
        "paired one-sided tests that search engine A beats B", "core.metrics.cli:significance_main"
    ),
}

VERBS: dict[str, Verb] = {
    "serve": Verb("serve the app (every tab) on port 7860", "app:main"),
    "train": Verb(
        "train a registered experiment, or a sweep of it, into the run store",
        "core.runs.cli:main",
    ),
    "tune": Verb(
        "search an experiment's hyper-parameters with Optuna (TPE, random, grid, GP); each "
        "trial a run",
        "core.runs.cli:tune_main",
    ),
    "export": Verb(
        "write runs' configs, final and per-epoch metrics as CSV files",
        "core.runs.cli:export_main",
    ),
    "runs": Verb(
        "list the image classifiers that runs in the run store trained",
        "core.serving.run_models:main",
    ),
    "classify": Verb(
        "classify image files with a shipped model or one a run trained", "core.serving.cli:main"
    ),
    "build-models": Verb(
        "build the shipped ONNX models (digits, animals) into models/", "core.shipped.build:main"
    ),
    "generate": Verb("generate a reply with one decoding strategy", "core.decoding.cli:main"),
    "search": Verb(
        "search a question-answer corpus, or evaluate every retriever on it",
        "core.retrieval.cli:main",
    ),
    "build-encoder": Verb(
        "fine-tune the dense retriever on synthetic questions about the FAQ (dense-adapted)",
        "core.shipped.encoder:main",
    ),
    "optimize": Verb(
        "minimise a function of x (or x, y) by gradient descent and its variants",
        "core.descent.cli:main",
    ),
    "metrics": Verb(
        "every metric of a CSV of labels and scores (sub-verbs: worked studies)",
        "core.metrics.cli:main",
        METRIC_STUDIES,
    ),
    "quantize": Verb("how well product quantization keeps a set of vectors", "core.pq.cli:main"),
    "embeddings": Verb(
        "build or list the embedding sets the quantization tools read", "core.embeddings.cli:main"
    ),
    "fetch": Verb(
        "download a data set into the data directory (afhq from the Hugging Face hub)",
        "core.vision.cli:fetch_main",
    ),
    "report": Verb("regenerate a study's report under reports/", verbs=REPORTS),
    "info": Verb("what each tab runs on: its model, data and device", "core.hosting.runtime:main"),
}

DLSTUDIO = Verb(
    "DL Studio from the command line: every tool of the app, one verb each.",
    verbs=VERBS,
    options=f"  {ALLOW_PATH} DIR  let the command read files in DIR too (repeatable)",
)


def listing(verb: Verb) -> str:
    """One line per sub-verb of `verb`: its name and what it does."""
    width = max(map(len, verb.verbs)) + 2
    return "\n".join(f"  {name:<{width}}{sub.help}" for name, sub in verb.verbs.items())


def usage(verb: Verb, prog: str) -> str:
    """What `PROG --help` prints for a verb that is only a group of sub-verbs."""
    options = f"options (before the verb):\n{verb.options}\n\n" if verb.options else ""
    return (
        f"usage: {prog} VERB [ARGUMENTS ...]\n\n{verb.help}\n\nverbs:\n{listing(verb)}\n\n"
        f"{options}`{prog} VERB --help` shows a verb's arguments."
    )


def take_allowed_paths(argv: list[str]) -> tuple[list[str], list[str]]:
    """The folders of the leading `--allow-path DIR` (or `--allow-path=DIR`) options, and the
    arguments after them; ValueError when one names no folder."""
    folders, rest = [], list(argv)
    while rest and rest[0].split("=")[0] == ALLOW_PATH:
        option = rest.pop(0)
        folder = option.partition("=")[2] if "=" in option else (rest.pop(0) if rest else "")
        if not folder or not Path(folder).expanduser().is_dir():
            raise ValueError(f"{ALLOW_PATH} needs a folder, got {folder!r}")
        folders.append(folder)
    return folders, rest


def load(target: str) -> Callable[[list[str]], int | None]:
    """The function a `module:function` target names, importing its module now."""
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def run(verb: Verb, prog: str, argv: list[str]) -> int:
    """Run `verb` on the arguments that follow it; the exit status."""
    if argv and argv[0] in verb.verbs:
        return run(verb.verbs[argv[0]], f"{prog} {argv[0]}", argv[1:])
    if verb.target is None:
        if argv[:1] and argv[0] in HELP_FLAGS:
            print(usage(verb, prog))
            return 0
        close = difflib.get_close_matches(argv[0], verb.verbs, n=1) if argv else []
        problem = f"unknown verb {argv[0]!r}" if argv else "name a verb"
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        print(
            f"usage: {prog} VERB [ARGUMENTS ...]\n{prog}: error: {problem}{hint}; "
            f"`{prog} --help` lists the verbs",
            file=sys.stderr,
        )
        return BAD_INPUT
    if verb.verbs and argv[:1] and argv[0] in HELP_FLAGS:  # its sub-verbs, then its own flags
        print(f"{prog} VERB [ARGUMENTS ...], VERB one of:\n{listing(verb)}\n")
    try:
        status = load(verb.target)(argv)
    except PathRefused as refusal:
        print(f"error: {refusal}\n{ALLOW_PATH_HINT}", file=sys.stderr)
        return BAD_INPUT
    return 0 if status is None else status


def main(argv: list[str] | None = None) -> int:
    """The console script `dlstudio` (and `python -m core`).

    As a process of its own (no `argv` given), a closed pipe ends it quietly, as it ends
    `ls | head`: the reader has what it wanted, so no traceback about the rest.
    """
    if argv is None:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        folders, rest = take_allowed_paths(sys.argv[1:] if argv is None else list(argv))
    except ValueError as error:
        print(
            f"usage: dlstudio [{ALLOW_PATH} DIR] VERB ...\ndlstudio: error: {error}",
            file=sys.stderr,
        )
        return BAD_INPUT
    if folders:
        allow_paths(folders)
    return run(DLSTUDIO, "dlstudio", rest)
