"""PQ explorer tab (not built yet)."""

from tabs.pending import pending

TITLE = "PQ explorer"


def build() -> None:
    pending(
        "Product quantization of the classifier's embeddings, including the optimal M = D case."
    )
