"""Runs belong to the visitor who launched them, and one visitor's flood does not stop another.

Against a started app with small limits (two runs queued or running per visitor, sweeps of four
points): each `gradio_client.Client` is its own session, so its own visitor, as a browser
without a token would be; the browser check at the end is a visitor with a token. The first
tests check `tabs.visitor` itself, without a server.
"""

import json
import types

import gradio as gr
import httpx
import pytest
from conftest import edit_cell, poll, run_row
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from benchmarks.app_process import REPO, served_app
from core.runs import view
from core.runs.jobs import JobRunner
from core.runs.store import RunStore
from core.sharing.limits import HostLimits
from core.sharing.visitors import ADMIN_TOKEN_ENV, anonymous, new_browser_token
from tabs import training
from tabs.visitor import STORAGE_KEY, handler, visitor_of

ADMIN_TOKEN = "a-token-only-the-host-knows"
EPOCHS_ROW, VALUE_COLUMN = 12, 1  # loan_exp1's config form: the "epochs" row, "value" column


# --- tabs.visitor ------------------------------------------------------------------------------


def request_of(session_hash: str):
    return types.SimpleNamespace(session_hash=session_hash)


def test_a_visitor_is_the_signed_in_user_else_the_browser_else_the_session(monkeypatch):
    monkeypatch.setenv(ADMIN_TOKEN_ENV, ADMIN_TOKEN)
    token = new_browser_token()
    profile = types.SimpleNamespace(username="ada")
    assert visitor_of(token, request_of("s1"), profile).key == "hf:ada"
    assert visitor_of(token, request_of("s1"), None) == anonymous(token)
    assert visitor_of(token, request_of("s2"), None) == anonymous(token)  # the same after reload
    first, second = visitor_of(None, request_of("s1"), None), visitor_of("", request_of("s2"), None)
    assert first.key.startswith("session:") and first != second
    assert not first.admin and not visitor_of(None, request_of("s1"), None, "a guess").admin
    admin = visitor_of(token, request_of("s1"), None, ADMIN_TOKEN)
    assert admin.admin and admin.key == anonymous(token).key
    with pytest.raises(gr.Error, match="visitor id is not valid: reload the page"):
        visitor_of("not-a-token", request_of("s1"), None)


def test_a_handler_takes_its_values_then_the_visitor_inputs_and_gets_the_visitor():
    def rename(store, visitor, run_id, name):
        return store, visitor.key, run_id, name

    event_handler = handler(rename, "the store")
    hints = gr.utils.get_type_hints(event_handler)  # Gradio fills the last two in itself
    assert (hints["request"], hints["profile"]) == (gr.Request | None, gr.OAuthProfile | None)
    positional = [p.name for p in gr.utils.get_positional_input_parameters(event_handler)]
    assert positional == ["run_id", "name", "token", "admin_token"]
    token = new_browser_token()
    answer = event_handler(7, "mine", token, None, request_of("s"), None)
    assert answer == ("the store", anonymous(token).key, 7, "mine")


def test_in_class_mode_everyone_sees_everyones_runs_and_changes_only_their_own(store):
    runner = JobRunner(store, in_process=True, limits=HostLimits(class_mode=True))
    ada, bob = anonymous(new_browser_token()), anonymous(new_browser_token())
    try:
        run_id = store.create("loan_exp1", {}, owner=ada)
        status, _, _, table, *_ = training.refresh(
            runner, bob, run_id, "all", "all", "all", False, []
        )
        assert status.startswith(f"**Run {run_id}**")
        assert table[["id", "owner"]].values.tolist() == [[run_id, ada.name]]
        with pytest.raises(gr.Error, match=f"Not renamed: run {run_id} belongs to someone else"):
            training.rename(runner, bob, run_id, "bob's now")
        assert store.get(run_id).name == ""
    finally:
        runner.shutdown()


def test_a_damaged_store_is_announced_without_its_path(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path))
    (tmp_path / "runs.sqlite").write_bytes(b"not a database " * 100)
    runner = JobRunner(RunStore(tmp_path / "runs.sqlite"))
    try:
        config = json.dumps(
            app.build_app(runner).get_config_file(), default=str, ensure_ascii=False
        )
    finally:
        runner.shutdown()
    assert training.RECOVERED_NOTICE in config
    assert str(tmp_path) not in config and str(REPO) not in config


