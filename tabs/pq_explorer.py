"""PQ explorer tab: product quantization of the model's embeddings, and the optimal M = D case."""

import math
from dataclasses import dataclass

import gradio as gr
import numpy as np

from core.embeddings import list_embedding_sets, load_embedding_set
from core.pq import view
from core.pq.evaluate import (
    GAUSSIAN_MIXTURE,
    MAX_BITS,
    VectorInputError,
    compare_at_equal_bits,
    divisors,
    evaluate,
    mse_curves,
    named_vectors,
    read_uploaded_vectors,
)
from core.pq.product import METHODS, ProductQuantizer
from tabs.fold import developer_fold

TITLE = "PQ explorer"
TOOL = "pq_explorer"  # its runtime statement's key in core.hosting.runtime
UPLOAD = "upload"
FIRST = "fashion-lite0"

WHY = """
**Why PQ wins at equal bits.** With M = D every component gets its own levels, so the
reconstructions form a grid: the product of D one-dimensional level sets. With 2 bits per
component that grid has 4^64 points in 64-D, but it cannot bend to the data: a Gaussian
mixture's clusters sit on the grid's diagonals, and most grid points lie where no vector is.
PQ with M = 16 spends the same 128 bits as 16 codes of 8 bits, and each code picks one of 256
centroids that k-means placed *jointly* in a 4-D sub-space, where the vectors actually are:
correlations and clusters inside a sub-space are captured. Even the exactly optimal per-component
thresholds cannot recover what quantizing components independently throws away. Measured on
`gaussian-mixture` (16 clusters, 64-D, 2,000 vectors), 128 bits: optimal M = D 0.79 against
PQ M = 16 0.21 MSE per component in-sample (0.36 held out: 256 centroids from 1,600 training
vectors overfit). Choose it above and press *Compare* to see it live.
"""


def set_choices() -> list[tuple[str, str]]:
    shipped = [(f"{name} (model embeddings)", name) for name in list_embedding_sets()]
    return [
        *shipped,
        ("gaussian-mixture (synthetic, 16 clusters, 64-D)", GAUSSIAN_MIXTURE),
        ("your uploaded .npy", UPLOAD),
    ]


def vectors_of(source: str, upload: str | None) -> np.ndarray:
    """The chosen set: a shipped one by name, or the visitor's upload."""
    try:
        return read_uploaded_vectors(upload) if source == UPLOAD else named_vectors(source)
    except VectorInputError as error:
        raise gr.Error(str(error)) from None


def describe(source: str, vectors: np.ndarray) -> str:
    count, dim = vectors.shape
    text = f"**{count} vectors x {dim} dims.** M can be {', '.join(map(str, divisors(dim)))}."
    if source in list_embedding_sets():
        card = load_embedding_set(source)[1]
        text += (
            f" From the shipped `{card.model}` model's layer `{card.layer}` over "
            f"{card.dataset} ({card.reduction}). {card.why}\n\n"
            + developer_fold(f"Rebuild: `{card.build_command}`")
        )
    return text


def per_vector_choices(dim: int) -> list[int]:
    """Bits per vector that M = D spends with 1, 2, 4 and 8 bits per component."""
    return [dim * b for b in (1, 2, 4, 8)]


