"""Training launcher: pick an experiment, edit its config, launch runs or sweeps, watch, compare.

Four panels: the launch panel (experiment, config form, own CSV, sweep grid), the live panel
(the current run's status, curves, and its name, sharing and deletion), the runs panel (the
visitor's runs, filters, a comparison) and the sweeps panel (one sweep's points and the best).
Each panel lays out its components and wires the events that stay inside it; `build` places the
panels and wires the events between them: launching, cancelling and the one-second timer that
redraws what changed in the store.

A run belongs to the visitor who launched it (`tabs.visitor`): a visitor sees their own runs and
the reference runs (in class mode everyone's, read-only), and only its owner (or an admin)
cancels, renames, shares or deletes it. Nothing in the tab names a server path.
"""

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from core.experiments import get_experiment, list_experiments
from core.paths import download_folder, redact_paths, upload_name
from core.runs import view
from core.runs.access import check_can_see, check_can_see_all, visible_owners
from core.runs.export import config_diff, export_runs
from core.runs.jobs import JobRunner
from core.runs.store import (
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    MAX_TAGS,
    STATUSES,
    Run,
    RunStoreFullError,
)
from core.runs.sweeps import format_grid, parse_grid
from core.sharing.limits import HostLimits
from core.sharing.visitors import Visitor
from core.tabular.data import import_csv
from core.vision.hub import HUB_BYTES, FetchUnderWay, fetch_afhq
from tabs.search import search_panel
from tabs.visitor import VisitorControls, handler

TITLE = "Training"
TOOL = "training"  # its runtime statement's key in core.hosting.runtime
ALL = "all"
FETCHABLE = {"afhq": fetch_afhq}  # families whose data the app downloads on request
FETCH_PROGRESS = gr.Progress()
FIRST_EXPERIMENT = "loan_exp1"  # quick (seconds on a CPU), so a first visit sees a whole run
RECOVERED_NOTICE = (
    "⚠️ The run store was damaged and has been set aside; training starts with an empty store. "
    "The damaged file is kept for the host."
)
MAX_RUN_ID = 2**63 - 1  # SQLite's largest integer
MAX_COMPARED = 20  # runs drawn on one comparison figure
REFUSED = (KeyError, PermissionError, ValueError)  # what the runner says no with, in plain words


# --- Plain functions behind the events ---------------------------------------------------------


def describe(name: str):
    """The experiment's description, its default config form and sweep grid, the launch
    buttons, usable only when its data is on this machine, and the button that fetches it
    when the app can."""
    experiment = get_experiment(name)
    missing = experiment.missing_data()
    can_run = gr.update(interactive=missing is None)
    return (
        view.experiment_text(name),
        view.config_form(name),
        format_grid(experiment.grid),
        can_run,
        can_run,
        gr.update(visible=missing is not None and experiment.family in FETCHABLE),
    )


def fetch_data(name: str, progress=FETCH_PROGRESS):
    """Download the experiment's data set (once for the whole app), then describe it again.
    Gradio fills `progress` (a bar on the button's outputs) by its default's type."""
    fetch = FETCHABLE[get_experiment(name).family]
    try:
        fetch(lambda fraction, message: progress(fraction, desc=message))
    except FetchUnderWay as error:
        raise gr.Error(f"{error}.") from None
    except (OSError, ValueError) as error:
        raise gr.Error(f"The download failed: {redact_paths(str(error))}") from None
    gr.Info("The data set is here: the experiment can run.")
    return describe(name)


def with_form_value(form, key: str, value: str):
    """The config form with `key`'s value replaced (the form itself is left as it was)."""
    form = form.copy()
    form.loc[form["key"] == key, "value"] = value
    return form


def upload_csv(path, form):
    """Keep an uploaded CSV as the run's data and offer its columns as the target."""
    if path is None:
        return form, gr.update(), gr.skip()
    try:
        kept, columns = import_csv(path)
    except ValueError as error:
        gr.Warning(str(error))
        return form, gr.update(), None  # clear the upload so another file can be dropped
    gr.Info(f"Kept {kept.name}: {len(columns)} columns. Choose the target column.")
    return (
        with_form_value(form, "data", upload_name(kept)),
        gr.update(choices=columns, value=None),
        path,
    )


