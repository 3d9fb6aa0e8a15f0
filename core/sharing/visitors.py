"""Who is asking: a visitor of the hosted app, or the person at this computer's terminal.

A run belongs to the visitor who launched it (`Visitor.key` is what the run store records as its
owner). On a Space with OAuth the key is the Hugging Face user; otherwise an anonymous id the
visitor's browser keeps (a random token; only its hash is stored, so the store and the pages of
others never hold something that would let one visitor pass for another). A host's admin token
(`DLSTUDIO_ADMIN_TOKEN`) makes a visitor an admin, who may act on every run.
"""

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass

ADMIN_TOKEN_ENV = "DLSTUDIO_ADMIN_TOKEN"
TOKEN_BYTES = 16  # a browser's anonymous token: 128 random bits, sent back as 32 hex digits
# Guesses at the admin token cost nothing to send (anonymous visitors are free to make, so no
# per-visitor limit holds them back): only a token too long to guess keeps them useless.
MIN_ADMIN_TOKEN_CHARS = 20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Visitor:
    """One owner of runs: `key` is stored with them, `name` is what other visitors see."""

    key: str
    name: str
    admin: bool = False


# Whoever uses the command line or Python directly owns the machine: runs they start are theirs.
LOCAL = Visitor("local", "this computer", admin=True)


def new_browser_token() -> str:
    """A fresh anonymous token for a browser that has none yet."""
    return secrets.token_hex(TOKEN_BYTES)


def anonymous(token: str) -> Visitor:
    """The visitor a browser token names; ValueError for a token this app never hands out."""
    token = str(token or "").strip().lower()
    if len(token) != 2 * TOKEN_BYTES or any(c not in "0123456789abcdef" for c in token):
        raise ValueError("this browser's visitor id is not valid: reload the page")
    digest = hashlib.sha256(token.encode()).hexdigest()
    return Visitor(f"anon:{digest[:32]}", f"visitor {digest[:6]}")


def hub_user(username: str) -> Visitor:
    """A visitor signed in with Hugging Face (the Space's OAuth)."""
    return Visitor(f"hf:{username}", username)


def session_visitor(session_hash: str) -> Visitor:
    """A client that keeps no browser token (an API client): the visitor of its one session."""
    digest = hashlib.sha256(f"session:{session_hash}".encode()).hexdigest()
    return Visitor(f"session:{digest[:32]}", f"visitor {digest[:6]}")


def host_admin_token() -> str:
    """The host's admin token; empty (no admin) when unset or shorter than
    MIN_ADMIN_TOKEN_CHARS, which the log says, since a short one could be guessed."""
    expected = os.environ.get(ADMIN_TOKEN_ENV, "")
    if expected and len(expected) < MIN_ADMIN_TOKEN_CHARS:
        log.warning(
            "%s is shorter than %d characters and is ignored: no visitor is an admin "
            "(make one with: python -c 'import secrets; print(secrets.token_hex(16))')",
            ADMIN_TOKEN_ENV,
            MIN_ADMIN_TOKEN_CHARS,
        )
        return ""
    return expected


def with_admin_token(visitor: Visitor, token: str | None) -> Visitor:
    """`visitor` as an admin when `token` is the host's admin token (constant-time compare)."""
    expected = host_admin_token()
    if expected and token and hmac.compare_digest(token.encode(), expected.encode()):
        return Visitor(visitor.key, visitor.name, admin=True)
    return visitor
