"""Turning several annotators' labels of an item into one: majority vote and Dawid-Skene.

Majority vote trusts every annotator equally. Dawid and Skene (1979) instead estimate, by EM,
each annotator's confusion matrix pi_w[true, given] and the class prior p, and label each item
by its posterior P(true = k | its labels) proportional to p_k * prod_w pi_w[k, label_w]. A
careful annotator then outweighs several random clickers, and a systematically biased one
(who always says one grade higher) is decoded rather than outvoted. EM never lowers the
objective (the log-likelihood plus the log-prior that the smoothing pseudo-counts stand for);
it starts from the majority vote's soft counts.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

SMOOTHING = 0.01  # pseudo-count per confusion cell, so an unseen (true, given) pair is not 0


def _codes(
    labels: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list, list, np.ndarray]:
    items, item_index = np.unique(labels["item"].to_numpy(), return_inverse=True)
    workers, worker_index = np.unique(labels["worker"].astype(str).to_numpy(), return_inverse=True)
    classes, label_index = np.unique(labels["label"].to_numpy(), return_inverse=True)
    return item_index, worker_index, label_index, list(items), list(workers), classes


def vote_counts(labels: pd.DataFrame, classes: np.ndarray | None = None) -> pd.DataFrame:
    """items x classes: how many labels of each class each item got."""
    counts = pd.crosstab(labels["item"], labels["label"])
    return counts if classes is None else counts.reindex(columns=classes, fill_value=0)


def majority_vote(labels: pd.DataFrame) -> pd.Series:
    """The most frequent label per item; a tie goes to the smallest label (deterministic)."""
    counts = vote_counts(labels)
    return pd.Series(counts.columns[counts.to_numpy().argmax(axis=1)], index=counts.index)


@dataclass
class DawidSkene:
    labels: pd.Series  # item -> most probable true class
    posterior: pd.DataFrame  # items x classes
    prior: pd.Series  # class -> estimated share
    confusion: dict[str, pd.DataFrame]  # worker -> true x given, rows sum to 1
    objective: list[float]  # log-likelihood + smoothing log-prior per iteration, never falls

    def worker_accuracy(self) -> pd.Series:
        """Each worker's estimated P(label = truth) = sum_k prior_k * pi_w[k, k]."""
        return pd.Series(
            {
                w: float(np.sum(self.prior.to_numpy() * np.diag(c)))
                for w, c in self.confusion.items()
            }
        ).sort_values()


def dawid_skene(labels: pd.DataFrame, max_iter: int = 100, tol: float = 1e-8) -> DawidSkene:
    """EM estimate of worker confusion matrices, the class prior and each item's true class."""
    item, worker, given, items, workers, classes = _codes(labels)
    n_items, n_workers, n_classes = len(items), len(workers), len(classes)
    votes = np.zeros((n_items, n_classes))
    np.add.at(votes, (item, given), 1)
    posterior = votes / votes.sum(axis=1, keepdims=True)
    history: list[float] = []
    for _ in range(max_iter):
        # M-step: prior and confusion matrices from the soft labels
        prior = posterior.mean(axis=0)
        confusion = np.full((n_workers, n_classes, n_classes), SMOOTHING)
        np.add.at(confusion, (worker, slice(None), given), posterior[item])
        confusion /= confusion.sum(axis=2, keepdims=True)
        # E-step: posterior of each item's true class given its labels
        log_joint = np.tile(np.log(prior + 1e-300), (n_items, 1))
        np.add.at(log_joint, item, np.log(confusion[worker, :, given]))
        top = log_joint.max(axis=1, keepdims=True)
        log_evidence = top[:, 0] + np.log(np.exp(log_joint - top).sum(axis=1))
        posterior = np.exp(log_joint - log_evidence[:, None])
        history.append(float(log_evidence.sum() + SMOOTHING * np.log(confusion).sum()))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
    return DawidSkene(
        labels=pd.Series(classes[posterior.argmax(axis=1)], index=items),
        posterior=pd.DataFrame(posterior, index=items, columns=classes),
        prior=pd.Series(prior, index=classes),
        confusion={
            w: pd.DataFrame(confusion[i], index=classes, columns=classes)
            for i, w in enumerate(workers)
        },
        objective=history,
    )
