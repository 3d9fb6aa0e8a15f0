"""How an event handler learns who its visitor is: the Gradio side of `core.sharing.visitors`.

- A browser keeps a random token in its local storage (`gr.BrowserState`); the page's load
  event gives it one the first time (`BROWSER_TOKEN_JS`). The token makes the visitor
  `anonymous(token)`, so a visitor's runs are still theirs after a reload or a restart.
- On a Hugging Face Space with OAuth (`OAUTH_CLIENT_ID` set there), a "Sign in" button appears,
  and a signed-in visitor is their Hub user.
- A client that sends no token (gradio_client, the HTTP API) is the visitor of its session.
- The host's admin token (`DLSTUDIO_ADMIN_TOKEN`), typed into the "For hosts" box, makes the
  visitor an admin.

app.py makes the page's `controls()`, hands them to the tabs and `place`s them; a tab's
`handler(fn)` turns `fn(visitor, *values)` into an event handler whose inputs are the event's
components followed by `VisitorControls.inputs`.
"""

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from core.sharing.visitors import (
    TOKEN_BYTES,
    Visitor,
    anonymous,
    hub_user,
    session_visitor,
    with_admin_token,
)

OAUTH_ENV = "OAUTH_CLIENT_ID"  # set by Hugging Face on a Space with `hf_oauth: true`
STORAGE_KEY = "dlstudio-visitor"  # the browser's local-storage entry, the same after restarts
# BrowserState's encryption key travels to the browser in the page's config, so it protects
# nothing: the token's 128 random bits, kept in that browser alone, are what keep it private.
# A fixed key (not a per-process random one) keeps a visitor's token readable after a restart.
STORAGE_SECRET = "dlstudio-visitor-token"


def oauth_enabled() -> bool:
    """Whether to offer Hugging Face sign-in: only on a Space with OAuth. (Elsewhere Gradio
    would mock the sign-in with this machine's own Hub account, for every visitor.)"""
    return bool(os.environ.get(OAUTH_ENV)) and bool(os.environ.get("SPACE_ID"))


@dataclass(frozen=True)
class VisitorControls:
    """The page's visitor inputs; every handler made by `handler` takes them last."""

    token: gr.BrowserState
    admin_token: gr.Textbox

    @property
    def inputs(self) -> list:
        return [self.token, self.admin_token]


def controls() -> VisitorControls:
    """The browser's token and the host's admin box, not placed yet: the tabs wire them into
    their events first, and `place` puts them at the foot of the page."""
    return VisitorControls(
        token=gr.BrowserState(None, storage_key=STORAGE_KEY, secret=STORAGE_SECRET, render=False),
        admin_token=gr.Textbox(
            label="Admin token",
            type="password",
            info="the host's admin token lets this page act on every visitor's runs",
            elem_id="admin-token",
            render=False,
        ),
    )


def sign_in_button() -> None:
    """Hugging Face's "Sign in" button, on a Space with OAuth only (`oauth_enabled`)."""
    if oauth_enabled():
        gr.LoginButton()


# The page's load event runs this in the browser, before any event of the visitor's: a browser
# without a valid token makes one of the same form as `core.sharing.visitors.new_browser_token`
# (from its cryptographic random source), at once, not after a turn in the server's queue.
BROWSER_TOKEN_JS = f"""
(token) => {{
  if (typeof token === "string" && /^[0-9a-f]{{{2 * TOKEN_BYTES}}}$/.test(token)) return token;
  const bytes = crypto.getRandomValues(new Uint8Array({TOKEN_BYTES}));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}}
"""


def place(demo: gr.Blocks, visitor_controls: VisitorControls) -> None:
    """Put the visitor controls on the page (the admin box in a closed "For hosts" fold) and
    give a browser its token when the page loads, the first time it visits."""
    visitor_controls.token.render()
    with gr.Accordion("For hosts", open=False):
        visitor_controls.admin_token.render()
    demo.load(
        None,
        visitor_controls.token,
        visitor_controls.token,
        js=BROWSER_TOKEN_JS,
        api_visibility="private",
        show_progress="hidden",
    )


def visitor_of(
    token: str | None,
    request: gr.Request | None,
    profile: gr.OAuthProfile | None,
    admin_token: str | None = None,
) -> Visitor:
    """Who sent an event: the signed-in Hub user, else the browser's token, else the session;
    an admin when `admin_token` is the host's. A token this app never made is refused."""
    if profile is not None:
        visitor = hub_user(profile.username)
    elif token:
        try:
            visitor = anonymous(token)
        except ValueError as error:
            raise gr.Error(error.args[0]) from None
    else:
        visitor = session_visitor(request.session_hash if request else "")
    return with_admin_token(visitor, admin_token)


def handler(fn: Callable[..., Any], *bound: Any) -> Callable[..., Any]:
    """`fn(*bound, visitor, *values)` as an event handler taking `(*values, token, admin_token)`.

    Gradio fills in a handler's `gr.Request` and `gr.OAuthProfile` by the annotations of its
    signature, so the handler gets `fn`'s own value parameters followed by the visitor inputs
    (optional, for API clients) and those two. Gradio calls it positionally.
    """
    values = list(inspect.signature(fn).parameters.values())[len(bound) + 1 :]
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    extra = [
        inspect.Parameter("token", positional, default=None, annotation=str | None),
        inspect.Parameter("admin_token", positional, default=None, annotation=str | None),
        inspect.Parameter("request", positional, default=None, annotation=gr.Request | None),
        inspect.Parameter("profile", positional, default=None, annotation=gr.OAuthProfile | None),
    ]

    def event_handler(*args: Any) -> Any:
        *given, token, admin_token, request, profile = args
        return fn(*bound, visitor_of(token, request, profile, admin_token), *given)

    parameters = [parameter.replace(kind=positional) for parameter in values] + extra
    event_handler.__signature__ = inspect.Signature(parameters)
    event_handler.__annotations__ = {p.name: p.annotation for p in extra}
    event_handler.__name__ = event_handler.__qualname__ = fn.__name__
    event_handler.__doc__ = fn.__doc__
    return event_handler