def run_number(run_id) -> int | None:
    """The id in the visitor's Run field (None when empty, which a browser sends as 0). The
    field is a visitor's input like any other: anything but a whole number from 1 up is
    refused in plain words."""
    if run_id is None or run_id == "" or run_id == 0:
        return None
    try:
        number = float(run_id)
    except (TypeError, ValueError):
        number = float("nan")
    if not number.is_integer() or not 1 <= number <= MAX_RUN_ID:
        raise gr.Error("A run number is a whole number from 1 up.")
    return int(number)


def chosen_run(run_id, missing: str = "Launch or choose a run first.") -> int:
    """The current run's id; a UI error saying `missing` when there is none."""
    number = run_number(run_id)
    if number is None:
        raise gr.Error(missing)
    return number


def refusal(what: str, error: Exception) -> gr.Error:
    """A UI error that says what was not done and why (the runner's words)."""
    return gr.Error(f"{what}: {error.args[0]}")


def launch(runner: JobRunner, visitor: Visitor, name: str, form):
    """Queue one run of the experiment with the form's config: its id and first status line."""
    try:
        run_id = runner.submit(name, view.form_values(form), owner=visitor)
    except (KeyError, ValueError, RunStoreFullError) as error:
        raise refusal("Not launched", error) from None
    return run_id, view.status_text(runner.store, run_id)


def launch_sweep(runner: JobRunner, visitor: Visitor, name: str, form, grid_text: str):
    """Queue one run per grid point; the first becomes the current run, the sweep is shown."""
    try:
        grid = parse_grid(grid_text)
        sweep_id, run_ids = runner.submit_sweep(name, view.form_values(form), grid, owner=visitor)
    except (KeyError, ValueError, RunStoreFullError) as error:
        raise refusal("Sweep not launched", error) from None
    gr.Info(f"Sweep {sweep_id}: {len(run_ids)} runs queued.")
    owners = visible_owners(visitor, runner.limits)
    sweeps = gr.update(choices=view.sweep_ids(runner.store, owners), value=sweep_id)
    return run_ids[0], sweeps, gr.Accordion(open=True)


def cancel(runner: JobRunner, visitor: Visitor, run_id) -> None:
    """Stop the current run (its owner or an admin only)."""
    run_id = chosen_run(run_id, "There is no queued or running run to cancel.")
    try:
        cancelled = runner.cancel(run_id, visitor)
    except REFUSED as error:
        raise refusal("Not cancelled", error) from None
    if not cancelled:
        raise gr.Error("There is no queued or running run to cancel.")
    gr.Info(f"Run {run_id} will stop after its current step.")


def act_on_run(runner: JobRunner, run_id, not_done: str, action: Callable[[int], None]) -> str:
    """Do an owner's `action` on the current run (the runner checks that the visitor may);
    its new status line, or a UI error starting with `not_done` and the runner's reason."""
    run_id = chosen_run(run_id)
    try:
        action(run_id)
    except REFUSED as error:
        raise refusal(not_done, error) from None
    return view.status_text(runner.store, run_id)


def rename(runner: JobRunner, visitor: Visitor, run_id, name: str) -> str:
    """Give the current run a name (its owner or an admin only); its new status line."""
    return act_on_run(runner, run_id, "Not renamed", lambda i: runner.rename(i, name, visitor))


def annotate(runner: JobRunner, visitor: Visitor, run_id, tags: str, note: str) -> str:
    """Set the current run's tags and note (its owner or an admin only); its status line."""
    tags, note = str(tags or ""), str(note or "")
    return act_on_run(
        runner, run_id, "Not saved", lambda i: runner.annotate(i, tags, note, visitor)
    )


def archive(runner: JobRunner, visitor: Visitor, run_id, archived: bool) -> str:
    """Archive the current run or bring it back (its owner or an admin only)."""
    return act_on_run(
        runner, run_id, "Not archived", lambda i: runner.archive(i, bool(archived), visitor)
    )


