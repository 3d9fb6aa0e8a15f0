"""Results: each study's page, as a student would hand it in, from the app's first visit.

The pages come from `core.reports.studies` (the writers of `reports/*/README.md`) over the
reference runs that ship with the app; this module only lays a page's blocks out: Markdown as
text, tables as read-only tables, figures as interactive plotly charts.
"""

import gradio as gr
import pandas as pd

from core.reports.page import ForDevelopers, Page, plotly_figure
from core.reports.studies import STUDIES, available_studies, study_page
from core.runs.store import RunStore

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
    gr.Markdown(f"## {page.title}", elem_id="study-title")
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


def build(store: RunStore) -> None:
    studies = available_studies(store)
    gr.Markdown(INTRO)
    if not studies:
        gr.Markdown(EMPTY)
        return
    choice = gr.Radio(
        [(title, name) for name, title in studies.items()],
        value=next(iter(studies)),
        label="Study",
        info="; ".join(f"{studies[name]}: {STUDIES[name].purpose}" for name in studies),
        elem_id="study-choice",
    )

    @gr.render(inputs=choice)
    def page(name: str) -> None:
        show_page(study_page(store, name))
