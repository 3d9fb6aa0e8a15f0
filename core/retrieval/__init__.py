"""Question-answer retrieval: corpora, metrics, retrievers (lexical, dense, fused), evaluation.

`registry.RETRIEVERS` names them; `python -m core.retrieval.cli` is the command line.
"""
