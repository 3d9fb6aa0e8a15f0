"""Two visitors on one app: each run belongs to its launcher, the others cannot touch it, every
visitor is held to the host's limits, and the queue serves visitors in turn."""

import threading
import uuid
from types import SimpleNamespace

import pytest

from core.experiments import Experiment, register, unregister
from core.experiments.loan import LoanConfig
from core.runs.access import (
    REFERENCE_OWNER,
    can_see,
    check_can_act,
    check_can_see_all,
    check_can_use,
    visible_owners,
)
from core.runs.jobs import FairQueue, JobRunner, QuotaExceeded
from core.serving import run_models
from core.sharing.limits import HostLimits, RateLimited
from core.sharing.visitors import LOCAL, Visitor, anonymous, new_browser_token

WAIT_S = 60  # a guard against hanging, not a speed requirement
REFERENCE = Visitor(REFERENCE_OWNER, "reference runs")


@pytest.fixture
def alice() -> Visitor:
    return anonymous(new_browser_token())


@pytest.fixture
def bob() -> Visitor:
    return anonymous(new_browser_token())


@pytest.fixture
def admin() -> Visitor:
    return Visitor("hf:teacher", "teacher", admin=True)


@pytest.fixture
def held():
    """An experiment whose runs record that they started, then wait for `gate`: the first run
    holds the one worker busy until the test opens the gate."""
    started: list[int] = []
    gate = threading.Event()

    def train(config, logger):
        started.append(logger.run_id)
        if not gate.wait(WAIT_S):
            raise TimeoutError("the test never opened the gate")

    experiment = register(
        Experiment(f"test_held_{uuid.uuid4().hex[:8]}", "waits for the test", LoanConfig, train)
    )
    yield SimpleNamespace(name=experiment.name, started=started, gate=gate)
    gate.set()
    unregister(experiment.name)


@pytest.fixture
def make_runner(store, held):
    """JobRunner(store, in_process=True, limits=HostLimits(**limits)), shut down afterwards."""
    runners = []

    def make(**limits) -> JobRunner:
        runners.append(JobRunner(store, in_process=True, limits=HostLimits(**limits)))
        return runners[-1]

    yield make
    held.gate.set()
    for runner in runners:
        runner.shutdown()


def refusal(error: pytest.ExceptionInfo) -> str:
    return error.value.args[0]


# --- who may do what ---------------------------------------------------------------------------


def test_another_visitor_cannot_touch_or_even_find_a_private_run(
    make_runner, store, held, alice, bob
):
    runner = make_runner()
    mine = runner.submit(held.name, owner=alice)
    with pytest.raises(KeyError) as missing:
        check_can_act(store, 999, bob, runner.limits)
    assert refusal(missing) == "no run with id 999"

    attempts = {
        "cancel": lambda: runner.cancel(mine, bob),
        "rename": lambda: runner.rename(mine, "mine now", bob),
        "annotate": lambda: runner.annotate(mine, "bobs", "mine now", bob),
        "archive": lambda: runner.archive(mine, True, bob),
        "share": lambda: runner.share(mine, True, bob),
        "delete": lambda: runner.delete(mine, bob),
        "use": lambda: check_can_use(store, mine, bob, runner.limits),
    }
    for what, attempt in attempts.items():
        with pytest.raises(KeyError) as error:
            attempt()
        assert refusal(error) == f"no run with id {mine}", what  # as if it did not exist

    run = store.get(mine)
    assert (run.name, run.shared, run.owner) == ("", False, alice.key)
    assert (run.tags, run.note, run.archived) == ([], "", False)
    assert not store.cancel_requested(mine)
    assert [r.id for r in store.list(owners=visible_owners(bob, runner.limits))] == []
    assert [r.id for r in store.list(owners=visible_owners(alice, runner.limits))] == [mine]


def test_in_class_mode_others_see_a_run_but_cannot_change_it(make_runner, store, held, alice, bob):
    runner = make_runner(class_mode=True)
    mine = runner.submit(held.name, owner=alice)
    assert visible_owners(bob, runner.limits) is None
    assert can_see(bob, store.get(mine), runner.limits)
    attempts = {
        "cancel": lambda: runner.cancel(mine, bob),
        "rename": lambda: runner.rename(mine, "mine now", bob),
        "annotate": lambda: runner.annotate(mine, "bobs", "mine now", bob),
        "archive": lambda: runner.archive(mine, True, bob),
        "share": lambda: runner.share(mine, True, bob),
        "delete": lambda: runner.delete(mine, bob),
    }
    for what, attempt in attempts.items():
        with pytest.raises(PermissionError) as error:
            attempt()
        assert refusal(error) == (
            f"run {mine} belongs to someone else: only its owner can change it"
        ), what
    with pytest.raises(PermissionError, match="only its owner can use its model"):
        check_can_use(store, mine, bob, runner.limits)
    assert not store.cancel_requested(mine) and store.get(mine).name == ""


