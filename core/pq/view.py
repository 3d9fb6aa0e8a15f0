"""What the PQ explorer draws: plotly figures and tables, no UI code (usable from a notebook)."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.pq.evaluate import Evaluation
from core.pq.product import ProductQuantizer
from core.pq.scalar import thresholds

METHOD_COLORS = {"optimal": "#2ca02c", "lloyd": "#1f77b4", "uniform": "#ff7f0e"}
HISTOGRAM_BINS = 80
SCATTER_POINTS = 2000  # at most this many vectors in a sub-space scatter
LAYOUT = {"height": 380, "margin": {"l": 55, "r": 10, "t": 45, "b": 45}}


def component_figure(values: np.ndarray, quantizer: ProductQuantizer, component: int) -> go.Figure:
    """M = D: one component's value histogram with its thresholds (dotted) and levels (▲)."""
    levels = np.unique(quantizer.codebooks[component, :, 0])
    cuts = thresholds(levels)
    column = values[:, component]
    counts, _ = np.histogram(column, bins=HISTOGRAM_BINS)
    top = counts.max() * 1.05
    figure = go.Figure(
        go.Histogram(x=column, nbinsx=HISTOGRAM_BINS, name="values", marker_color="#c7c7c7")
    )
    figure.add_trace(
        go.Scatter(
            x=np.repeat(cuts, 3),
            y=np.tile([0.0, top, np.nan], cuts.size),
            mode="lines",
            line={"dash": "dot", "width": 1, "color": "#d62728"},
            name=f"thresholds ({cuts.size})",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=levels,
            y=np.zeros_like(levels),
            mode="markers",
            marker={"symbol": "triangle-up", "size": 9, "color": "#1f77b4"},
            name=f"levels ({levels.size})",
        )
    )
    figure.update_layout(
        title=f"Component {component}: {quantizer.method} levels",
        xaxis_title="value",
        yaxis_title="vectors",
        bargap=0.02,
        **LAYOUT,
    )
    return figure


def subspace_figure(values: np.ndarray, quantizer: ProductQuantizer, sub_space: int) -> go.Figure:
    """M < D: the vectors' first two coordinates in one sub-space, with its centroids."""
    part = quantizer.split(values[:SCATTER_POINTS])[sub_space]
    book = quantizer.codebooks[sub_space]
    start = sub_space * quantizer.sub_dim
    axes = (start, start + 1) if quantizer.sub_dim > 1 else (start, start)
    second = 1 if quantizer.sub_dim > 1 else 0
    figure = go.Figure(
        go.Scattergl(
            x=part[:, 0],
            y=part[:, second],
            mode="markers",
            marker={"size": 3, "color": "#9e9e9e"},
            name="vectors",
        )
    )
    figure.add_trace(
        go.Scattergl(
            x=book[:, 0],
            y=book[:, second],
            mode="markers",
            marker={"symbol": "x", "size": 7, "color": "#d62728"},
            name=f"centroids ({quantizer.k})",
        )
    )
    figure.update_layout(
        title=(
            f"Sub-space {sub_space} (dimensions {start}-{start + quantizer.sub_dim - 1}): "
            f"its first two, centroids projected"
        ),
        xaxis_title=f"dimension {axes[0]}",
        yaxis_title=f"dimension {axes[1]}",
        **LAYOUT,
    )
    return figure


def curves_figure(rows: list[dict]) -> go.Figure:
    """MSE against bits per component, one colour per method: in-sample solid, held out dashed."""
    table = pd.DataFrame(rows)
    figure = go.Figure()
    for method, group in table.groupby("method", sort=False):
        for column, dash, label in (
            ("mse_in_sample", "solid", "in-sample"),
            ("mse_held_out", "dash", "held out"),
        ):
            if group[column].notna().any():
                figure.add_trace(
                    go.Scatter(
                        x=group["bits"],
                        y=group[column],
                        mode="lines+markers",
                        name=f"{method} {label}",
                        line={"dash": dash, "color": METHOD_COLORS.get(method)},
                    )
                )
    figure.update_layout(
        title="MSE per component against bits per component (M = D)",
        xaxis_title="bits per component",
        yaxis_title="MSE (log scale)",
        yaxis_type="log",
        **LAYOUT,
    )
    return figure


