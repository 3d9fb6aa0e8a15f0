"""A host's limits on what one visitor may ask of the shared machine, and a per-visitor rate
limiter for heavy events.

Every limit is a setting with a default sized for one small CPU Space serving a class; a host
changes it with the environment variable named beside it (README, "Hosting for a class").
"""

import os
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, fields


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class HostLimits:
    """What one visitor may ask for; `from_env` reads the host's overrides."""

    queued_runs: int = 3  # DLSTUDIO_MAX_QUEUED: runs a visitor may have queued or running
    sweep_runs: int = 12  # DLSTUDIO_MAX_SWEEP: grid points in one sweep
    # DLSTUDIO_MAX_QUEUED_TOTAL: runs of all visitors queued or running. Anonymous ids cost
    # nothing to make, so per-visitor quotas alone do not bound the queue.
    queued_total: int = 40
    launches_per_minute: int = 10  # DLSTUDIO_LAUNCHES_PER_MINUTE
    heavy_per_minute: int = 6  # DLSTUDIO_HEAVY_PER_MINUTE: bootstraps, corpus uploads, pages
    bootstrap_budget: int = 20_000_000  # DLSTUDIO_BOOTSTRAP_BUDGET: rows x resamples
    upload_answers: int = 2_000  # DLSTUDIO_UPLOAD_ANSWERS: answers of an uploaded corpus
    run_processes: int = 2  # DLSTUDIO_RUN_PROCESSES: data-parallel processes of one run
    class_mode: bool = False  # DLSTUDIO_CLASS_MODE=1: everyone sees everyone's runs, read-only

    @classmethod
    def from_env(cls) -> "HostLimits":
        names = {
            "queued_runs": "DLSTUDIO_MAX_QUEUED",
            "sweep_runs": "DLSTUDIO_MAX_SWEEP",
            "queued_total": "DLSTUDIO_MAX_QUEUED_TOTAL",
            "launches_per_minute": "DLSTUDIO_LAUNCHES_PER_MINUTE",
            "heavy_per_minute": "DLSTUDIO_HEAVY_PER_MINUTE",
            "bootstrap_budget": "DLSTUDIO_BOOTSTRAP_BUDGET",
            "upload_answers": "DLSTUDIO_UPLOAD_ANSWERS",
            "run_processes": "DLSTUDIO_RUN_PROCESSES",
        }
        values = {
            field.name: _env_int(names[field.name], field.default)
            for field in fields(cls)
            if field.name in names
        }
        class_mode = os.environ.get("DLSTUDIO_CLASS_MODE", "").lower() in ("1", "true", "yes")
        return cls(**values, class_mode=class_mode)


class RateLimited(ValueError):
    """A visitor asked for more than their share; the message says when to try again."""


class RateLimiter:
    """At most `per_minute` events per key in any sliding minute (thread-safe)."""

    def __init__(self, per_minute: int, what: str = "requests") -> None:
        self.per_minute = per_minute
        self.what = what
        self._times: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Count one event for `key`, or raise RateLimited when the key is over its share."""
        now = time.monotonic()
        with self._lock:
            times = self._times[key]
            while times and now - times[0] >= 60:
                times.popleft()
            if len(times) >= self.per_minute:
                wait = 60 - (now - times[0])
                raise RateLimited(
                    f"too many {self.what}: at most {self.per_minute} a minute per visitor; "
                    f"try again in {wait:.0f} s"
                )
            times.append(now)
