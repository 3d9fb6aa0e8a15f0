"""Decoding tab (not built yet)."""

from tabs.pending import pending

TITLE = "Decoding"


def build() -> None:
    pending(
        "Greedy, sampling, temperature, top-p and beam search on a small instruct LM, streamed."
    )
