"""Visitor identities and the host's limits: what the ownership and fair-share rules rest on."""

import pytest

from core.sharing import limits, visitors
from core.sharing.limits import HostLimits, RateLimited, RateLimiter


def test_an_anonymous_visitor_is_stored_by_a_hash_of_the_browser_token():
    token = visitors.new_browser_token()
    visitor = visitors.anonymous(token)
    assert token not in visitor.key and token not in visitor.name
    assert visitor == visitors.anonymous(token.upper())  # the same browser, the same visitor
    assert visitor.key != visitors.anonymous(visitors.new_browser_token()).key
    assert not visitor.admin


@pytest.mark.parametrize("token", ["", "abc", "z" * 32, "../" * 11, "0" * 31 + "\x00"])
def test_a_token_the_app_never_handed_out_is_refused(token):
    with pytest.raises(ValueError, match="reload the page"):
        visitors.anonymous(token)


def test_only_the_hosts_admin_token_makes_an_admin(monkeypatch):
    visitor = visitors.session_visitor("abc")
    monkeypatch.delenv(visitors.ADMIN_TOKEN_ENV, raising=False)
    assert not visitors.with_admin_token(visitor, "").admin  # no token set: nobody is admin
    token = "a-long-token-only-the-host-knows"
    monkeypatch.setenv(visitors.ADMIN_TOKEN_ENV, token)
    assert not visitors.with_admin_token(visitor, "wrong").admin
    assert not visitors.with_admin_token(visitor, None).admin
    promoted = visitors.with_admin_token(visitor, token)
    assert promoted.admin and promoted.key == visitor.key


def test_an_admin_token_short_enough_to_guess_makes_no_admin(monkeypatch, caplog):
    visitor = visitors.session_visitor("abc")
    monkeypatch.setenv(visitors.ADMIN_TOKEN_ENV, "s3cret")
    assert not visitors.with_admin_token(visitor, "s3cret").admin
    assert "shorter than 20 characters and is ignored" in caplog.text


def test_limits_come_from_the_environment_with_defaults(monkeypatch):
    monkeypatch.setenv("DLSTUDIO_MAX_QUEUED", "5")
    monkeypatch.setenv("DLSTUDIO_MAX_SWEEP", "not a number")  # a typo keeps the default
    monkeypatch.setenv("DLSTUDIO_CLASS_MODE", "1")
    settings = HostLimits.from_env()
    assert settings.queued_runs == 5
    assert settings.sweep_runs == HostLimits().sweep_runs
    assert settings.class_mode


def test_the_rate_limiter_counts_per_visitor_in_a_sliding_minute(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    limiter = RateLimiter(2, "launches")
    limiter.check("a")
    limiter.check("a")
    limiter.check("b")  # another visitor has a share of their own
    with pytest.raises(RateLimited, match="at most 2 a minute"):
        limiter.check("a")
    now[0] += 60
    limiter.check("a")  # a minute later the share is back