def test_the_owner_and_an_admin_may_change_a_run(make_runner, store, held, alice, admin):
    runner = make_runner()
    running = runner.submit(held.name, owner=alice)
    queued = runner.submit(held.name, owner=alice)
    runner.rename(running, "  first   try ", alice)
    runner.share(running, True, alice)
    runner.annotate(running, "baseline, lr-0.01, baseline", "  the plain one ", alice)
    runner.archive(running, True, alice)
    run = store.get(running)
    assert (run.name, run.shared, run.archived) == ("first try", True, True)
    assert (run.tags, run.note) == (["baseline", "lr-0.01"], "the plain one")
    runner.annotate(queued, "checked", "", admin)
    assert store.get(queued).tags == ["checked"]
    runner.rename(queued, "renamed by the teacher", admin)
    with pytest.raises(ValueError, match="cancel it first"):
        runner.delete(running, alice)

    assert runner.cancel(queued, admin)
    cancelled = store.get(queued)
    assert (cancelled.status, cancelled.error) == ("cancelled", "cancelled before it started")
    assert cancelled.started_at is None and queued not in held.started  # never trained
    runner.wait(queued, timeout=WAIT_S)

    runner.delete(queued, alice)
    with pytest.raises(KeyError, match=f"no run with id {queued}"):
        store.get(queued)
    assert [run.id for run in store.list()] == [running]


def test_a_shared_or_reference_run_may_be_used_by_everyone(store, alice, bob):
    private = store.create("digits_cnn", {}, owner=alice)
    shared = store.create("digits_cnn", {}, owner=alice)
    store.set_shared(shared, True)
    reference = store.create("digits_cnn", {}, owner=REFERENCE)
    limits = HostLimits()
    with pytest.raises(KeyError, match=f"no run with id {private}"):
        check_can_use(store, private, bob, limits)
    assert check_can_use(store, shared, bob, limits).id == shared
    assert check_can_use(store, reference, bob, limits).id == reference
    assert [run.id for run in store.list(owners=visible_owners(bob, limits))] == [reference]
    with pytest.raises(PermissionError, match="only its owner can change it"):
        check_can_act(store, reference, bob, limits)  # seen by all, changed by none


def fake_image_run(store, owner: Visitor) -> int:
    """A finished image run as the model list sees one (a checkpoint file and its input)."""
    run_id = store.create("digits_cnn", {"data": "digits"}, owner=owner)
    checkpoint = store.run_dir(run_id) / "best.pt"
    checkpoint.write_bytes(b"never loaded by these tests")
    store.add_details(run_id, input_spec={"kind": "digit"}, classes=list("0123456789"))
    store.add_artifact(run_id, "best_checkpoint", checkpoint)
    store.finish(run_id, "done")
    return run_id


def test_a_trained_model_serves_only_those_who_may_use_it(store, alice, bob, admin):
    private, shared = fake_image_run(store, alice), fake_image_run(store, alice)
    store.set_shared(shared, True)
    reference = fake_image_run(store, REFERENCE)

    def listed(visitor):
        return [model.run_id for model in run_models.list_run_models(store, visitor=visitor)]

    assert listed(alice) == [reference, shared, private]
    assert listed(bob) == [reference, shared]
    assert listed(admin) == listed(LOCAL) == [reference, shared, private]
    with pytest.raises(KeyError, match=f"no run with id {private}"):
        run_models.run_model_path(private, store, visitor=bob)
    with pytest.raises(KeyError, match=f"no run with id {private}"):
        run_models.load_any_model(f"run:{private}", store, visitor=bob)
    assert not list(store.run_dir(private).glob("*.onnx"))  # refused before any export


# --- limits ------------------------------------------------------------------------------------


def test_a_visitor_may_have_only_so_many_runs_queued_or_running(
    make_runner, store, held, alice, bob
):
    runner = make_runner(queued_runs=2)
    first = runner.submit(held.name, owner=alice)
    runner.submit(held.name, owner=alice)
    with pytest.raises(QuotaExceeded) as error:
        runner.submit(held.name, owner=alice)
    assert refusal(error) == (
        "you have 2 runs queued or running: the limit is 2; wait for one to finish or cancel one"
    )
    assert store.active_count(alice.key) == 2 and len(store.list()) == 2
    runner.submit(held.name, owner=bob)  # the others' runs do not count against bob
    for _ in range(3):
        runner.submit(held.name)  # the terminal user has no limit
    assert runner.cancel(first, alice)
    held.gate.set()
    runner.wait(first, timeout=WAIT_S)
    runner.submit(held.name, owner=alice)  # room again


def test_a_sweep_is_held_to_the_sweep_limit_before_anything_is_stored(
    make_runner, store, held, alice
):
    runner = make_runner(sweep_runs=4, queued_runs=2)
    grid = {"dropout": [0.1, 0.2, 0.3], "hidden": [8, 16]}
    with pytest.raises(QuotaExceeded, match="this sweep has 6 grid points: the limit is 4"):
        runner.submit_sweep(held.name, None, grid, owner=alice)
    huge = {"dropout": [n / 1000 for n in range(100)], "hidden": list(range(1, 101))}
    with pytest.raises(QuotaExceeded, match="this sweep has 10000 grid points"):
        runner.submit_sweep(held.name, None, huge, owner=alice)
    assert store.list() == []
    _, run_ids = runner.submit_sweep(held.name, None, grid)  # the terminal user has no limit
    assert len(run_ids) == 6


