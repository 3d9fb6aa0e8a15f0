"""The studies the Results tab shows: a registry of page writers over the run store.

Each study registers its title, a one-line purpose, where its numbers come from (reference
runs in the store, or a results file that ships with the app for studies that measure rather
than train) and a function that writes its `Page` (`core.reports.page`): the same function
that writes the study's README, so the app and the repository say the same thing.
`study_page` caches each page by what it was written from (a page computes bootstrap
intervals: seconds, not milliseconds), so many visitors opening one study cost one
computation.

    from core.reports.studies import available_studies, study_page
    page = study_page(store, "loan")
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.reports import images, inference, loan, pq, pseudo_labels, samplers, ssl
from core.reports.page import Page
from core.runs.reference import reference_runs
from core.runs.store import RunStore


@dataclass(frozen=True)
class Study:
    """One study of the Results tab."""

    title: str
    purpose: str
    write: Callable[[RunStore], Page]  # its page, from the store or its shipped results
    results_file: Path | None = None  # measured studies: their results; None: reference runs

    def sources(self, store: RunStore, name: str) -> tuple | None:
        """What its page is written from (a cache key); None when the app has none of it."""
        if self.results_file is not None:
            return (self.results_file.stat().st_mtime,) if self.results_file.is_file() else None
        runs = reference_runs(store, name)
        return tuple(sorted(runs.items())) or None


STUDIES: dict[str, Study] = {
    loan.STUDY: Study(
        "Loan default: Exp 1-5",
        "how depth, skip connections, dropout, weight decay and learning rate change an MLP "
        "that predicts loan default (ROC-AUC)",
        lambda store: loan.loan_page(store, loan.study_from_reference(store)),
    ),
    **{
        images.study_name(prefix): Study(
            f"{name}: four fine-tuning recipes",
            f"whether gradual unfreezing with an adaptive lr, iterative augmentation or both "
            f"beat plain fine-tuning of a pretrained network on {data} (test accuracy, paired "
            "tests over seeds and test pictures)",
            lambda store, prefix=prefix: images.page_from_reference(store, prefix),
        )
        for prefix, name, data in (
            ("digits", "Digits", "scikit-learn's digits"),
            ("fashion", "Fashion-MNIST", "Fashion-MNIST"),
        )
    },
    **{
        ssl.study_name(prefix): Study(
            f"Self-supervised pretraining: {name}",
            "whether context-prediction pretraining without labels helps a classifier trained "
            f"on 100 %, 50 % and 10 % of the {name} labels (speed, plateau, best accuracy)",
            lambda store, prefix=prefix: ssl.page_from_reference(store, prefix),
        )
        for prefix, name in (("digits", "digits"), ("fashion", "Fashion-MNIST"))
    },
    pseudo_labels.STUDY: Study(
        "Pseudo-labeling",
        "whether a student trained on a teacher's confident pseudo-labels beats the teacher "
        "when few pictures are labeled",
        pseudo_labels.page_from_reference,
    ),
    "inference": Study(
        "Inference optimisation",
        "how much faster 17 techniques (ONNX Runtime, int8 quantization, BN folding, "
        "torch.compile, ...) serve the Fashion-MNIST classifiers, at what accuracy",
        lambda store: inference.page_from_results(),
        results_file=inference.RESULTS,
    ),
    "pq": Study(
        "Product quantization",
        "how well one quantizer per component (M = D) and product quantization keep the "
        "classifier's embeddings, at equal bits",
        lambda store: pq.page_from_results(),
        results_file=pq.RESULTS,
    ),
    "tuning": Study(
        "Hyper-parameter search",
        "which search (grid, random, TPE, Gaussian process) finds a good learning rate and "
        "weight decay in 9 and in 30 trials, over 5 seeds, and what pruning saves",
        lambda store: samplers.page_from_results(),
        results_file=samplers.RESULTS,
    ),
}

_pages: dict[tuple, Page] = {}
_locks = {name: threading.Lock() for name in STUDIES}  # one study's writing blocks no other


def available_studies(store: RunStore) -> dict[str, str]:
    """The studies whose numbers the app has (reference runs or results): name -> title."""
    return {name: s.title for name, s in STUDIES.items() if s.sources(store, name)}


def study_page(store: RunStore, name: str) -> Page:
    """The page of study `name`, written once per set of runs (KeyError for an unknown one)."""
    if name not in STUDIES:
        raise KeyError(f"no study named {name!r}; studies: {', '.join(STUDIES)}")
    key = (str(store.path), name, STUDIES[name].sources(store, name))
    with _locks[name]:  # one visitor writes it, the others wait and share
        if key not in _pages:
            _pages[key] = STUDIES[name].write(store)
        return _pages[key]


def write_pages_in_background(store: RunStore) -> threading.Thread:
    """Write every available study's page in a background thread, so that the first visitor
    of the Results tab does not wait for it (the loan page's bootstrap intervals take seconds)."""

    def write_all() -> None:
        for name in available_studies(store):
            study_page(store, name)

    thread = threading.Thread(target=write_all, name="study-pages", daemon=True)
    thread.start()
    return thread