def curves_table(rows: list[dict]) -> pd.DataFrame:
    """The curves as a table: one row per bits, in-sample / held-out MSE per method."""
    table = pd.DataFrame(rows)
    wide = table.pivot(index="bits", columns="method", values=["mse_in_sample", "mse_held_out"])
    wide.columns = [
        f"{method} {'in-sample' if c == 'mse_in_sample' else 'held out'}"
        for c, method in wide.columns
    ]
    return wide.reset_index().round(6)


def evaluation_markdown(evaluation: Evaluation) -> str:
    """One evaluation's numbers as a short Markdown table."""
    e = evaluation
    held = "n/a" if e.mse_held_out is None else f"{e.mse_held_out:.4g}"
    kind = (
        "M = D: each component on its own" if e.m == e.dim else f"{e.dim // e.m} dims per sub-space"
    )
    rows = [
        ("quantizer", f"{e.method}, M = {e.m} ({kind}), {e.bits} bits per code, K = {2**e.bits}"),
        ("MSE per component, held out", held),
        ("MSE per component, in-sample", f"{e.mse_in_sample:.4g}"),
        ("relative MSE (1 = replace by the mean)", f"{e.relative_mse:.4f}"),
        ("bits per vector", f"{e.bits_per_vector} (float32: {32 * e.dim})"),
        (
            "compression ratio",
            f"{e.compression_ratio:.1f}x (codebooks: {e.codebook_bytes:,} bytes)",
        ),
        (f"recall@10 ({e.count} queries)", f"{e.recall_at_10:.3f}"),
        (
            "fit / encode / search seconds",
            f"{e.fit_seconds:.2f} / {e.encode_seconds:.3f} / {e.search_seconds:.2f}",
        ),
    ]
    body = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return (
        f"Fitted on {e.train_count} of {e.count} vectors ({e.dim}-D), measured on the other "
        f"{e.count - e.train_count}.\n\n| | |\n|---|---|\n{body}"
    )


def comparison_table(evaluations: list[Evaluation]) -> pd.DataFrame:
    """Equal-bits evaluations side by side, best held-out MSE first."""
    rows = [
        {
            "quantizer": f"{e.method}, M = {e.m}, {e.bits} bits",
            "bits/vector": e.bits_per_vector,
            "MSE held out": e.mse,
            "MSE in-sample": e.mse_in_sample,
            "relative MSE": e.relative_mse,
            "recall@10": e.recall_at_10,
            "fit s": e.fit_seconds,
        }
        for e in evaluations
    ]
    return pd.DataFrame(rows).sort_values("MSE held out").round(4).reset_index(drop=True)


def comparison_markdown(evaluations: list[Evaluation]) -> str:
    """The verdict of an equal-bits comparison: best PQ against the optimal M = D quantizer."""
    scalar = next(e for e in evaluations if e.method == "optimal")
    products = [e for e in evaluations if e.m < e.dim]
    if not products:
        return f"No M < D setting spends {scalar.bits_per_vector} bits with 4- or 8-bit codes."
    best = min(products, key=lambda e: e.mse)
    verdict = "beats" if best.mse < scalar.mse else "does not beat"
    return (
        f"At {scalar.bits_per_vector} bits per vector, PQ with M = {best.m} ({best.bits}-bit "
        f"codes) {verdict} the optimal M = D quantizer ({scalar.bits} bits per component): "
        f"held-out MSE {best.mse:.4g} against {scalar.mse:.4g} "
        f"({scalar.mse / best.mse:.2f}x), in-sample {best.mse_in_sample:.4g} against "
        f"{scalar.mse_in_sample:.4g}; recall@10 {best.recall_at_10:.3f} against "
        f"{scalar.recall_at_10:.3f}."
    )
