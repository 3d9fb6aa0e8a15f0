"""DL Studio: assembles the tabs into one Gradio app and serves it on port 7860."""

import os

import gradio as gr

from core.jobs import JobRunner
from core.paths import default_db_path
from core.runs import RunStore
from tabs import classifier, decoding, gradient_descent, metrics, pq_explorer, retrieval, training

STANDALONE_TABS = (classifier, decoding, retrieval, gradient_descent, metrics, pq_explorer)


def build_app(runner: JobRunner) -> gr.Blocks:
    with gr.Blocks(title="DL Studio") as demo:
        gr.Markdown("# DL Studio\nHands-on deep learning: every assignment is a working tool.")
        with gr.Tabs():
            for tab in STANDALONE_TABS:
                with gr.Tab(tab.TITLE):
                    tab.build()
            with gr.Tab(training.TITLE):
                training.build(runner)
    return demo


def main() -> None:
    store = RunStore(default_db_path())
    interrupted = store.recover_interrupted()
    if interrupted:
        print(f"Marked runs {interrupted} interrupted: the app stopped while they ran.")
    demo = build_app(JobRunner(store))
    demo.queue(default_concurrency_limit=4).launch(
        head="".join(getattr(tab, "HEAD", "") for tab in (*STANDALONE_TABS, training)),
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size="50mb",
    )


if __name__ == "__main__":
    main()
