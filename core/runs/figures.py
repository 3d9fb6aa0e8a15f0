"""Plotly figures of runs: learning curves and sweep heat maps (no UI code, usable anywhere)."""

import pandas as pd
import plotly.graph_objects as go

_DASH = {"train": "solid", "val": "dot", "test": "dash"}


def curves_figure(
    histories: dict[str, pd.DataFrame],
    quantity: str,
    splits: tuple[str, ...] = ("train", "val", "test"),
) -> go.Figure:
    """One line per (run, split) of `{split}_{quantity}` against the epoch.

    `histories` maps a run label to its per-epoch metrics table (`RunStore.metrics`).
    """
    figure = go.Figure()
    for label, history in histories.items():
        for split in splits:
            column = f"{split}_{quantity}"
            if column in history:
                figure.add_trace(
                    go.Scatter(
                        x=history["epoch"],
                        y=history[column],
                        mode="lines+markers",
                        name=f"{label} {split}",
                        line={"dash": _DASH.get(split, "solid")},
                    )
                )
    figure.update_layout(
        title=quantity.replace("_", " "),
        xaxis_title="epoch",
        yaxis_title=quantity,
        height=340,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"font": {"size": 10}},
    )
    return figure


def sweep_figure(results: pd.DataFrame, keys: list[str], value: str) -> go.Figure:
    """A heat map of `value` over a two-key sweep, or bars over a one-key sweep."""
    done = results[results["status"] == "done"]
    if len(keys) == 2:
        grid = done.pivot_table(index=keys[0], columns=keys[1], values=value)
        figure = go.Figure(
            go.Heatmap(
                z=grid.to_numpy(),
                x=[str(c) for c in grid.columns],
                y=[str(i) for i in grid.index],
                text=grid.round(4).to_numpy(),
                texttemplate="%{text}",
                colorscale="Viridis",
            )
        )
        figure.update_layout(xaxis_title=keys[1], yaxis_title=keys[0])
    else:
        figure = go.Figure(
            go.Bar(
                x=done[keys[0]].astype(str),
                y=done[value],
                text=done[value].round(4),
                textposition="outside",
            )
        )
        figure.update_layout(xaxis_title=keys[0], yaxis_title=value)
    figure.update_layout(
        title=value.replace("_", " "), height=340, margin={"l": 60, "r": 10, "t": 40, "b": 40}
    )
    return figure