def share(runner: JobRunner, visitor: Visitor, run_id, shared: bool) -> str:
    """Let every visitor use the current run's trained model, or stop (owner or admin only)."""
    return act_on_run(
        runner, run_id, "Sharing not changed", lambda i: runner.share(i, bool(shared), visitor)
    )


def delete(runner: JobRunner, visitor: Visitor, run_id):
    """Delete the current run with its files (owner or admin only); no run is current after."""
    run_id = chosen_run(run_id)
    try:
        runner.delete(run_id, visitor)
    except REFUSED as error:
        raise refusal("Not deleted", error) from None
    gr.Info(f"Run {run_id} deleted.")
    return None, f"Run {run_id} was deleted."


def show_run(runner: JobRunner, visitor: Visitor, run_id):
    """The name, tags, note, archiving and sharing of the run just made current, for its
    controls."""
    run_id = run_number(run_id)
    if run_id is None:
        return "", "", "", False, False
    try:
        run = check_can_see(runner.store, run_id, visitor, runner.limits)
    except KeyError:
        return "", "", "", False, False
    return run.name, ", ".join(run.tags), run.note, run.archived, run.shared


def run_state(run: Run) -> tuple:
    """What the Training tab shows of a run: when it changes, the tab redraws it."""
    return (run.id, run.status, run.progress, run.message, run.name, tuple(run.tags))


def refresh(
    runner: JobRunner,
    visitor: Visitor,
    run_id,
    experiment_filter,
    status_filter,
    tag_filter,
    show_archived,
    known,
):
    """The timer's redraw of what changed since the last tick (`known`, this page's memory):
    the current run's status and curves, the visitor's runs table, and the choices of the
    comparison, the sweeps and the tags. A tick where nothing changed costs one query of the
    store and redraws nothing (no flicker, and many open pages cost the server little)."""
    store = runner.store
    known = known if isinstance(known, dict) else {}
    owners = visible_owners(visitor, runner.limits)
    runs = store.list(owners=owners)
    filters = (experiment_filter, status_filter, tag_filter, bool(show_archived))
    listed = (filters, [(*run_state(run), run.archived) for run in runs])
    table = gr.skip()
    if listed != known.get("listed"):
        table = view.runs_table(
            store,
            None if experiment_filter == ALL else experiment_filter,
            None if status_filter == ALL else status_filter,
            owners=owners,
            tag=None if tag_filter in (ALL, None) else str(tag_filter),
            archived=bool(show_archived),
        )
    choices = [(f"{view.run_label(run)} ({run.status})", run.id) for run in runs]
    tags = sorted({tag for run in runs for tag in run.tags})
    if (choices, tags) == known.get("choices"):
        compare_update = sweeps_update = tags_update = gr.skip()
    else:
        compare_update = gr.update(choices=choices)
        sweeps_update = gr.update(choices=view.sweep_ids(store, owners))
        tags_update = gr.update(choices=[ALL, *tags])
    now = {"listed": listed, "choices": (choices, tags), "current": None}
    lists = (table, compare_update, sweeps_update, tags_update)
    run_id = run_number(run_id)
    if run_id is None:
        return gr.skip(), gr.skip(), gr.skip(), *lists, gr.skip(), gr.skip(), now
    hidden = gr.update(visible=False)
    try:
        run = check_can_see(store, run_id, visitor, runner.limits)
    except KeyError:
        missing = f"There is no run {run_id} among the runs you can see."
        return missing, None, None, *lists, hidden, hidden, now
    now["current"] = (*run_state(run), run.note, run.archived, run.shared)
    if now["current"] == known.get("current"):
        return gr.skip(), gr.skip(), gr.skip(), *lists, gr.skip(), gr.skip(), now
    metric = get_experiment(run.experiment).metric
    return (
        view.status_text(store, run.id),
        view.curves(store, [run.id], "loss"),
        view.curves(store, [run.id], metric),
        *lists,
        gr.update(visible=run.trained_image_classifier),  # its model, in the Classifier
        gr.update(visible=run.status == "done"),  # its page, in Results
        now,
    )


