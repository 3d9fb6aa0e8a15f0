"""A study's page, written once and shown twice: in the app's Results tab and as the study's
`reports/*/README.md`, so the two never disagree.

A writer (`core.reports.loan`, ...) returns a `Page`: a title and blocks in reading order.
A block is Markdown text (`str`), a table (`pandas.DataFrame`), a figure described by its
data (`Curves`, `Bars`, `Heatmap`, `Pictures`, `Parallel`), not drawn yet, or a note
`ForDevelopers` (how to regenerate it: plain text in the README, a closed "For developers"
fold in the app).
`to_markdown` writes the README with each figure drawn by matplotlib as a PNG beside it;
`plotly_figure` draws the same figure as an interactive plotly chart for the app.
"""

from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path

import matplotlib.cm
import matplotlib.colors
import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from core.runs.view import fitted_range

DASHES = {"train": "solid", "val": "dot", "test": "dash"}  # a split's line style, in both
MATPLOTLIB_DASHES = {"solid": "-", "dot": ":", "dash": "--"}
COLORS = plotly.colors.qualitative.Plotly


@dataclass(frozen=True)
class Series:
    """One line: its label, x and y values, and its dash (`solid`, `dot`, `dash`). `spread`,
    when given, is a shaded band around it: the lowest and highest y at each x (over seeds)."""

    label: str
    x: list[float]
    y: list[float]
    dash: str = "solid"
    spread: tuple[list[float], list[float]] | None = None


@dataclass(frozen=True)
class Panel:
    title: str
    series: list[Series]


@dataclass(frozen=True)
class Curves:
    """Line charts side by side, sharing the y axis' meaning (e.g. loss per epoch)."""

    name: str  # the PNG's file stem in the README
    title: str
    panels: list[Panel]
    x_label: str = "epoch"
    y_label: str = ""
    log_y: bool = False  # for values that fall by orders of magnitude


@dataclass(frozen=True)
class Bars:
    """Grouped bars: one group of bars per category, one bar per named value list."""

    name: str
    title: str
    categories: list[str]
    values: dict[str, list[float]]
    x_label: str = ""
    y_label: str = ""


@dataclass(frozen=True)
class Heatmap:
    """A grid of values, labelled rows and columns, each cell written out."""

    name: str
    title: str
    rows: list[str]
    columns: list[str]
    values: list[list[float]]
    x_label: str = ""
    y_label: str = ""
    digits: int = 4


@dataclass(frozen=True)
class Pictures:
    """Small pictures in a row, each with a caption; `flagged` captions (e.g. a wrong
    prediction) are drawn in red."""

    name: str
    title: str
    images: list[np.ndarray]  # uint8, H x W grey or H x W x 3 colour
    captions: list[str]
    flagged: list[bool]


@dataclass(frozen=True)
class Parallel:
    """Parallel coordinates: one line per item (e.g. a search's trial) across named axes,
    coloured by a value (e.g. its metric). Each axis is drawn over its own range."""

    name: str
    title: str
    axes: dict[str, list[float]]  # an axis's label -> one value per line
    color: list[float]
    color_label: str


@dataclass(frozen=True)
class ForDevelopers:
    """Markdown for developers (commands, machines): the app keeps it in a closed fold."""

    text: str


FigureBlock = Curves | Bars | Heatmap | Pictures | Parallel
Block = str | pd.DataFrame | ForDevelopers | FigureBlock


