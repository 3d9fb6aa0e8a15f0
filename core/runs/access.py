"""Who may do what with a run: see it, change it (cancel, rename, share, delete), use its model.

- A visitor sees their own runs and the reference runs (owner `reference`, the host's worked
  examples); an admin sees every run, and so does everyone in class mode
  (`DLSTUDIO_CLASS_MODE`), where a class looks at each other's runs read-only.
- Only a run's owner (or an admin) changes it.
- A trained model serves its owner, an admin, and everyone once its owner shares it; the
  reference runs' models serve everyone.

A run a visitor cannot see is refused exactly like a run that does not exist, so trying ids
reveals nothing about other visitors' runs.
"""

from collections.abc import Collection
from typing import NoReturn

from core.runs.store import Run, RunStore
from core.sharing.limits import HostLimits
from core.sharing.visitors import Visitor

REFERENCE_OWNER = "reference"  # the owner key of the runs every visitor sees and may use


def visible_owners(visitor: Visitor, limits: HostLimits) -> Collection[str] | None:
    """The owner keys whose runs `visitor` sees (`RunStore.list(owners=...)`); None: all."""
    if visitor.admin or limits.class_mode:
        return None
    return {visitor.key, REFERENCE_OWNER}


def can_see(visitor: Visitor, run: Run, limits: HostLimits) -> bool:
    owners = visible_owners(visitor, limits)
    return owners is None or run.owner in owners


def check_can_see(store: RunStore, run_id: int, visitor: Visitor, limits: HostLimits) -> Run:
    """The run, when `visitor` may see it; KeyError "no run with id N" otherwise, as for a run
    that does not exist."""
    run = store.get(run_id)
    if not can_see(visitor, run, limits):
        raise KeyError(f"no run with id {run_id}")
    return run


def check_can_see_all(
    store: RunStore, run_ids: list, visitor: Visitor, limits: HostLimits, most: int
) -> list[int]:
    """The ids of several runs a visitor chose (to compare, export, write a page of): at most
    `most` of them (ValueError), each a whole number naming a run `visitor` may see
    (KeyError "no run with id N" otherwise, as for a missing run). Checked before any run is
    read, so a visitor's list costs at most `most` look-ups."""
    if len(run_ids) > most:
        raise ValueError(f"at most {most} runs at once, not {len(run_ids)}")
    chosen = []
    for run_id in run_ids:
        try:
            number = float(run_id)
        except (TypeError, ValueError, OverflowError):
            number = float("nan")
        if not number.is_integer() or not 1 <= number < 2**63:
            raise KeyError(f"no run with id {str(run_id)[:20]}")
        chosen.append(int(number))
    for run_id in chosen:
        check_can_see(store, run_id, visitor, limits)
    return chosen


def can_use(visitor: Visitor, run: Run) -> bool:
    """Whether `visitor` may serve the run's trained model."""
    return visitor.admin or run.owner in (visitor.key, REFERENCE_OWNER) or run.shared


def check_can_act(
    store: RunStore, run_id: int, visitor: Visitor, limits: HostLimits | None = None
) -> Run:
    """The run, when `visitor` may change it (its owner or an admin).

    KeyError "no run with id N" for a run they cannot see (as for a missing one); PermissionError
    for a run they see but do not own. `limits` default to the host's (`HostLimits.from_env`).
    """
    run = store.get(run_id)
    if visitor.admin or run.owner == visitor.key:
        return run
    _refuse(run, visitor, limits, "only its owner can change it")


def check_can_use(
    store: RunStore, run_id: int, visitor: Visitor, limits: HostLimits | None = None
) -> Run:
    """The run, when `visitor` may serve its trained model (see `can_use`); refused as in
    `check_can_act` otherwise."""
    run = store.get(run_id)
    if can_use(visitor, run):
        return run
    _refuse(run, visitor, limits, "only its owner can use its model until they share it")


def _refuse(run: Run, visitor: Visitor, limits: HostLimits | None, why: str) -> NoReturn:
    if not can_see(visitor, run, limits or HostLimits.from_env()):
        raise KeyError(f"no run with id {run.id}")
    raise PermissionError(f"run {run.id} belongs to someone else: {why}")