def visible_runs(runner: JobRunner, visitor: Visitor, run_ids: list, what: str) -> list[int]:
    """The chosen run ids, checked: at most MAX_COMPARED, each a run the visitor may see."""
    try:
        return check_can_see_all(runner.store, run_ids, visitor, runner.limits, MAX_COMPARED)
    except (KeyError, ValueError) as error:
        raise refusal(f"Not {what.lower()}d", error) from None


def compare_runs(
    runner: JobRunner,
    visitor: Visitor,
    run_ids: list[int],
    quantity: str,
    smoothing: float = 0.0,
    log_y: bool = False,
):
    """The chosen runs' curves (train and test) on one figure, their summary table and the
    config keys in which they differ."""
    if not run_ids:
        return None, gr.update(value=None), gr.update(value=None)
    run_ids = visible_runs(runner, visitor, run_ids, "Compare")
    if not 0 <= float(smoothing) < 1:
        raise gr.Error("Smoothing is a weight from 0 up to (not including) 1.")
    return (
        view.curves(
            runner.store, run_ids, quantity, ("train", "test"), float(smoothing), bool(log_y)
        ),
        view.summary_table(runner.store, run_ids),
        config_diff(runner.store, run_ids),
    )


def export_compared(runner: JobRunner, visitor: Visitor, run_ids: list[int]) -> list[str]:
    """runs.csv and metrics.csv of the compared runs, for the visitor to download."""
    if not run_ids:
        raise gr.Error("Choose runs to compare first: the export holds the compared runs.")
    run_ids = visible_runs(runner, visitor, run_ids, "Export")
    folder = download_folder("export-")
    return [str(path) for path in export_runs(runner.store, run_ids, folder)]


def visible_sweep(runner: JobRunner, visitor: Visitor, sweep_id: str) -> bool:
    """Whether `visitor` sees the sweep's runs (a sweep's runs all have its launcher as owner)."""
    owners = visible_owners(visitor, runner.limits)
    return bool(runner.store.list(sweep_id=sweep_id, owners=owners, limit=1))


def show_sweep(runner: JobRunner, visitor: Visitor, sweep_id: str | None):
    """The sweep's chosen point, its table and figure, and the statuses they were drawn at."""
    if not sweep_id:
        return "", None, None, []
    if not visible_sweep(runner, visitor, sweep_id):
        raise gr.Error(f"There is no sweep {sweep_id} among the runs you can see.")
    table, figure, choice = view.sweep_view(runner.store, sweep_id)
    return choice, table, figure, table["status"].tolist()


def refresh_sweep(runner: JobRunner, visitor: Visitor, sweep_id: str | None, shown_statuses):
    """Redraw the sweep only when one of its runs changed status (no flicker meanwhile)."""
    if not sweep_id or not visible_sweep(runner, visitor, sweep_id):
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    statuses = [run.status for run in reversed(runner.store.list(sweep_id=sweep_id))]
    if statuses == shown_statuses:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return show_sweep(runner, visitor, sweep_id)


# --- Panels ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchPanel:
    experiment: gr.Dropdown
    form: gr.Dataframe
    grid: gr.Textbox
    launch: gr.Button
    cancel: gr.Button
    sweep: gr.Button


