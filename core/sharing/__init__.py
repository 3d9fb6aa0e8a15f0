"""Sharing one machine among many visitors: who is asking (`visitors`), how much each may ask
for (`limits`), and where heavy work runs so that it never starves light requests (`heavy`).

Plumbing: no domain knowledge, so the run queue, the metrics and the retrieval packages can
all use it.
"""
