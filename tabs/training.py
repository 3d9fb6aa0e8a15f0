"""Training launcher: pick an experiment, edit its config, launch runs or sweeps, watch, compare."""

import gradio as gr

from core.experiments import get_experiment, list_experiments
from core.runs import view as launcher
from core.runs.jobs import JobRunner
from core.runs.store import STATUSES, RunStoreFullError
from core.runs.sweeps import format_grid, parse_grid
from core.tabular.data import import_csv

TITLE = "Training"
ALL = "all"
FIRST_EXPERIMENT = "loan_exp1"  # quick (seconds on a CPU), so a first visit sees a whole run


def build(runner: JobRunner) -> None:
    store = runner.store
    names = [experiment.name for experiment in list_experiments()]
    first = FIRST_EXPERIMENT if FIRST_EXPERIMENT in names else names[0]

    def describe(name: str):
        experiment = get_experiment(name)
        return (experiment.description, launcher.config_form(name), format_grid(experiment.grid))

    def with_form_value(form, key: str, value: str):
        form = form.copy()
        form.loc[form["key"] == key, "value"] = value
        return form

    def upload_csv(path, form):
        if path is None:
            return form, gr.update(), gr.skip()
        try:
            kept, columns = import_csv(path)
        except ValueError as error:
            gr.Warning(str(error))
            return form, gr.update(), None  # clear the upload so another file can be dropped
        gr.Info(f"Kept {kept.name}: {len(columns)} columns. Choose the target column.")
        return (
            with_form_value(form, "data", str(kept)),
            gr.update(choices=columns, value=None),
            path,
        )

    def launch(name: str, form):
        try:
            run_id = runner.submit(name, launcher.form_values(form))
        except (KeyError, ValueError, RunStoreFullError) as error:
            raise gr.Error(f"Not launched: {error.args[0]}") from None
        return run_id, launcher.status_text(store, run_id)

    def launch_sweep(name: str, form, grid_text: str):
        try:
            grid = parse_grid(grid_text)
            sweep_id, run_ids = runner.submit_sweep(name, launcher.form_values(form), grid)
        except (KeyError, ValueError, RunStoreFullError) as error:
            raise gr.Error(f"Sweep not launched: {error.args[0]}") from None
        gr.Info(f"Sweep {sweep_id}: {len(run_ids)} runs queued.")
        sweeps = gr.update(choices=launcher.sweep_ids(store), value=sweep_id)
        return run_ids[0], sweeps, gr.Accordion(open=True)

    def cancel(run_id):
        if run_id is None or not runner.cancel(int(run_id)):
            raise gr.Error("There is no queued or running run to cancel.")
        gr.Info(f"Run {run_id} will stop after its current step.")

    def refresh(run_id, experiment_filter: str, status_filter: str, known: list):
        table = launcher.runs_table(
            store,
            None if experiment_filter == ALL else experiment_filter,
            None if status_filter == ALL else status_filter,
        )
        choices = run_choices()
        compare_update = gr.skip() if choices == known else gr.update(choices=choices)
        if run_id is None:
            return gr.skip(), gr.skip(), gr.skip(), table, compare_update, choices
        run_ids = [int(run_id)]
        return (
            launcher.status_text(store, int(run_id)),
            launcher.curves(store, run_ids, "loss"),
            launcher.curves(
                store, run_ids, get_experiment(store.get(int(run_id)).experiment).metric
            ),
            table,
            compare_update,
            choices,
        )

    def run_choices() -> list[tuple[str, int]]:
        return [(f"{launcher.run_label(run)} ({run.status})", run.id) for run in store.list()]

    def compare_runs(run_ids: list[int], quantity: str):
        if not run_ids:
            return None, gr.update(value=None)
        return (
            launcher.curves(store, run_ids, quantity, splits=("train", "test")),
            launcher.summary_table(store, run_ids),
        )

    def show_sweep(sweep_id: str | None):
        if not sweep_id:
            return "", None, None, []
        table, figure, choice = launcher.sweep_view(store, sweep_id)
        return choice, table, figure, table["status"].tolist()

    def refresh_sweep(sweep_id: str | None, shown_statuses: list):
        """Redraw the sweep only when one of its runs changed status (no flicker meanwhile)."""
        if not sweep_id:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        statuses = [run.status for run in reversed(store.list(sweep_id=sweep_id))]
        if statuses == shown_statuses:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return show_sweep(sweep_id)

    gr.Markdown(
        "Launch any registered experiment, watch it train, and compare runs. Every run is kept "
        f"in the SQLite run store (`{store.path}`) and survives a restart. The same runs can be "
        "started from a terminal: `python -m core.runs.cli EXPERIMENT --key value`."
    )
    current_run = gr.State(None)
    known_choices = gr.State(run_choices())
    sweep_statuses = gr.State([])  # the statuses of the sweep's runs as last drawn
    with gr.Row():
        with gr.Column(scale=2):
            experiment = gr.Dropdown(names, value=first, label="Experiment", elem_id="experiment")
            description = gr.Markdown(get_experiment(first).description)
            form = gr.Dataframe(
                launcher.config_form(first),
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
        with gr.Column(scale=3):
            status = gr.Markdown("No run launched yet.", elem_id="run-status")
            loss_plot = gr.Plot(label="Loss")
            metric_plot = gr.Plot(label="Metric")

    with gr.Accordion("Runs", open=True):
        with gr.Row():
            experiment_filter = gr.Dropdown([ALL, *names], value=ALL, label="Experiment")
            status_filter = gr.Dropdown([ALL, *STATUSES], value=ALL, label="Status")
        runs = gr.Dataframe(launcher.runs_table(store), interactive=False, elem_id="runs-table")
        with gr.Row():
            compare = gr.Dropdown(run_choices(), multiselect=True, label="Compare runs", scale=3)
            quantity = gr.Radio(["roc_auc", "loss"], value="roc_auc", label="Curve", scale=1)
        compare_plot = gr.Plot(label="Compared runs (train solid, test dashed)")
        summary = gr.Dataframe(interactive=False, label="Summary", headers=["run", "status"])

    with gr.Accordion("Sweeps", open=False) as sweeps_panel:
        sweep_choice = gr.Dropdown(launcher.sweep_ids(store), label="Sweep", value=None)
        sweep_choice_text = gr.Markdown(elem_id="sweep-choice")
        sweep_table = gr.Dataframe(interactive=False, elem_id="sweep-table")
        sweep_plot = gr.Plot()

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
    launch_button.click(launch, [experiment, form], [current_run, status], api_name="launch")
    sweep_button.click(
        launch_sweep,
        [experiment, form, grid],
        [current_run, sweep_choice, sweeps_panel],
        api_name="launch_sweep",
    )
    cancel_button.click(cancel, current_run, None, api_name="cancel")
    timer = gr.Timer(1.0)
    timer.tick(
        refresh,
        [current_run, experiment_filter, status_filter, known_choices],
        [status, loss_plot, metric_plot, runs, compare, known_choices],
        api_name="refresh_runs",
        show_progress="hidden",
    )
    gr.on(
        [compare.change, quantity.change],
        compare_runs,
        [compare, quantity],
        [compare_plot, summary],
        api_name="compare_runs",
    )
    sweep_view = [sweep_choice_text, sweep_table, sweep_plot, sweep_statuses]
    sweep_choice.change(show_sweep, sweep_choice, sweep_view, api_name="show_sweep")
    timer.tick(
        refresh_sweep,
        [sweep_choice, sweep_statuses],
        sweep_view,
        api_name="refresh_sweep",
        show_progress="hidden",
    )
