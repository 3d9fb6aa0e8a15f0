"""Links between tabs: a button in one tab opens another with the right thing already chosen.

- a finished image run (Training) -> the Classifier, its model chosen in the panel that takes
  its pictures (a digit model in the sketchpad's panel, a photo model in the photo's);
- a finished run (Training) -> Results, with the page of that run made;
- the shipped digits model (Classifier) -> the PQ explorer, with its embeddings chosen.

Each tab exposes what a link fills (an `...Entrance`) and the buttons that follow one; `connect`
wires them once every tab exists, since a button may open a tab built after its own.
"""

from dataclasses import dataclass

import gradio as gr

from core.runs.access import check_can_see
from core.runs.jobs import JobRunner
from core.serving.run_models import RUN_PREFIX
from core.sharing.visitors import Visitor
from tabs import classifier, heavy_events, pq_explorer, results
from tabs.training import RunLinks, chosen_run
from tabs.visitor import VisitorControls, handler


@dataclass(frozen=True)
class Entrances:
    """What each link fills in the tab it opens."""

    tabs: gr.Tabs
    classifier: classifier.ClassifierEntrance
    pq: pq_explorer.PQEntrance
    results: results.ResultsEntrance


def run_in_classifier(
    runner: JobRunner, visitor: Visitor, run_id, panels: classifier.ClassifierEntrance
) -> tuple:
    """The Classifier tab, with the run's model chosen in the panel for its kind of picture."""
    run_id = chosen_run(run_id)
    try:
        run = check_can_see(runner.store, run_id, visitor, runner.limits)
    except KeyError as error:
        raise gr.Error(str(error.args[0])) from None
    if not run.trained_image_classifier:
        raise gr.Error(
            f"Run {run_id} has no trained image model"
            + (" yet: it is still going." if run.status in ("queued", "running") else ".")
        )
    digit = run.details["input_spec"]["kind"] == "digit"
    picker, shipped_name, kinds = (
        (panels.digit_model, "digits", ("digit",))
        if digit
        else (panels.photo_model, "animals", ("rgb", "gray"))
    )
    if picker is None:
        raise gr.Error("The Classifier has no panel for this model's pictures here.")
    choice = classifier.model_choices(visitor, shipped_name, kinds, f"{RUN_PREFIX}{run_id}")
    updates = (choice, gr.skip()) if digit else (gr.skip(), choice)
    return gr.Tabs(selected=classifier.TITLE), *updates


def run_in_results(runner: JobRunner, visitor: Visitor, run_id) -> tuple:
    """The Results tab with its own-study fold open and this run chosen (the page follows)."""
    run_id = chosen_run(run_id)
    choices = results.finished_runs(runner.store, visitor)
    if run_id not in [value for _, value in choices]:
        raise gr.Error(f"Run {run_id} has not finished, or is not among the runs you can see.")
    picked = gr.update(choices=choices, value=[run_id])
    return gr.Tabs(selected=results.TITLE), gr.Accordion(open=True), picked


def connect(
    runner: JobRunner,
    visitor_controls: VisitorControls,
    entrances: Entrances,
    run_links: RunLinks,
    digits: classifier.DigitsPanel,
) -> None:
    """Wire every link's button to the tab it opens."""
    visitor = visitor_controls.inputs
    panels = entrances.classifier
    # the tab opens at its top; the inputs go on to Python as they are
    scroll_up = "(...inputs) => { window.scrollTo({top: 0}); return inputs; }"

    def open_classifier(who: Visitor, run_id):
        return run_in_classifier(runner, who, run_id, panels)

    # a panel missing here (its model not shipped) still takes its place among the outputs
    pickers = [gr.State(None) if p is None else p for p in (panels.digit_model, panels.photo_model)]
    run_links.to_classifier.click(
        handler(open_classifier),
        [run_links.current_run, *visitor],
        [entrances.tabs, *pickers],
        api_visibility="private",
        js=scroll_up,
    )
    page = entrances.results
    run_links.to_results.click(
        handler(run_in_results, runner),
        [run_links.current_run, *visitor],
        [entrances.tabs, page.fold, page.picked],
        api_visibility="private",
        js=scroll_up,
    ).success(
        handler(results.make_page, runner.store),
        [page.picked, *visitor],
        [page.page, page.download],
        api_visibility="private",
        **heavy_events.EVENT,  # a page computes bootstraps: it queues with the heavy events
    )
    if digits.to_embeddings is not None:
        pq = entrances.pq
        digits.to_embeddings.click(
            lambda: (gr.Tabs(selected=pq_explorer.TITLE), digits.embeddings),
            None,
            [entrances.tabs, pq.source],
            api_visibility="private",
            js=scroll_up,
        ).then(pq_explorer.choose_set, [pq.source, pq.upload], pq.settings)
