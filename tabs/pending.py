"""The one line a tab shows until its issue is built: what will be there, and no fake output."""

import gradio as gr


def pending(what_will_be_here: str) -> None:
    gr.Markdown(f"*Not built yet.* {what_will_be_here}")