@dataclass
class Page:
    """One study's page: a title, then blocks in reading order."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> "Page":
        self.blocks.extend(blocks)
        return self


# --- the README -------------------------------------------------------------------------------


def to_markdown(page: Page, out: Path) -> Path:
    """Write `out/README.md` and one PNG per figure; returns the README's path."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# {page.title}", ""]
    for block in page.blocks:
        if isinstance(block, str):
            lines += [block, ""]
        elif isinstance(block, ForDevelopers):
            lines += [block.text, ""]
        elif isinstance(block, pd.DataFrame):
            lines += [block.to_markdown(index=False), ""]
        else:
            matplotlib_figure(block).savefig(out / f"{block.name}.png", dpi=110)
            lines += [f"![{block.title}]({block.name}.png)", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return path


def matplotlib_figure(block: FigureBlock) -> Figure:
    """The figure drawn for a README (static PNG)."""
    if isinstance(block, Curves):
        figure = Figure(figsize=(max(4 * len(block.panels), 6), 3.2), layout="tight")
        axes = np.atleast_1d(figure.subplots(1, len(block.panels)))
        for axis, panel in zip(axes, block.panels, strict=True):
            for series in panel.series:
                (line,) = axis.plot(
                    series.x, series.y, MATPLOTLIB_DASHES[series.dash], label=series.label
                )
                if series.spread:
                    axis.fill_between(series.x, *series.spread, color=line.get_color(), alpha=0.15)
            axis.set_title(panel.title)
            axis.set_xlabel(block.x_label)
            axis.set_yscale("log" if block.log_y else "linear")
            axis.grid(alpha=0.3)
        axes[0].set_ylabel(block.y_label)
        axes[0].legend()
        return figure
    if isinstance(block, Pictures):
        figure = Figure(figsize=(1.6 * len(block.images), 2.1), layout="tight")
        axes = np.atleast_1d(figure.subplots(1, len(block.images)))
        for axis, image, caption, flagged in zip(
            axes, block.images, block.captions, block.flagged, strict=True
        ):
            axis.imshow(image, cmap="gray" if image.ndim == 2 else None)
            axis.set_title(caption, fontsize=8, color="red" if flagged else "black")
            axis.axis("off")
        return figure
    figure = Figure(figsize=(6.5, 3.6), layout="tight")
    axis = figure.subplots()
    if isinstance(block, Parallel):
        columns = np.array(list(block.axes.values()), dtype=float)  # axes x lines
        low, high = columns.min(axis=1, keepdims=True), columns.max(axis=1, keepdims=True)
        scaled = (columns - low) / np.where(high > low, high - low, 1.0)
        colours = np.array(block.color, dtype=float)
        norm = matplotlib.colors.Normalize(colours.min(), colours.max())
        for line, colour in zip(scaled.T, colours, strict=True):
            axis.plot(range(len(block.axes)), line, color=matplotlib.cm.viridis(norm(colour)))
        axis.set_xticks(range(len(block.axes)), list(block.axes))
        axis.set_yticks([])
        for index, (bottom, top) in enumerate(zip(low[:, 0], high[:, 0], strict=True)):
            axis.text(index, -0.04, f"{bottom:.3g}", ha="center", va="top", fontsize=8)
            axis.text(index, 1.04, f"{top:.3g}", ha="center", va="bottom", fontsize=8)
        axis.set_ylim(-0.15, 1.15)
        mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap="viridis")
        figure.colorbar(mappable, ax=axis, label=block.color_label)
        axis.set_title(block.title)
        return figure
    if isinstance(block, Bars):
        positions = np.arange(len(block.categories))
        width = 0.8 / len(block.values)
        for index, (label, values) in enumerate(block.values.items()):
            offset = (index - (len(block.values) - 1) / 2) * width
            axis.bar(positions + offset, values, width, label=label)
        axis.set_xticks(positions, block.categories)
        axis.set_ylim(*fitted_range([v for vs in block.values.values() for v in vs]))
        axis.legend()
    else:
        grid = np.array(block.values, dtype=float)
        image = axis.imshow(grid, cmap="viridis")
        axis.set_xticks(range(len(block.columns)), block.columns)
        axis.set_yticks(range(len(block.rows)), block.rows)
        middle = (np.nanmax(grid) + np.nanmin(grid)) / 2  # dark text on the light cells
        for (row, column), value in np.ndenumerate(grid):
            colour = "black" if value > middle else "white"
            axis.text(column, row, f"{value:.{block.digits}f}", ha="center", color=colour)
        figure.colorbar(image, ax=axis)
    axis.set_title(block.title)
    axis.set_xlabel(block.x_label)
    axis.set_ylabel(block.y_label)
    return figure