# --- two visitors of one app -------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_app(tmp_path_factory):
    """`python app.py` with small limits and a host's admin token; yields (url, data dir)."""
    data = tmp_path_factory.mktemp("visitors-app")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DLSTUDIO_MAX_QUEUED", "2")
        patch.setenv("DLSTUDIO_MAX_SWEEP", "4")
        patch.setenv(ADMIN_TOKEN_ENV, ADMIN_TOKEN)
        with served_app(data) as url:
            yield url, data


def visitor_client(limited_app) -> Client:
    return Client(limited_app[0], verbose=False)


def config_payload(experiment: str, **values) -> dict:
    form = view.config_form(experiment)
    for key, value in values.items():
        form.loc[form["key"] == key, "value"] = str(value)
    return {"headers": list(form.columns), "data": form.to_numpy().tolist()}


def launch(client: Client, experiment: str = "loan_exp1", **values) -> int:
    run_id, status = client.predict(
        experiment, config_payload(experiment, **values), api_name="/launch"
    )
    assert status.startswith(f"**Run {run_id}**")
    return run_id


def runs_seen(client: Client, run_id: int | None = None) -> tuple[str, list[int]]:
    """What the visitor's Training tab shows at its next redraw: the current run's status line
    and the ids in the runs table."""
    status, _, _, table, *_ = client.predict(
        run_id, "all", "all", "all", False, api_name="/refresh_runs"
    )
    return status, [row[0] for row in table["data"]]


def test_a_visitor_cannot_change_or_see_anothers_run(limited_app):
    alice, bob = visitor_client(limited_app), visitor_client(limited_app)
    run_id = launch(alice, epochs=2)
    refusals = {
        "/cancel": ((run_id,), "Not cancelled"),
        "/rename_run": ((run_id, "bob's now"), "Not renamed"),
        "/share_run": ((run_id, True), "Sharing not changed"),
        "/delete_run": ((run_id,), "Not deleted"),
    }
    for endpoint, (arguments, words) in refusals.items():
        with pytest.raises(AppError, match=f"{words}: no run with id {run_id}$"):
            bob.predict(*arguments, api_name=endpoint)
    status, seen = runs_seen(bob, run_id)
    assert run_id not in seen
    assert status == f"There is no run {run_id} among the runs you can see."

    store = RunStore(limited_app[1] / "runs.sqlite")
    poll(lambda: store.get(run_id).finished, "alice's run")
    run = store.get(run_id)
    assert (run.status, run.name, run.shared) == ("done", "", False)  # bob changed nothing
    status, seen = runs_seen(alice, run_id)
    assert run_id in seen and "**done**" in status
    alice.predict(run_id, "first try", api_name="/rename_run")
    assert store.get(run_id).name == "first try"


def test_the_hosts_admin_token_acts_on_any_run(limited_app):
    alice, host = visitor_client(limited_app), visitor_client(limited_app)
    run_id = launch(alice, epochs=1)
    with pytest.raises(AppError, match="no run with id"):
        host.predict(run_id, "renamed by the host", None, "a guess", api_name="/rename_run")
    status = host.predict(run_id, "renamed by the host", None, ADMIN_TOKEN, api_name="/rename_run")
    assert status.startswith(f"**Run {run_id}** “renamed by the host”")


def test_a_flood_is_refused_beyond_the_quota_and_another_visitor_still_trains(limited_app):
    alice, mallory = visitor_client(limited_app), visitor_client(limited_app)
    store = RunStore(limited_app[1] / "runs.sqlite")
    flood = [launch(mallory, epochs=1000) for _ in range(2)]
    with pytest.raises(AppError, match=r"Not launched: you have 2 runs queued or running: "):
        launch(mallory, epochs=1)
    assert store.list(limit=1)[0].id == flood[1]  # the refused launch stored nothing
    poll(lambda: store.get(flood[0]).status == "running", "the flood's first run to start")

    run_id = launch(alice, epochs=2)
    mallory.predict(flood[0], api_name="/cancel")  # the one worker is free again
    poll(lambda: store.get(run_id).finished, "alice's run, queued behind the flood")
    assert store.get(run_id).status == "done"
    assert store.get(flood[1]).status == "queued"  # alice's line came before mallory's next
    mallory.predict(flood[1], api_name="/cancel")
    poll(lambda: store.get(flood[1]).finished, "the flood's second run to be cancelled")


