"""Results: each study's page, as a student would hand it in, from the first visit; and the
same kind of page from runs a visitor picks, to read here and download.

The pages come from `core.reports.studies` (the writers of `reports/*/README.md`) over the
reference runs that ship with the app, and from `core.reports.run_set` for a visitor's own
choice of runs; this module only lays a page's blocks out: Markdown as text, tables as
read-only tables, figures as interactive plotly charts.
"""

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from core.paths import download_folder
from core.reports.page import ForDevelopers, Page, plotly_figure
from core.reports.run_set import MAX_RUNS, zipped_page
from core.reports.studies import STUDIES, available_studies, study_page
from core.runs.access import check_can_see_all, visible_owners
from core.runs.store import RunStore
from core.sharing import heavy
from core.sharing.limits import HostLimits
from core.sharing.visitors import Visitor
from tabs import heavy_events
from tabs.visitor import VisitorControls, handler

TITLE = "Results"
INTRO = (
    "What each study found: its setup, the metric table with 95 % confidence intervals, the "
    "training curves and the conclusions, each computed from the runs shown. These runs ship "
    "with the app (the Training tab lists them as reference runs), and the same pages are the "
    "studies' reports in the repository."
)
EMPTY = "No study's runs are in this app's run store, so there are no results to show yet."


def show_page(page: Page) -> None:
    """Place a page's blocks, in order, inside the current render."""
    gr.Markdown(f"## {page.title}")
    for block in page.blocks:
        if isinstance(block, str):
            gr.Markdown(block)
        elif isinstance(block, ForDevelopers):
            with gr.Accordion("For developers", open=False):
                gr.Markdown(block.text)
        elif isinstance(block, pd.DataFrame):
            gr.Dataframe(block, interactive=False, wrap=True, elem_classes=["study-table"])
        else:
            gr.Plot(plotly_figure(block), show_label=False)


@dataclass(frozen=True)
class ResultsEntrance:
    """What a link into this tab fills: the own-study fold, its run choice and its page."""

    fold: gr.Accordion
    picked: gr.Dropdown
    page: gr.State
    download: gr.File


def finished_runs(store: RunStore, visitor: Visitor) -> list[tuple[str, int]]:
    """(label, id) of the finished runs the visitor may see (theirs and the reference runs),
    newest first."""
    owners = visible_owners(visitor, HostLimits.from_env())
    runs = store.list(owners=owners, status="done")
    return [(f"#{run.id} {run.experiment} {run.name}".strip(), run.id) for run in runs]


def run_choices(store: RunStore, visitor: Visitor):
    return gr.update(choices=finished_runs(store, visitor))


def make_page(store: RunStore, visitor: Visitor, run_ids: list):
    """The page of the chosen runs, and the same page zipped for download."""
    if not run_ids:
        raise gr.Error("Choose the runs first (yours or the reference runs).")
    out = download_folder("page-") / "study.zip"
    try:
        chosen = check_can_see_all(store, run_ids, visitor, HostLimits.from_env(), MAX_RUNS)
        heavy.rate_limiter().check(visitor.key)  # seconds of bootstrap per run: a heavy event
        page = heavy.run(zipped_page, store.path, chosen, out)
    except (KeyError, ValueError, heavy.WorkerStopped) as error:
        raise gr.Error(f"No page made: {error.args[0] if error.args else error}") from None
    return page, str(out)


def own_study(store: RunStore, visitor_controls: VisitorControls, tab: gr.Tab) -> ResultsEntrance:
    """Pick runs, make their page, read it below and download it."""
    visitor = visitor_controls.inputs
    with gr.Accordion("Your own study: a page from runs you choose", open=False) as fold:
        gr.Markdown(
            f"Choose up to {MAX_RUNS} finished runs, yours or the reference runs: the page "
            "compares them as the studies below do, with intervals and conclusions computed "
            "from their numbers."
        )
        picked = gr.Dropdown(
            [], multiselect=True, max_choices=MAX_RUNS, label="Runs", elem_id="study-runs"
        )
        with gr.Row():
            make = gr.Button("Make the page", variant="primary", elem_id="make-page")
            download = gr.File(label="The page: README and figures, zipped", elem_id="page-zip")
        page = gr.State(None)

        @gr.render(inputs=page)
        def own(made: Page | None) -> None:
            if made is not None:
                show_page(made)

    tab.select(
        handler(run_choices, store),
        visitor,
        picked,
        api_visibility="private",
        show_progress="hidden",
    )
    make.click(
        handler(make_page, store),
        [picked, *visitor],
        [page, download],
        api_name="make_page",
        **heavy_events.EVENT,
    )
    return ResultsEntrance(fold, picked, page, download)


def build(store: RunStore, visitor_controls: VisitorControls, tab: gr.Tab) -> ResultsEntrance:
    studies = available_studies(store)
    gr.Markdown(INTRO)
    entrance = own_study(store, visitor_controls, tab)
    if not studies:
        gr.Markdown(EMPTY)
        return entrance
    choice = gr.Radio(
        [(title, name) for name, title in studies.items()],
        value=next(iter(studies)),
        label="Study",
        elem_id="study-choice",
    )
    gr.Markdown("\n".join(f"- **{studies[name]}**: {STUDIES[name].purpose}." for name in studies))

    @gr.render(inputs=choice)
    def page(name: str) -> None:
        show_page(study_page(store, name))

    return entrance
