"""Gradient descent tab (not built yet)."""

from tabs.pending import pending

TITLE = "Gradient descent"


def build() -> None:
    pending(
        "Gradient descent, momentum, Nesterov, Adam and Lion stepping over a function you choose."
    )