def launch_panel(first: str) -> LaunchPanel:
    """Experiment, its description and config form, an own-CSV upload, launch and sweep."""
    experiment = gr.Dropdown(
        view.experiment_choices(),
        value=first,
        label="Experiment",
        info="grouped by family; those marked “data not here” say what they need",
        elem_id="experiment",
    )
    description = gr.Markdown(view.experiment_text(first), elem_id="experiment-text")
    form = gr.Dataframe(
        view.config_form(first),
        label="Config (edit the value column)",
        interactive=True,
        static_columns=[0, 2],
        elem_id="config-form",
    )
    with gr.Accordion("Your own data: upload a CSV", open=False):
        upload = gr.File(
            label="CSV with a binary target column",
            file_types=[".csv"],
            type="filepath",
            elem_id="csv-upload",
        )
        target = gr.Dropdown([], label="Target column", interactive=True)
    fetch_button = gr.Button(
        f"Download AFHQ from the Hugging Face hub (about {HUB_BYTES / 1e6:.0f} MB, once)",
        visible=False,
        elem_id="fetch-data",
    )
    with gr.Row():
        launch_button = gr.Button("Launch", variant="primary", elem_id="launch-run")
        cancel_button = gr.Button("Cancel run", variant="stop", elem_id="cancel-run")
    grid = gr.Textbox(
        format_grid(get_experiment(first).grid),
        label="Sweep grid",
        elem_id="sweep-grid",
        info="key=v1,v2; key2=v1,v2 — the best point is chosen on the validation split",
        placeholder="e.g. lr=0.01,0.05,0.1; weight_decay=0.01,0.001",
    )
    sweep_button = gr.Button("Launch sweep", elem_id="launch-sweep")
    described = [description, form, grid, launch_button, sweep_button, fetch_button]
    experiment.change(describe, experiment, described, api_name="describe_experiment")
    fetch_button.click(fetch_data, experiment, described, api_name="fetch_data")
    upload.upload(upload_csv, [upload, form], [form, target, upload], api_name="upload_csv")
    target.input(
        lambda column, table: with_form_value(table, "target", column),
        [target, form],
        form,
        api_name="choose_target",
    )
    return LaunchPanel(experiment, form, grid, launch_button, cancel_button, sweep_button)


@dataclass(frozen=True)
class RunLinks:
    """The current run, and the buttons that open it in other tabs (`tabs.links`), shown when
    it has what they open: a trained image model, a finished run's page."""

    current_run: gr.Number
    to_classifier: gr.Button
    to_results: gr.Button


@dataclass(frozen=True)
class LivePanel:
    current_run: gr.Number
    status: gr.Markdown
    loss_plot: gr.Plot
    metric_plot: gr.Plot
    links: RunLinks
    name: gr.Textbox
    rename: gr.Button
    tags: gr.Textbox
    note: gr.Textbox
    save_note: gr.Button
    archived: gr.Checkbox
    shared: gr.Checkbox
    delete: gr.Button


def live_panel() -> LivePanel:
    """The current run (the one just launched, or one whose number is typed in): its status
    line, its loss and metric per epoch, and its owner's controls: name, sharing, deletion."""
    current_run = gr.Number(
        None,
        label="Run",
        precision=0,
        info="the run shown here: the one you launched last, or type the number of another",
        elem_id="current-run",
    )
    status = gr.Markdown("No run launched yet.", elem_id="run-status")
    with gr.Row():
        to_classifier = gr.Button(
            "Try its model in the Classifier", size="sm", visible=False, elem_id="run-to-classifier"
        )
        to_results = gr.Button(
            "Make its results page", size="sm", visible=False, elem_id="run-to-results"
        )
    loss_plot, metric_plot = gr.Plot(label="Loss"), gr.Plot(label="Metric")
    with gr.Accordion(
        "This run: name, tags, note, archive, share, delete", open=False, elem_id="run-controls"
    ):
        with gr.Row():
            name = gr.Textbox(label="Name", max_length=MAX_NAME_CHARS, scale=3, elem_id="run-name")
            rename_button = gr.Button("Rename", scale=1, elem_id="rename-run")
        tags = gr.Textbox(
            label="Tags",
            info=f"words to filter runs by, separated by commas (at most {MAX_TAGS})",
            placeholder="e.g. baseline, small-lr",
            elem_id="run-tags",
        )
        note = gr.Textbox(label="Note", lines=2, max_length=MAX_NOTE_CHARS, elem_id="run-note")
        save_note = gr.Button("Save tags and note", elem_id="save-note")
        archived = gr.Checkbox(
            label="Archived: hidden from the runs table unless “Show archived” is ticked",
            elem_id="archive-run",
        )
        shared = gr.Checkbox(
            label="Share its trained model: every visitor may use it in the Classifier tab",
            elem_id="share-run",
        )
        delete_button = gr.Button("Delete run", variant="stop", elem_id="delete-run")
    return LivePanel(
        current_run,
        status,
        loss_plot,
        metric_plot,
        RunLinks(current_run, to_classifier, to_results),
        name,
        rename_button,
        tags,
        note,
        save_note,
        archived,
        shared,
        delete_button,
    )


