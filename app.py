"""DL Studio: assembles the tabs into one Gradio app and serves it on port 7860.

Every tab opens with one line saying which model and data it uses and where it runs
(`core.hosting.runtime`). Uploads larger than MAX_UPLOAD_MB are refused by the server before any
code reads them; each upload input also names the file types it takes, and the code behind it
checks the content (see docs/deploy.md).

Who sends each event (`tabs.visitor`) is known from the page's visitor controls, made here once
and handed to every tab whose `build` takes `visitor_controls`.
"""

import argparse
import inspect
import os

import gradio as gr

from core.hosting.runtime import statement
from core.hosting.spaces import preload_for_zero_gpu
from core.paths import default_db_path
from core.reports.studies import write_pages_in_background
from core.runs.jobs import JobRunner
from core.runs.reference import load_reference_runs
from core.runs.store import RunStore
from tabs import (
    classifier,
    decoding,
    gradient_descent,
    home,
    links,
    metrics,
    pq_explorer,
    results,
    retrieval,
    training,
    visitor,
)

STANDALONE_TABS = (classifier, decoding, retrieval, gradient_descent, metrics, pq_explorer)
MAX_UPLOAD_MB = 50  # any single upload; images are held to 20 MB by core.vision.inputs on top


def build_app(runner: JobRunner) -> gr.Blocks:
    visitor_controls = visitor.controls()
    # Gradio keeps a copy of every file it serves (downloads, plots); drop those over an hour old
    with gr.Blocks(title="DL Studio", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# DL Studio\nHands-on deep learning: every tab is a working tool.")
        visitor.sign_in_button()
        with gr.Tabs() as tabs:  # each tab's id is its title: buttons select tabs by it
            with gr.Tab(home.TITLE, id=home.TITLE):
                home.build(tabs)
            built = {}
            for tab in STANDALONE_TABS:
                with gr.Tab(tab.TITLE, id=tab.TITLE):
                    runtime_statement(tab.TOOL)
                    built[tab] = build_tab(tab, visitor_controls)
            with gr.Tab(results.TITLE, id=results.TITLE) as results_tab:
                into_results = results.build(runner.store, visitor_controls, results_tab)
            with gr.Tab(training.TITLE, id=training.TITLE):
                runtime_statement(training.TOOL)
                run_links = training.build(runner, visitor_controls)
        into_classifier, digits = built[classifier]
        entrances = links.Entrances(tabs, into_classifier, built[pq_explorer], into_results)
        links.connect(runner, visitor_controls, entrances, run_links, digits)
        visitor.place(demo, visitor_controls)
    return demo


def build_tab(tab, visitor_controls: visitor.VisitorControls):
    """A tab's `build`, given the page's visitor controls when its events need the visitor;
    returns what it returns (what links from other tabs fill)."""
    if "visitor_controls" in inspect.signature(tab.build).parameters:
        return tab.build(visitor_controls=visitor_controls)
    return tab.build()


def runtime_statement(tool: str) -> gr.Markdown:
    return gr.Markdown(statement(tool), elem_classes=["runtime-statement"])


def main(argv: list[str] | None = None) -> None:
    """`dlstudio serve` (and `python app.py`): serve every tab until stopped."""
    argparse.ArgumentParser(
        prog="dlstudio serve",
        description="Serve DL Studio on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT "
        "(default 0.0.0.0:7860); runs and uploads go to DLSTUDIO_DATA (default: data/ here).",
    ).parse_args(argv)
    store = RunStore(default_db_path())
    interrupted = store.recover_interrupted()
    if interrupted:
        print(f"Marked runs {interrupted} interrupted: the app stopped while they ran.")
    added = load_reference_runs(store)
    if added:
        print(f"Loaded {len(added)} reference runs, the studies' results, into the run store.")
    write_pages_in_background(store)
    for name in preload_for_zero_gpu():
        print(f"Loaded {name} before serving: ZeroGPU runs each GPU call in a fresh process.")
    demo = build_app(JobRunner(store))
    demo.queue(default_concurrency_limit=4).launch(
        head="".join(getattr(tab, "HEAD", "") for tab in (*STANDALONE_TABS, training)),
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size=f"{MAX_UPLOAD_MB}mb",
    )


if __name__ == "__main__":
    main()
