"""Classifier tab (not built yet)."""

from tabs.pending import pending

TITLE = "Classifier"


def build() -> None:
    pending(
        "Draw a digit or upload an animal photo and see the fine-tuned classifier's prediction."
    )