def test_a_sweep_beyond_the_size_limit_is_refused(limited_app):
    client = visitor_client(limited_app)
    store = RunStore(limited_app[1] / "runs.sqlite")
    before = store.list(limit=1)[0].id if store.list(limit=1) else 0
    payload = config_payload("loan_exp1", epochs=1)
    with pytest.raises(AppError, match=r"Sweep not launched: this sweep has 6 grid points: the "):
        client.predict(
            "loan_exp1", payload, "lr=0.01,0.02,0.03; seed=0,1", api_name="/launch_sweep"
        )
    assert (store.list(limit=1)[0].id if store.list(limit=1) else 0) == before


# --- the Training tab in a browser --------------------------------------------------------------


def test_the_training_tab_shows_no_server_path_and_a_visitor_sees_their_own_run(
    browser, limited_app
):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, data = limited_app
    config = httpx.get(f"{url}config", timeout=30).text
    for secret in (str(REPO), str(data), "runs.sqlite"):
        assert secret not in config

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(url)
        page.wait_for_function(f"() => localStorage.getItem('{STORAGE_KEY}') !== null")
        page.get_by_role("tab", name="Training", exact=True).click()
        table = page.locator("#runs-table")
        table.wait_for()
        edit_cell(page, "config-form", EPOCHS_ROW, VALUE_COLUMN, "2")
        page.locator("#launch-run").click()
        page.locator("#run-status").get_by_text("done").wait_for(timeout=120_000)
        run_id = int(page.locator("#run-status").inner_text().split("Run ")[1].split()[0])
        sync_api.expect(run_row(page, run_id)).to_contain_text("loan_exp1")
        for secret in (str(REPO), str(data)):
            assert secret not in page.content()

        owner = RunStore(data / "runs.sqlite").get(run_id).owner
        assert owner.startswith("anon:")  # the browser's token, not its session
        _, seen_by_another = runs_seen(visitor_client(limited_app))
        assert run_id not in seen_by_another
        page.reload()  # a new session, the same browser: the run is still this visitor's
        page.get_by_role("tab", name="Training", exact=True).click()
        sync_api.expect(run_row(page, run_id)).to_contain_text("loan_exp1")
    finally:
        page.close()


@pytest.mark.parametrize("sent", [float("inf"), float("nan"), 1.5, -3, 2.0**70, "x", [1]])
def test_a_run_number_that_is_no_run_id_gets_a_plain_refusal(sent):
    """The Run field is a visitor's input: inf would end int() in an OverflowError."""
    with pytest.raises(gr.Error, match="whole number from 1 up"):
        training.run_number(sent)


def test_a_comparison_is_bounded(store):
    runner = JobRunner(store, in_process=True, limits=HostLimits())
    try:
        with pytest.raises(gr.Error, match=f"at most {training.MAX_COMPARED} runs"):
            training.compare_runs(
                runner, anonymous(new_browser_token()), list(range(1, 10**4)), "loss"
            )
    finally:
        runner.shutdown()


def test_a_timer_tick_where_nothing_changed_redraws_nothing(store):
    runner = JobRunner(store, in_process=True, limits=HostLimits())
    ada = anonymous(new_browser_token())
    try:
        run_id = store.create("loan_exp1", {}, owner=ada)
        first = training.refresh(runner, ada, run_id, "all", "all", "all", False, {})
        assert first[0].startswith(f"**Run {run_id}**") and len(first[3]) == 1
        again = training.refresh(runner, ada, run_id, "all", "all", "all", False, first[-1])
        assert all(value == gr.skip() for value in again[:-1])  # the page keeps what it shows
        store.set_progress(run_id, 0.5, "epoch 1/2")
        changed = training.refresh(runner, ada, run_id, "all", "all", "all", False, again[-1])
        assert "epoch 1/2" in changed[0] and changed[3]["progress"].tolist() == ["50%"]
        assert changed[4] == gr.skip()  # the run choices did not change
    finally:
        runner.shutdown()