@dataclass(frozen=True)
class RunsPanel:
    experiment_filter: gr.Dropdown
    status_filter: gr.Dropdown
    tag_filter: gr.Dropdown
    show_archived: gr.Checkbox
    table: gr.Dataframe
    compare: gr.Dropdown


def runs_panel(runner: JobRunner, names: list[str], visitor: VisitorControls) -> RunsPanel:
    """The visitor's runs (filtered by experiment and status) and a comparison of chosen runs.

    The page is built before any visitor comes, so the table and the choices start empty and
    the timer fills them with what this visitor may see."""
    with gr.Row():
        experiment_filter = gr.Dropdown([ALL, *names], value=ALL, label="Experiment")
        status_filter = gr.Dropdown([ALL, *STATUSES], value=ALL, label="Status")
        tag_filter = gr.Dropdown([ALL], value=ALL, label="Tag", elem_id="tag-filter")
        show_archived = gr.Checkbox(label="Show archived", elem_id="show-archived")
    empty = view.runs_table(runner.store, owners=())
    table = gr.Dataframe(empty, interactive=False, elem_id="runs-table")
    with gr.Row():
        compare = gr.Dropdown(
            [],
            multiselect=True,
            max_choices=MAX_COMPARED,
            label="Compare runs",
            scale=3,
            elem_id="compare-runs",
        )
        quantity = gr.Radio(
            [("its metric", view.OWN_METRIC), ("loss", "loss")],
            value=view.OWN_METRIC,
            label="Curve",
            info="each run's own metric: ROC-AUC for loan runs, accuracy for image runs",
            scale=1,
        )
    with gr.Row():
        smoothing = gr.Slider(0, 0.95, value=0, step=0.05, label="Smoothing", scale=3)
        log_y = gr.Checkbox(label="Log axis", scale=1, elem_id="compare-log")
    compare_plot = gr.Plot(label="Compared runs (train solid, test dashed)", elem_id="compare-plot")
    summary = gr.Dataframe(interactive=False, label="Summary", headers=["run", "status"])
    differences = gr.Dataframe(
        interactive=False,
        label="Config differences (only the keys whose values differ)",
        headers=["key"],
        elem_id="config-diff",
    )
    with gr.Row():
        export = gr.Button("Export the compared runs (CSV)", elem_id="export-runs")
        exported = gr.File(label="Exported", file_count="multiple", elem_id="exported-runs")
    gr.on(
        [compare.change, quantity.change, smoothing.release, log_y.input],
        handler(compare_runs, runner),
        [compare, quantity, smoothing, log_y, *visitor.inputs],
        [compare_plot, summary, differences],
        api_name="compare_runs",
    )
    export.click(
        handler(export_compared, runner),
        [compare, *visitor.inputs],
        exported,
        api_name="export_runs",
    )
    return RunsPanel(experiment_filter, status_filter, tag_filter, show_archived, table, compare)


@dataclass(frozen=True)
class SweepsPanel:
    choice: gr.Dropdown
    statuses: gr.State  # the statuses of the sweep's runs as last drawn
    outputs: list  # what show_sweep fills: the chosen point, table, figure and `statuses`


def sweeps_panel(runner: JobRunner, visitor: VisitorControls) -> SweepsPanel:
    """One sweep: the point chosen on validation, every point's run and a figure."""
    choice = gr.Dropdown([], label="Sweep", value=None)
    choice_text = gr.Markdown(elem_id="sweep-choice")
    table = gr.Dataframe(interactive=False, elem_id="sweep-table")
    plot = gr.Plot()
    statuses = gr.State([])
    outputs = [choice_text, table, plot, statuses]
    choice.change(
        handler(show_sweep, runner), [choice, *visitor.inputs], outputs, api_name="show_sweep"
    )
    return SweepsPanel(choice, statuses, outputs)


