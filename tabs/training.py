"""Training launcher: pick an experiment, edit its config, launch runs or sweeps, watch, compare.

Four panels: the launch panel (experiment, config form, own CSV, sweep grid), the live panel
(the current run's status and curves), the runs panel (every stored run, filters, a comparison)
and the sweeps panel (one sweep's points and the best). Each panel lays out its components and
wires the events that stay inside it; `build` places the panels and wires the events between
them: launching, cancelling and the one-second timer that redraws what changed in the store.
"""

import functools
from dataclasses import dataclass

import gradio as gr

from core.experiments import get_experiment, list_experiments
from core.runs import view
from core.runs.jobs import JobRunner
from core.runs.store import STATUSES, RunStore, RunStoreFullError
from core.runs.sweeps import format_grid, parse_grid
from core.tabular.data import import_csv

TITLE = "Training"
TOOL = "training"  # its runtime statement's key in core.hosting.runtime
ALL = "all"
FIRST_EXPERIMENT = "loan_exp1"  # quick (seconds on a CPU), so a first visit sees a whole run


# --- Plain functions behind the events ---------------------------------------------------------


def describe(name: str):
    """The experiment's description, its default config form and its default sweep grid."""
    experiment = get_experiment(name)
    return experiment.description, view.config_form(name), format_grid(experiment.grid)


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
    return with_form_value(form, "data", str(kept)), gr.update(choices=columns, value=None), path


def launch(runner: JobRunner, name: str, form):
    """Queue one run of the experiment with the form's config: its id and first status line."""
    try:
        run_id = runner.submit(name, view.form_values(form))
    except (KeyError, ValueError, RunStoreFullError) as error:
        raise gr.Error(f"Not launched: {error.args[0]}") from None
    return run_id, view.status_text(runner.store, run_id)


def launch_sweep(runner: JobRunner, name: str, form, grid_text: str):
    """Queue one run per grid point; the first becomes the current run, the sweep is shown."""
    try:
        grid = parse_grid(grid_text)
        sweep_id, run_ids = runner.submit_sweep(name, view.form_values(form), grid)
    except (KeyError, ValueError, RunStoreFullError) as error:
        raise gr.Error(f"Sweep not launched: {error.args[0]}") from None
    gr.Info(f"Sweep {sweep_id}: {len(run_ids)} runs queued.")
    sweeps = gr.update(choices=view.sweep_ids(runner.store), value=sweep_id)
    return run_ids[0], sweeps, gr.Accordion(open=True)


def cancel(runner: JobRunner, run_id) -> None:
    if run_id is None or not runner.cancel(int(run_id)):
        raise gr.Error("There is no queued or running run to cancel.")
    gr.Info(f"Run {run_id} will stop after its current step.")


def run_choices(store: RunStore) -> list[tuple[str, int]]:
    """Every stored run as a choice of the comparison: label and status, newest first."""
    return [(f"{view.run_label(run)} ({run.status})", run.id) for run in store.list()]


def refresh(store: RunStore, run_id, experiment_filter: str, status_filter: str, known: list):
    """The timer's redraw: the current run's status and curves, the runs table, and the
    comparison's choices only when a run was added or changed status (no flicker meanwhile)."""
    table = view.runs_table(
        store,
        None if experiment_filter == ALL else experiment_filter,
        None if status_filter == ALL else status_filter,
    )
    choices = run_choices(store)
    compare_update = gr.skip() if choices == known else gr.update(choices=choices)
    if run_id is None:
        return gr.skip(), gr.skip(), gr.skip(), table, compare_update, choices
    run_ids = [int(run_id)]
    metric = get_experiment(store.get(int(run_id)).experiment).metric
    return (
        view.status_text(store, int(run_id)),
        view.curves(store, run_ids, "loss"),
        view.curves(store, run_ids, metric),
        table,
        compare_update,
        choices,
    )


def compare_runs(store: RunStore, run_ids: list[int], quantity: str):
    """The chosen runs' curves (train and test) on one figure, and their summary table."""
    if not run_ids:
        return None, gr.update(value=None)
    return (
        view.curves(store, run_ids, quantity, splits=("train", "test")),
        view.summary_table(store, run_ids),
    )


def show_sweep(store: RunStore, sweep_id: str | None):
    """The sweep's chosen point, its table and figure, and the statuses they were drawn at."""
    if not sweep_id:
        return "", None, None, []
    table, figure, choice = view.sweep_view(store, sweep_id)
    return choice, table, figure, table["status"].tolist()


def refresh_sweep(store: RunStore, sweep_id: str | None, shown_statuses: list):
    """Redraw the sweep only when one of its runs changed status (no flicker meanwhile)."""
    if not sweep_id:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    statuses = [run.status for run in reversed(store.list(sweep_id=sweep_id))]
    if statuses == shown_statuses:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return show_sweep(store, sweep_id)


# --- Panels ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchPanel:
    experiment: gr.Dropdown
    form: gr.Dataframe
    grid: gr.Textbox
    launch: gr.Button
    cancel: gr.Button
    sweep: gr.Button


