"""Home tab: what each tool is for, the course topics it covers, and a button that opens it.

The first thing a visitor sees, on a laptop or a phone (where the tab bar shows two or three
names and hides the rest in its overflow menu, the buttons here reach every tool). `build`
takes the page's `gr.Tabs`, whose tabs have their titles as ids, so a button selects one.
"""

from dataclasses import dataclass

import gradio as gr

TITLE = "Home"


@dataclass(frozen=True)
class Tool:
    title: str  # the tab's title (and id)
    does: str  # one line: what you do there
    topics: str  # the course topics it covers
    start: str  # the button's words


TOOLS = (
    Tool(
        "Classifier",
        "Draw a digit or upload an animal photo: two ONNX models answer with their top classes.",
        "convolutional networks, transfer learning, serving with ONNX Runtime",
        "Draw a digit",
    ),
    Tool(
        "Decoding",
        "Watch a small language model write token by token, with temperature, top-k, top-p "
        "and beam search, and see each step's distribution.",
        "language models, decoding and sampling strategies",
        "Generate a reply",
    ),
    Tool(
        "Retrieval",
        "Ask a question: BM25, TF-IDF, a dense encoder and their hybrid find the answers, "
        "scored on held-out questions.",
        "embeddings, lexical and dense search, MRR and nDCG",
        "Ask a question",
    ),
    Tool(
        "Gradient descent",
        "Step gradient descent, momentum, Nesterov, Adam and Lion over a function, or one you "
        "type, and compare their paths.",
        "optimisers, learning rates, convergence and divergence",
        "Watch the steps",
    ),
    Tool(
        "Metrics",
        "Precision, recall, ROC-AUC built threshold by threshold, averaging, annotator "
        "agreement and significance tests on your own numbers.",
        "evaluation, confidence intervals, statistical tests",
        "Compute metrics",
    ),
    Tool(
        "PQ explorer",
        "Compress a classifier's embeddings with product quantization and see what accuracy "
        "and search recall it costs.",
        "vector search, quantization",
        "Quantize vectors",
    ),
    Tool(
        "Results",
        "What each study found: tables with confidence intervals, training curves, example "
        "pictures and conclusions computed from the numbers.",
        "experiment design, reading results",
        "Read the studies",
    ),
    Tool(
        "Training",
        "Launch any experiment from the browser, watch it train, compare runs and sweep "
        "hyper-parameters; a trained image model joins the Classifier's list.",
        "training loops, regularisation, hyper-parameter search",
        "Train a model",
    ),
)

CONNECTIONS = (
    "**How they connect:** a finished run in *Training* has buttons that open its model in the "
    "*Classifier* (image runs) and make its page in *Results*; the *Classifier*'s digits model "
    "opens its embeddings in the *PQ explorer*."
)


def build(tabs: gr.Tabs) -> None:
    gr.Markdown(
        f"{len(TOOLS)} working tools for a deep-learning course. Pick one to start: everything "
        "runs in this page, nothing to install.",
        elem_id="home-intro",
    )
    for tool in TOOLS:
        with gr.Row(elem_classes=["home-tool"]):
            gr.Markdown(f"**{tool.title}**: {tool.does}  \n*Topics:* {tool.topics}.")
            button = gr.Button(tool.start, size="sm", scale=0, min_width=160)
        button.click(  # the tool opens at its top, not where this button was
            lambda title=tool.title: gr.Tabs(selected=title),
            None,
            tabs,
            js="() => { window.scrollTo({top: 0}); }",
        )
    gr.Markdown(CONNECTIONS, elem_id="home-connections")
