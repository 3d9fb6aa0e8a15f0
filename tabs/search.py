"""The Training tab's search panel: a Bayesian (or random, grid, GP) search of the launch panel's
experiment, launched from the browser, and its page while it runs.

The search itself is `core.runs.searches` (Optuna proposes, the run queue trains, the pruner
stops trailing trials); its page is `core.reports.search`, the same page `dlstudio report
search` writes, redrawn when a trial changes state.
"""

import math

import gradio as gr

from core.reports.search import search_page
from core.runs import searches, tuning, view
from core.runs.access import visible_owners
from core.runs.jobs import JobRunner
from core.sharing.visitors import Visitor
from tabs.results import show_page
from tabs.visitor import VisitorControls, handler

INTRO = (
    "Optuna proposes each trial's settings from the trials so far (TPE by default: a Bayesian "
    "method), and the pruner stops a trial whose validation metric trails the others' at the "
    "same epoch. Every trial is one of your runs, tagged with the search, and the search "
    "chooses on the validation split; the page below reads the best trial's test metric once, "
    "after the choice. The other settings come from the config above."
)
SPACE_HELP = "key=low..high (:log for a log scale, :int for whole numbers) or key=a,b,c; ';' apart"


def launch(runner: JobRunner, visitor: Visitor, experiment, form, space, trials, sampler, pruner):
    """Start a search; the search list, with it chosen, and what was started."""
    if trials is None or not math.isfinite(trials) or trials != int(trials):
        raise gr.Error("The number of trials is a whole number.")
    try:
        name = searches.launch_search(
            runner, experiment, view.form_values(form), space or "", int(trials), sampler,
            pruner, visitor,
        )  # fmt: skip
    except (KeyError, ValueError) as error:
        raise gr.Error(f"No search started: {error.args[0]}") from None
    owners = visible_owners(visitor, runner.limits)
    choices = searches.visible_searches(owners)
    return gr.update(choices=choices, value=name), f"Search {name} started: {int(trials)} trials."


def states(study) -> list[str]:
    return [trial.state.name for trial in tuning.trained_trials(study)]


def show(runner: JobRunner, visitor: Visitor, name: str | None):
    """The chosen search's page and the trial states it was drawn at."""
    if not name:
        return None, []
    try:
        study = searches.visible_search(name, visible_owners(visitor, runner.limits))
    except KeyError as error:
        raise gr.Error(str(error.args[0])) from None
    return search_page(runner.store, study), states(study)


def refresh(runner: JobRunner, visitor: Visitor, name: str | None, shown: list):
    """Redraw the page when a trial of the chosen search changed state (else nothing)."""
    if not name:
        return gr.skip(), gr.skip()
    try:
        study = searches.visible_search(name, visible_owners(visitor, runner.limits))
    except KeyError:
        return gr.skip(), gr.skip()
    if states(study) == shown:
        return gr.skip(), gr.skip()
    return search_page(runner.store, study), states(study)


def following(name: str | None) -> gr.Timer:
    """The redraw timer runs while a search is chosen, and stops when none is."""
    return gr.Timer(active=bool(name))


def listed(runner: JobRunner, visitor: Visitor):
    return gr.update(choices=searches.visible_searches(visible_owners(visitor, runner.limits)))


def search_panel(
    runner: JobRunner,
    visitor_controls: VisitorControls,
    experiment: gr.Dropdown,
    form: gr.Dataframe,
    first: str,
) -> None:
    visitor = visitor_controls.inputs
    with gr.Accordion("Search: Bayesian optimisation", open=False, elem_id="search-box") as box:
        gr.Markdown(INTRO)
        space = gr.Textbox(
            tuning.default_space(first),
            label="Search space",
            info=SPACE_HELP,
            elem_id="search-space",
        )
        with gr.Row():
            trials = gr.Number(
                searches.DEFAULT_TRIALS, precision=0, label="Trials", elem_id="search-trials"
            )
            sampler = gr.Radio(list(tuning.SAMPLERS), value="tpe", label="Sampler")
            pruner = gr.Radio(list(tuning.PRUNERS), value="median", label="Pruner")
        start = gr.Button("Launch search", elem_id="launch-search")
        started = gr.Markdown(elem_id="search-started")
        choice = gr.Dropdown([], label="Search", value=None, elem_id="search-choice")
        page = gr.State(None)
        shown = gr.State([])

        @gr.render(inputs=page)
        def drawn(made) -> None:
            if made is not None:
                show_page(made)

    experiment.change(tuning.default_space, experiment, space, api_visibility="private")
    start.click(
        handler(launch, runner),
        [experiment, form, space, trials, sampler, pruner, *visitor],
        [choice, started],
        api_name="launch_search",
    )
    timer = gr.Timer(2.0, active=False)  # ticks only while a chosen search is in view
    box.expand(handler(listed, runner), visitor, choice, api_visibility="private").then(
        following, choice, timer, api_visibility="private"
    )
    box.collapse(lambda: gr.Timer(active=False), None, timer, api_visibility="private")
    choice.change(
        handler(show, runner), [choice, *visitor], [page, shown], api_name="show_search"
    ).then(following, choice, timer, api_visibility="private")
    timer.tick(
        handler(refresh, runner),
        [choice, shown, *visitor],
        [page, shown],
        api_visibility="private",
        show_progress="hidden",
    )