def first_m(dim: int) -> int:
    """The M a set opens with: real product quantization (sub-spaces of 4 dimensions, or 2),
    not M = D, which quantizes every component on its own."""
    return next(m for m in (dim // 4, dim // 2, dim) if m >= 1 and dim % m == 0)


def controls_for(source: str, vectors: np.ndarray):
    """Describe the chosen set, fit the controls to its dimension, forget the last fit."""
    dim = vectors.shape[1]
    choices = per_vector_choices(dim)
    return (
        describe(source, vectors),
        first_m(dim),
        _part_slider(dim),
        gr.update(choices=choices, value=choices[1]),
        None,
    )


def choose_set(source: str, upload: str | None):
    if source == UPLOAD and upload is None:
        gr.Warning("Upload a .npy file below to use it.")
        return (gr.skip(),) * 5
    return controls_for(source, vectors_of(source, upload))


def uploaded(upload: str | None):
    """A valid upload becomes the chosen set; a bad one is dropped with a message."""
    if upload is None:
        return (gr.skip(),) * 7
    try:
        vectors = read_uploaded_vectors(upload)
    except VectorInputError as error:
        gr.Warning(str(error))
        return None, *(gr.skip(),) * 6
    return gr.skip(), UPLOAD, *controls_for(UPLOAD, vectors)


def quantize(source: str, upload: str | None, m: float, bits: float, method: str):
    """Fit and measure one quantizer; its figure shows the first component or sub-space."""
    vectors = vectors_of(source, upload)
    try:
        evaluation = evaluate(vectors, _whole(m, "M"), _whole(bits, "bits per code"), method)
    except VectorInputError as error:
        raise gr.Error(str(error)) from None
    figure = _part_figure(vectors, evaluation.quantizer, 0)
    slider = _part_slider(evaluation.m)
    return view.evaluation_markdown(evaluation), figure, slider, evaluation.quantizer


def show_part(
    source: str, upload: str | None, quantizer: ProductQuantizer | None, part: float | None
):
    """The fitted quantizer's figure for one component or sub-space (none before a fit, or
    when the chosen set has changed under it)."""
    vectors = vectors_of(source, upload)
    if quantizer is None or part is None or quantizer.dim != vectors.shape[1]:
        return gr.skip()
    return _part_figure(vectors, quantizer, min(max(int(part), 0), quantizer.m - 1))


def curves(source: str, upload: str | None):
    rows = mse_curves(vectors_of(source, upload))
    return view.curves_figure(rows), gr.Dataframe(view.curves_table(rows), visible=True)


def compare(source: str, upload: str | None, bits_per_vector: float):
    try:
        bits = _whole(bits_per_vector, "bits per vector")
        rows = compare_at_equal_bits(vectors_of(source, upload), bits)
    except VectorInputError as error:
        raise gr.Error(str(error)) from None
    return view.comparison_markdown(rows), gr.Dataframe(view.comparison_table(rows), visible=True)


def _part_slider(parts: int):
    """The part slider over `parts` components or sub-spaces; a slider needs a range, so with
    one part it spans 0-1 and is locked at 0."""
    return gr.update(maximum=max(parts - 1, 1), value=0, interactive=parts > 1)


def _whole(value: float | None, name: str) -> int:
    """A control's value as a whole number, or a plain refusal (blank, fractional, infinite)."""
    if value is None or not math.isfinite(value) or value != int(value):
        raise gr.Error(f"{name} must be a whole number, not {value}")
    return int(value)


def _part_figure(vectors: np.ndarray, quantizer: ProductQuantizer, part: int):
    if quantizer.sub_dim == 1:
        return view.component_figure(vectors, quantizer, part)
    return view.subspace_figure(vectors, quantizer, part)


def _table(label: str, elem_id: str) -> gr.Dataframe:
    """A results table, shown with its first result (empty, it would show placeholder headers)."""
    return gr.Dataframe(label=label, interactive=False, visible=False, elem_id=elem_id)


@dataclass(frozen=True)
class PQEntrance:
    """What a link into this tab fills: the chosen set; `choose_set` then fits the settings."""

    source: gr.Dropdown
    upload: gr.File
    settings: list[gr.components.Component]


def build() -> PQEntrance:
    gr.Markdown(
        "Compress vectors with product quantization: split the D dimensions into M sub-spaces "
        "and store, for each, the index of the nearest of K = 2^bits centroids. M = D is the "
        "extreme case where every component is quantized on its own, with thresholds that are "
        "exactly optimal (dynamic programming), found by Lloyd-Max iteration, or uniform. The "
        "quantizer is fitted on 80 % of the vectors and its MSE measured on the other 20 % too; "
        "recall@10 compares asymmetric-distance search over the codes with exact search."
    )
    first = named_vectors(FIRST)
    first_dim = first.shape[1]
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            source = gr.Dropdown(set_choices(), value=FIRST, label="Vectors", elem_id="pq-source")
            upload = gr.File(
                label="Or upload a .npy file: a 2-D float array, one vector per row",
                file_types=[".npy"],
                type="filepath",
                elem_id="pq-upload",
            )
            info = gr.Markdown(describe(FIRST, first), elem_id="pq-source-info")
            m = gr.Number(
                first_m(first_dim),
                precision=0,
                label="M, the number of sub-spaces (M = D: each component on its own)",
                elem_id="pq-m",
            )
            bits = gr.Slider(
                1, MAX_BITS, value=8, step=1, label="bits per code (K = 2^bits)", elem_id="pq-bits"
            )
            method = gr.Radio(
                list(METHODS),
                value="kmeans",
                label="How codebooks are found (optimal, lloyd, uniform need M = D)",
                elem_id="pq-method",
            )
            run = gr.Button("Quantize", variant="primary", elem_id="pq-run")
        with gr.Column(scale=2):
            metrics = gr.Markdown("Choose M and bits, then press *Quantize*.", elem_id="pq-metrics")
            plot = gr.Plot(label="Component or sub-space", elem_id="pq-plot")
            part = gr.Slider(
                0,
                first_dim - 1,
                value=0,
                step=1,
                label="component / sub-space shown",
                elem_id="pq-part",
            )
    fitted = gr.State(None)
    with gr.Accordion("MSE against bits: uniform, Lloyd-Max and optimal (M = D)", open=True):
        curves_button = gr.Button("Draw MSE against bits 1-8", elem_id="pq-curves-run")
        curves_plot = gr.Plot(label="MSE against bits", elem_id="pq-curves")
        curves_frame = _table("MSE per component", "pq-curves-table")
    with gr.Accordion("PQ (M < D) against the optimal M = D quantizer at equal bits", open=True):
        gr.Markdown(WHY, elem_id="pq-why")
        with gr.Row():
            per_vector = gr.Dropdown(
                per_vector_choices(first_dim),
                value=2 * first_dim,
                label="bits per vector",
                elem_id="pq-bits-per-vector",
            )
            compare_button = gr.Button("Compare", elem_id="pq-compare-run")
        verdict = gr.Markdown(elem_id="pq-verdict")
        compared = _table("At equal bits", "pq-compare-table")

    chosen = [source, upload]
    setting_outputs = [info, m, part, per_vector, fitted]
    source.input(choose_set, chosen, setting_outputs, api_name="pq_choose_set")  # a user's choice
    upload.upload(uploaded, upload, [upload, source, *setting_outputs], api_name="pq_upload")
    run.click(
        quantize, [*chosen, m, bits, method], [metrics, plot, part, fitted], api_name="pq_quantize"
    )
    part.release(show_part, [*chosen, fitted, part], plot, api_name="pq_show_part")
    curves_button.click(curves, chosen, [curves_plot, curves_frame], api_name="pq_curves")
    compare_button.click(compare, [*chosen, per_vector], [verdict, compared], api_name="pq_compare")
    return PQEntrance(source, upload, setting_outputs)
