"""What the tabs' heavy events share: their concurrency group and the per-visitor rate limit.

A heavy event (a bootstrap, loading and embedding a corpus, an evaluation) runs its work in
`core.sharing.heavy`'s low-priority worker and queues in its own Gradio concurrency group, so
it never holds a slot of the light events (a small metric table, a search).
"""

import gradio as gr

from core.sharing import heavy
from core.sharing.visitors import LOCAL, session_visitor

EVENT = {"concurrency_id": heavy.QUEUE, "concurrency_limit": heavy.QUEUE_SLOTS}


def visitor_key(request: gr.Request | None) -> str:
    """The key rate limits count by: the visitor of the event's session (the terminal user
    when a handler is called without a request, as in tests)."""
    if request is None or not request.session_hash:
        return LOCAL.key
    return session_visitor(request.session_hash).key


def count_heavy(request: gr.Request | None) -> None:
    """Count one heavy event for its visitor; RateLimited (a ValueError) past their share."""
    heavy.rate_limiter().check(visitor_key(request))
