"""Metrics tab (not built yet)."""

from tabs.pending import pending

TITLE = "Metrics"


def build() -> None:
    pending(
        "Imbalance sensitivity, F-beta, a worked ROC-AUC, micro vs weighted averaging, "
        "and a significance test of two search engines."
    )