# --- the app ------------------------------------------------------------------------------------


def spread_traces(series: Series, color: str) -> list[go.Scatter]:
    """A shaded band from the series' lowest to its highest values: the highest as an invisible
    line, then the lowest filled up to it."""
    low, high = series.spread
    rgb = plotly.colors.hex_to_rgb(color)
    edge = {"x": series.x, "mode": "lines", "line": {"width": 0}, "hoverinfo": "skip"}
    return [
        go.Scatter(y=high, showlegend=False, legendgroup=series.label, **edge),
        go.Scatter(
            y=low,
            fill="tonexty",
            fillcolor=f"rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, 0.15)",
            showlegend=False,
            legendgroup=series.label,
            **edge,
        ),
    ]


def plotly_figure(block: FigureBlock) -> go.Figure:
    """The figure drawn for the app (interactive)."""
    if isinstance(block, Curves):
        figure = make_subplots(
            rows=1, cols=len(block.panels), subplot_titles=[p.title for p in block.panels]
        )
        labels = list(dict.fromkeys(s.label for p in block.panels for s in p.series))
        colors = dict(zip(labels, cycle(COLORS), strict=False))  # a label's colour in every panel
        for column, panel in enumerate(block.panels, 1):
            for series in panel.series:
                if series.spread:
                    for trace in spread_traces(series, colors[series.label]):
                        figure.add_trace(trace, row=1, col=column)
                figure.add_trace(
                    go.Scatter(
                        x=series.x,
                        y=series.y,
                        name=series.label,
                        legendgroup=series.label,
                        showlegend=column == 1,
                        mode="lines",
                        line={"dash": series.dash, "color": colors[series.label]},
                    ),
                    row=1,
                    col=column,
                )
            figure.update_xaxes(title_text=block.x_label, row=1, col=column)
        figure.update_yaxes(title_text=block.y_label, row=1, col=1)
        figure.update_yaxes(type="log" if block.log_y else "linear")
    elif isinstance(block, Bars):
        figure = go.Figure(
            [
                go.Bar(x=block.categories, y=values, name=label)
                for label, values in block.values.items()
            ]
        )
        figure.update_yaxes(range=fitted_range([v for vs in block.values.values() for v in vs]))
        figure.update_layout(barmode="group", xaxis_title=block.x_label, yaxis_title=block.y_label)
        figure.update_xaxes(type="category")
    elif isinstance(block, Parallel):
        dimensions = [{"label": label, "values": values} for label, values in block.axes.items()]
        line = {
            "color": block.color,
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": {"text": block.color_label}},
        }
        figure = go.Figure(go.Parcoords(line=line, dimensions=dimensions))
    elif isinstance(block, Pictures):
        titles = [caption.replace("\n", "<br>") for caption in block.captions]
        figure = make_subplots(rows=1, cols=len(block.images), subplot_titles=titles)
        for column, image in enumerate(block.images, 1):
            rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
            figure.add_trace(go.Image(z=rgb, hoverinfo="skip"), row=1, col=column)
        for annotation, flagged in zip(figure.layout.annotations, block.flagged, strict=True):
            annotation.font = {"size": 11, "color": "red" if flagged else "black"}
        figure.update_xaxes(visible=False)
        figure.update_yaxes(visible=False)
    else:
        figure = go.Figure(
            go.Heatmap(
                z=block.values,
                x=block.columns,
                y=block.rows,
                colorscale="Viridis",
                texttemplate=f"%{{z:.{block.digits}f}}",
            )
        )
        figure.update_xaxes(type="category", title_text=block.x_label)
        figure.update_yaxes(type="category", title_text=block.y_label)
    figure.update_layout(title=block.title, height=360, margin={"t": 60, "b": 40})
    return figure