def intro(limits: HostLimits) -> None:
    """What the tab does and whose runs it shows; the terminal commands in a closed fold."""
    whose = (
        "This is a class: everyone sees everyone's runs, and only a run's owner changes it."
        if limits.class_mode
        else "Your runs are yours: other visitors do not see them."
    )
    gr.Markdown(
        "Launch any registered experiment, watch it train, and compare runs. Every run is kept "
        f"in the app's run store and survives a restart. {whose}"
    )
    with gr.Accordion("For developers", open=False):
        gr.Markdown(
            "The same runs can be started from a terminal on the machine that serves the app: "
            "`dlstudio train EXPERIMENT --key value` (`dlstudio train --list` names them). "
            "Runs started there belong to that machine's user, not to a visitor of the app."
        )


def build(runner: JobRunner, visitor_controls: VisitorControls) -> RunLinks:
    store = runner.store
    names = [experiment.name for experiment in list_experiments()]
    first = FIRST_EXPERIMENT if FIRST_EXPERIMENT in names else names[0]
    intro(runner.limits)
    if store.recovered_from is not None:
        gr.Markdown(RECOVERED_NOTICE, elem_id="store-recovered")
    visitor = visitor_controls.inputs
    known = gr.State({})  # what the timer drew last, to redraw only what changed
    with gr.Row():
        with gr.Column(scale=2):
            launching = launch_panel(first)
        with gr.Column(scale=3):
            live = live_panel()
    with gr.Accordion("Runs", open=True):
        runs = runs_panel(runner, names, visitor_controls)
    with gr.Accordion("Sweeps", open=False) as sweeps_accordion:
        sweeps = sweeps_panel(runner, visitor_controls)
    search_panel(runner, visitor_controls, launching.experiment, launching.form, first)

    current_run = live.current_run
    launching.launch.click(
        handler(launch, runner),
        [launching.experiment, launching.form, *visitor],
        [current_run, live.status],
        api_name="launch",
    )
    launching.sweep.click(
        handler(launch_sweep, runner),
        [launching.experiment, launching.form, launching.grid, *visitor],
        [current_run, sweeps.choice, sweeps_accordion],
        api_name="launch_sweep",
    )
    launching.cancel.click(
        handler(cancel, runner), [current_run, *visitor], None, api_name="cancel"
    )
    current_run.change(
        handler(show_run, runner),
        [current_run, *visitor],
        [live.name, live.tags, live.note, live.archived, live.shared],
        api_visibility="private",
        show_progress="hidden",
    )
    live.rename.click(
        handler(rename, runner),
        [current_run, live.name, *visitor],
        live.status,
        api_name="rename_run",
    )
    live.save_note.click(
        handler(annotate, runner),
        [current_run, live.tags, live.note, *visitor],
        live.status,
        api_name="annotate_run",
    )
    live.archived.input(
        handler(archive, runner),
        [current_run, live.archived, *visitor],
        live.status,
        api_name="archive_run",
    )
    live.shared.input(
        handler(share, runner),
        [current_run, live.shared, *visitor],
        live.status,
        api_name="share_run",
    )
    live.delete.click(
        handler(delete, runner),
        [current_run, *visitor],
        [current_run, live.status],
        api_name="delete_run",
    )
    timer = gr.Timer(1.0)
    timer.tick(
        handler(refresh, runner),
        [
            current_run,
            runs.experiment_filter,
            runs.status_filter,
            runs.tag_filter,
            runs.show_archived,
            known,
            *visitor,
        ],
        [
            live.status,
            live.loss_plot,
            live.metric_plot,
            runs.table,
            runs.compare,
            sweeps.choice,
            runs.tag_filter,
            live.links.to_classifier,
            live.links.to_results,
            known,
        ],
        api_name="refresh_runs",
        show_progress="hidden",
    )
    timer.tick(
        handler(refresh_sweep, runner),
        [sweeps.choice, sweeps.statuses, *visitor],
        sweeps.outputs,
        api_name="refresh_sweep",
        show_progress="hidden",
    )
    return live.links