def test_a_sweep_above_the_queue_limit_starts_only_when_nothing_else_waits(
    make_runner, store, held, alice, bob
):
    runner = make_runner(sweep_runs=4, queued_runs=2)
    grid = {"dropout": [0.1, 0.2, 0.3, 0.4]}
    _, run_ids = runner.submit_sweep(held.name, None, grid, owner=alice)
    assert len(run_ids) == 4 and store.get(run_ids[0]).owner == alice.key

    runner.submit(held.name, owner=bob)
    with pytest.raises(QuotaExceeded) as error:
        runner.submit_sweep(held.name, None, {"dropout": [0.1, 0.2]}, owner=bob)
    assert refusal(error).startswith("you have 1 runs queued or running: a sweep of 2 runs")
    assert store.active_count(bob.key) == 1


def test_launches_are_rate_limited_per_visitor_and_a_sweep_counts_once(
    make_runner, store, held, alice, bob
):
    runner = make_runner(launches_per_minute=2, queued_runs=10)
    runner.submit_sweep(held.name, None, {"dropout": [0.1, 0.2, 0.3]}, owner=alice)
    runner.submit(held.name, owner=alice)
    with pytest.raises(RateLimited, match="too many launches: at most 2 a minute"):
        runner.submit(held.name, owner=alice)
    assert len(store.list(owners=[alice.key])) == 4
    runner.submit(held.name, owner=bob)


def test_new_anonymous_ids_cannot_fill_the_queue_past_the_total(make_runner, store, held):
    runner = make_runner(queued_runs=2, queued_total=3)
    flooders = [anonymous(new_browser_token()) for _ in range(4)]
    for flooder in flooders[:3]:
        runner.submit(held.name, owner=flooder)
    with pytest.raises(QuotaExceeded, match="the queue is full"):
        runner.submit(held.name, owner=flooders[3])
    assert store.active_count() == 3
    runner.submit(held.name)  # the host (an admin) still launches


def test_refused_launches_count_against_the_rate_too(make_runner, store, held, bob):
    """Checking a launch reads the visitor's data: a stream of bad launches is bounded."""
    runner = make_runner(launches_per_minute=2, queued_runs=10)
    for _ in range(2):
        with pytest.raises(ValueError, match="unknown config key"):
            runner.submit(held.name, {"no_such_key": "1"}, owner=bob)
    with pytest.raises(RateLimited):
        runner.submit(held.name, owner=bob)
    assert store.list(owners=[bob.key]) == []


# --- a fair queue ------------------------------------------------------------------------------


def test_a_single_run_does_not_wait_behind_another_visitors_runs(
    make_runner, store, held, alice, bob, wait_until
):
    runner = make_runner(queued_runs=5)
    alices = [runner.submit(held.name, owner=alice) for _ in range(4)]
    bobs = runner.submit(held.name, owner=bob)
    wait_until(lambda: held.started == alices[:1], "alice's first run to hold the worker")
    held.gate.set()
    for run_id in [*alices, bobs]:
        runner.wait(run_id, timeout=WAIT_S)
    assert held.started == [alices[0], bobs, *alices[1:]]  # second, not fifth
    assert all(run.status == "done" for run in store.list())


def test_the_fair_queue_serves_the_owner_after_the_one_served_last():
    queue = FairQueue()
    for run_id in (1, 2, 3):
        queue.put("a", run_id)
    assert queue.take() == 1
    queue.put("b", 4)
    queue.put("c", 5)
    queue.put("a", 6)
    assert [queue.take() for _ in range(3)] == [4, 5, 2]
    queue.put("b", 7)  # b queues again: the owner after a, the one served last
    assert [queue.take() for _ in range(3)] == [7, 3, 6]
    assert queue.discard(6) is False and queue.close() == []
    assert queue.take() is None


@pytest.mark.parametrize("sent", [float("inf"), float("nan"), 1.5, -3, 10**30, "1; --", [1], None])
def test_a_list_of_chosen_runs_refuses_what_names_no_run(store, alice, sent):
    with pytest.raises(KeyError, match="no run with id"):
        check_can_see_all(store, [sent], alice, HostLimits(), most=5)


def test_a_list_of_chosen_runs_is_bounded_and_holds_only_visible_runs(store, alice, bob):
    mine, theirs = (
        store.create("loan_exp1", {}, owner=alice),
        store.create("loan_exp1", {}, owner=bob),
    )
    assert (
        check_can_see_all(store, [mine, str(mine), float(mine)], alice, HostLimits(), 5)
        == [mine] * 3
    )
    with pytest.raises(KeyError, match=f"no run with id {theirs}"):
        check_can_see_all(store, [mine, theirs], alice, HostLimits(), most=5)
    with pytest.raises(ValueError, match="at most 2 runs at once, not 3"):
        check_can_see_all(store, [mine] * 3, alice, HostLimits(), most=2)
