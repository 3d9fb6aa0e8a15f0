"""Plotly figures of the metrics calculator (no UI code: a notebook can show the same)."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.metrics.averaging import AveragingReport
from core.metrics.imbalance import invariant_metrics, metric_columns
from core.metrics.roc import WorkedRoc

MARGIN = {"l": 50, "r": 10, "t": 40, "b": 40}


def imbalance_figure(table: pd.DataFrame) -> go.Figure:
    """Every metric against the positive share (log scale, 50 % on the left); invariant ones
    dashed, and the no-skill baselines dotted."""
    figure = go.Figure()
    stay = set(invariant_metrics(table))
    for name in metric_columns(table):
        figure.add_trace(
            go.Scatter(
                x=table["share"],
                y=table[name],
                mode="lines+markers",
                name=name + (" (flat)" if name in stay else ""),
                line={"dash": "dash" if name in stay else "solid"},
            )
        )
    for name, label in (
        ("always_negative_accuracy", "accuracy of 'always 0'"),
        ("random_pr_auc", "PR-AUC of a random ranking"),
    ):
        figure.add_trace(
            go.Scatter(
                x=table["share"], y=table[name], mode="lines", name=label, line={"dash": "dot"}
            )
        )
    figure.update_xaxes(
        type="log",
        autorange="reversed",
        title="share of positives",
        tickvals=table["share"],
        tickformat=".1%",
    )
    figure.update_layout(
        title="Same classifier, rarer positives",
        yaxis_title="metric value",
        height=460,
        margin=MARGIN,
    )
    return figure


def fbeta_figure(curve: pd.DataFrame, beta: float) -> go.Figure:
    """Precision, recall and F_beta against the threshold, the best F_beta marked."""
    figure = go.Figure()
    for name in ("precision", "recall", "f_beta"):
        figure.add_trace(
            go.Scatter(
                x=curve["threshold"],
                y=curve[name],
                mode="lines",
                name=f"F{beta:g}" if name == "f_beta" else name,
                line={"width": 3 if name == "f_beta" else 2},
            )
        )
    best = curve.loc[curve["f_beta"].idxmax()]
    figure.add_vline(
        x=best["threshold"],
        line_dash="dot",
        annotation_text=f"best F{beta:g} = {best['f_beta']:.3f} at {best['threshold']:.3f}",
    )
    figure.update_layout(
        title=f"Precision, recall and F{beta:g} over thresholds (predict 1 when score >= t)",
        xaxis_title="threshold t",
        yaxis_title="value",
        yaxis_range=[0, 1.05],
        height=420,
        margin=MARGIN,
    )
    return figure


def roc_figure(worked: WorkedRoc) -> go.Figure:
    """The ROC polyline built one threshold at a time: the slider below adds a step, and the
    shaded area is the sum of the trapezoids so far."""
    steps = worked.steps
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "gray"}
        )
    )
    for k in range(len(steps)):
        shown = steps.iloc[: k + 1]
        labels = ["start"] + [f"t={t:g}" for t in shown["threshold"].iloc[1:]]
        figure.add_trace(
            go.Scatter(
                x=shown["fpr"],
                y=shown["tpr"],
                mode="lines+markers+text",
                text=labels,
                textposition="top center",
                fill="tozeroy",
                name=f"area so far {shown['area'].sum():.4f}",
                visible=k == len(steps) - 1,
            )
        )
    sliders = [
        {
            "active": len(steps) - 1,
            "currentvalue": {"prefix": "threshold step "},
            "steps": [
                {
                    "label": str(k),
                    "method": "update",
                    "args": [
                        {"visible": [True] + [j == k for j in range(len(steps))]},
                        {"title": f"Step {k}: area so far {steps['area'].iloc[: k + 1].sum():.4f}"},
                    ],
                }
                for k in range(len(steps))
            ],
        }
    ]
    figure.update_layout(
        title=f"ROC curve, area {worked.auc_trapezoid:.4f}",
        xaxis_title="false positive rate (FPR)",
        yaxis_title="true positive rate (TPR)",
        xaxis_range=[-0.08, 1.08],
        yaxis_range=[-0.04, 1.1],
        sliders=sliders,
        height=520,
        margin={**MARGIN, "b": 90},
        showlegend=False,
    )
    return figure


def averaging_figure(report: AveragingReport) -> go.Figure:
    """Per-class precision, recall and F1 next to their micro, macro and weighted averages."""
    figure = go.Figure()
    per_class, averages = report.per_class, report.averages.set_index("quantity")
    groups = [*map(str, per_class["class"]), "micro", "macro", "weighted"]
    for quantity in ("precision", "recall", "f1"):
        values = [*per_class[quantity], *averages.loc[quantity, ["micro", "macro", "weighted"]]]
        figure.add_trace(go.Bar(x=groups, y=values, name=quantity))
    figure.add_vline(x=len(per_class) - 0.5, line_dash="dot")
    figure.update_layout(
        barmode="group",
        title="Per class (left) and averaged (right)",
        yaxis_range=[0, 1.05],
        height=380,
        margin=MARGIN,
    )
    return figure


def page_figure(details: pd.DataFrame) -> go.Figure:
    """Where on the page the user reads and where they are satisfied."""
    labels = [f"{r}. {t}" for r, t in zip(details["rank"], details["type"], strict=True)]
    figure = go.Figure(
        [
            go.Bar(x=labels, y=details["p_read"], name="P(read)"),
            go.Bar(x=labels, y=details["p_satisfied_here"], name="P(satisfied here)"),
        ]
    )
    figure.update_layout(barmode="group", height=360, margin=MARGIN, yaxis_range=[0, 1.05])
    return figure


def differences_figure(units: pd.DataFrame, unit: str) -> go.Figure:
    """Each unit's difference A - B (its share of the nDCG difference), green where A wins."""
    x = (
        units["rank"]
        if unit == "position" and units["query"].nunique() == 1
        else np.arange(1, len(units) + 1)
    )
    figure = go.Figure(
        go.Bar(
            x=x,
            y=units["d"],
            marker_color=np.where(
                units["d"] > 0, "#2a9d8f", np.where(units["d"] < 0, "#e76f51", "#999")
            ),
        )
    )
    figure.update_layout(
        title=f"Difference A - B per {unit} (sum = nDCG difference {units['d'].sum():+.4f})",
        xaxis_title=unit,
        yaxis_title="d",
        height=340,
        margin=MARGIN,
    )
    return figure


def workers_figure(honeypots: pd.DataFrame, ds_accuracy: pd.Series) -> go.Figure:
    """Each worker's accuracy on the honeypots (with its Wilson interval) and as Dawid-Skene
    estimates it without any gold."""
    figure = go.Figure(
        [
            go.Bar(
                x=honeypots["worker"],
                y=honeypots["accuracy"],
                name="honeypot accuracy",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": honeypots["wilson_high"] - honeypots["accuracy"],
                    "arrayminus": honeypots["accuracy"] - honeypots["wilson_low"],
                },
            ),
            go.Bar(
                x=honeypots["worker"],
                y=ds_accuracy.reindex(honeypots["worker"]).to_numpy(),
                name="Dawid-Skene estimate",
            ),
        ]
    )
    figure.update_layout(barmode="group", height=360, margin=MARGIN, yaxis_range=[0, 1.05])
    return figure
