"""Question-answer retrieval: corpora, metrics, retrievers (lexical, dense, fused), evaluation.

`registry.RETRIEVERS` names them; `search` answers a question and evaluates them all, for the
tab and for `dlstudio search` (`cli`).
"""