def launch_panel(names: list[str], first: str) -> LaunchPanel:
    """Experiment, its description and config form, an own-CSV upload, launch and sweep."""
    experiment = gr.Dropdown(names, value=first, label="Experiment", elem_id="experiment")
    description = gr.Markdown(get_experiment(first).description)
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
    experiment.change(
        describe, experiment, [description, form, grid], api_name="describe_experiment"
    )
    upload.upload(upload_csv, [upload, form], [form, target, upload], api_name="upload_csv")
    target.input(
        lambda column, table: with_form_value(table, "target", column),
        [target, form],
        form,
        api_name="choose_target",
    )
    return LaunchPanel(experiment, form, grid, launch_button, cancel_button, sweep_button)


@dataclass(frozen=True)
class LivePanel:
    status: gr.Markdown
    loss_plot: gr.Plot
    metric_plot: gr.Plot


def live_panel() -> LivePanel:
    """The current run: its status line, its loss and its experiment's metric per epoch."""
    return LivePanel(
        status=gr.Markdown("No run launched yet.", elem_id="run-status"),
        loss_plot=gr.Plot(label="Loss"),
        metric_plot=gr.Plot(label="Metric"),
    )


@dataclass(frozen=True)
class RunsPanel:
    experiment_filter: gr.Dropdown
    status_filter: gr.Dropdown
    table: gr.Dataframe
    compare: gr.Dropdown


def runs_panel(store: RunStore, names: list[str]) -> RunsPanel:
    """Every stored run (filtered by experiment and status) and a comparison of chosen runs."""
    with gr.Row():
        experiment_filter = gr.Dropdown([ALL, *names], value=ALL, label="Experiment")
        status_filter = gr.Dropdown([ALL, *STATUSES], value=ALL, label="Status")
    table = gr.Dataframe(view.runs_table(store), interactive=False, elem_id="runs-table")
    with gr.Row():
        compare = gr.Dropdown(run_choices(store), multiselect=True, label="Compare runs", scale=3)
        quantity = gr.Radio(["roc_auc", "loss"], value="roc_auc", label="Curve", scale=1)
    compare_plot = gr.Plot(label="Compared runs (train solid, test dashed)")
    summary = gr.Dataframe(interactive=False, label="Summary", headers=["run", "status"])
    gr.on(
        [compare.change, quantity.change],
        functools.partial(compare_runs, store),
        [compare, quantity],
        [compare_plot, summary],
        api_name="compare_runs",
    )
    return RunsPanel(experiment_filter, status_filter, table, compare)


@dataclass(frozen=True)
class SweepsPanel:
    choice: gr.Dropdown
    statuses: gr.State  # the statuses of the sweep's runs as last drawn
    outputs: list  # what show_sweep fills: the chosen point, table, figure and `statuses`


def sweeps_panel(store: RunStore) -> SweepsPanel:
    """One sweep: the point chosen on validation, every point's run and a figure."""
    choice = gr.Dropdown(view.sweep_ids(store), label="Sweep", value=None)
    choice_text = gr.Markdown(elem_id="sweep-choice")
    table = gr.Dataframe(interactive=False, elem_id="sweep-table")
    plot = gr.Plot()
    statuses = gr.State([])
    outputs = [choice_text, table, plot, statuses]
    choice.change(functools.partial(show_sweep, store), choice, outputs, api_name="show_sweep")
    return SweepsPanel(choice, statuses, outputs)


def build(runner: JobRunner) -> None:
    store = runner.store
    names = [experiment.name for experiment in list_experiments()]
    first = FIRST_EXPERIMENT if FIRST_EXPERIMENT in names else names[0]
    gr.Markdown(
        "Launch any registered experiment, watch it train, and compare runs. Every run is kept "
        f"in the SQLite run store (`{store.path}`) and survives a restart. The same runs can be "
        "started from a terminal: `dlstudio train EXPERIMENT --key value`."
    )
    current_run = gr.State(None)
    known_choices = gr.State(run_choices(store))
    with gr.Row():
        with gr.Column(scale=2):
            launching = launch_panel(names, first)
        with gr.Column(scale=3):
            live = live_panel()
    with gr.Accordion("Runs", open=True):
        runs = runs_panel(store, names)
    with gr.Accordion("Sweeps", open=False) as sweeps_accordion:
        sweeps = sweeps_panel(store)

    launching.launch.click(
        functools.partial(launch, runner),
        [launching.experiment, launching.form],
        [current_run, live.status],
        api_name="launch",
    )
    launching.sweep.click(
        functools.partial(launch_sweep, runner),
        [launching.experiment, launching.form, launching.grid],
        [current_run, sweeps.choice, sweeps_accordion],
        api_name="launch_sweep",
    )
    launching.cancel.click(functools.partial(cancel, runner), current_run, None, api_name="cancel")
    timer = gr.Timer(1.0)
    timer.tick(
        functools.partial(refresh, store),
        [current_run, runs.experiment_filter, runs.status_filter, known_choices],
        [live.status, live.loss_plot, live.metric_plot, runs.table, runs.compare, known_choices],
        api_name="refresh_runs",
        show_progress="hidden",
    )
    timer.tick(
        functools.partial(refresh_sweep, store),
        [sweeps.choice, sweeps.statuses],
        sweeps.outputs,
        api_name="refresh_sweep",
        show_progress="hidden",
    )
