"""What the Gradient descent tab shows: figures, the trajectory table and the summary text.

No UI code: `view(...)` takes the tab's control values and returns plain objects (a plotly
figure, a pandas table, Markdown), so the tab stays a layout and the same views can be built
from Python or a notebook.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import sympy as sp

from core.descent.expressions import ParsedFunction, parse_function
from core.descent.methods import DEFAULT_START, METHODS, PRESETS, Trajectory, descend

CUSTOM = "custom"
CUSTOM_RANGE = (-3.0, 3.0)
CUSTOM_LR = 0.05
GRID = 90  # contour resolution per axis
MAX_LABELS = 25  # about this many numbered points on a path
COLORS = {
    "gd": "#1f77b4",
    "momentum": "#ff7f0e",
    "nesterov": "#2ca02c",
    "adam": "#d62728",
    "lion": "#9467bd",
}


@dataclass(frozen=True)
class Subject:
    """The function being minimised, where to look at it, and where its points must stay."""

    function: ParsedFunction
    ranges: tuple[tuple[float, float], ...]
    box: tuple[tuple[float, float], ...] | None
    note: str
    start: tuple[float, ...]
    lr: float


def resolve(key: str, text: str = "") -> Subject:
    """A preset by key, or (key "custom") the user's function text; ValueError when refused."""
    if key == CUSTOM:
        function = parse_function(text)
        dim = function.dim
        return Subject(function, (CUSTOM_RANGE,) * dim, None, "", (DEFAULT_START,) * dim, CUSTOM_LR)
    if key not in PRESETS:
        raise ValueError(f"unknown function {key!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[key]
    return Subject(preset.function(), preset.ranges, preset.box, preset.note, preset.x0, preset.lr)


def run_method(
    subject: Subject,
    method: str,
    lr: float,
    momentum: float,
    eps: float,
    start: Sequence[float],
    max_steps: int,
) -> Trajectory:
    """One method from `start` (extra coordinates are ignored for a function of x alone)."""
    return descend(
        subject.function,
        list(start)[: subject.function.dim],
        method,
        lr,
        momentum,
        eps,
        int(max_steps),
        box=subject.box,
    )


# --- figures ---


def _plot_ranges(subject: Subject, runs: Sequence[Trajectory]) -> list[tuple[float, float]]:
    """The subject's ranges, widened to show the paths, at most 4x wider (runaway paths)."""
    ranges = []
    for axis, (low, high) in enumerate(subject.ranges):
        coordinates = np.concatenate([run.points[:, axis] for run in runs])
        width = high - low
        low = max(min(low, coordinates.min()), low - 1.5 * width)
        high = min(max(high, coordinates.max()), high + 1.5 * width)
        margin = 0.03 * (high - low)
        ranges.append((low - margin, high + margin))
    return ranges


def _labels(count: int) -> list[str]:
    """Step numbers: the first ten, then every few so that about MAX_LABELS show, and the last."""
    every = int(np.ceil(count / MAX_LABELS))
    return [str(k) if k < 10 or k % every == 0 or k == count - 1 else "" for k in range(count)]


def path_figure(subject: Subject, runs: Sequence[Trajectory], step: int | None = None) -> go.Figure:
    """The function (a curve, or contours for x, y) with each run's numbered steps.

    With one run and `step`, points up to `step` are drawn solid, the rest faint, and step
    `step` is marked with its gradient (the tangent in 1-D, the descent direction in 2-D).
    """
    figure = go.Figure()
    ranges = _plot_ranges(subject, runs)
    if subject.function.dim == 1:
        _curve(figure, subject.function, ranges[0])
    else:
        _contours(figure, subject.function, ranges)
    for run in runs:
        shown = len(run.points) if step is None else min(step, run.steps) + 1
        _path(figure, subject.function.dim, run, shown, faint=False)
        if shown < len(run.points):
            _path(figure, subject.function.dim, run, len(run.points), faint=True)
    if len(runs) == 1 and step is not None:
        _mark_step(figure, subject.function, runs[0], min(step, runs[0].steps), ranges)
    names = subject.function.variables
    figure.update_layout(
        height=460,
        margin={"l": 50, "r": 10, "t": 30, "b": 40},
        xaxis={"title": names[0], "range": ranges[0]},
        yaxis={"title": names[1] if len(names) > 1 else "f(x)"},
        legend={"orientation": "h", "y": -0.15},
    )
    if len(names) > 1:
        figure.update_yaxes(range=ranges[1])
    else:
        figure.update_yaxes(range=_value_range(subject.function, ranges[0], runs))
    return figure


def _curve(figure: go.Figure, function: ParsedFunction, x_range: tuple[float, float]) -> None:
    xs = np.linspace(*x_range, 400)
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=function.on_grid(xs),
            mode="lines",
            name="f(x)",
            line={"color": "#888", "width": 2},
        )
    )


def _value_range(
    function: ParsedFunction, x_range: tuple[float, float], runs: Sequence[Trajectory]
) -> list[float]:
    values = function.on_grid(np.linspace(*x_range, 400))
    values = np.concatenate([values[np.isfinite(values)], *(run.values for run in runs)])
    low, high = np.percentile(values, [0, 98]) if len(values) else (0.0, 1.0)
    margin = 0.06 * (high - low or 1.0)
    return [float(low - margin), float(high + margin)]


def _contours(figure: go.Figure, function: ParsedFunction, ranges: list) -> None:
    xs, ys = (np.linspace(low, high, GRID) for low, high in ranges)
    values = function.on_grid(*np.meshgrid(xs, ys))
    finite = values[np.isfinite(values)]
    floor = finite.min() if finite.size else 0.0
    figure.add_trace(
        go.Contour(
            x=xs,
            y=ys,
            z=np.log1p(np.clip(values - floor, 0, 1e12)),  # log scale: valleys stay visible
            customdata=values,
            hovertemplate="x %{x:.3g}, y %{y:.3g}<br>f %{customdata:.4g}<extra></extra>",
            colorscale="Viridis",
            ncontours=30,
            showscale=False,
            name="f(x, y)",
        )
    )


def _path(figure: go.Figure, dim: int, run: Trajectory, shown: int, faint: bool) -> None:
    points = run.points[:shown]
    xs, ys = (points[:, 0], points[:, 1]) if dim == 2 else (points[:, 0], run.values[:shown])
    color = COLORS[run.method]
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers" if faint else "lines+markers+text",
            text=None if faint else _labels(len(run.points))[:shown],
            textposition="top right",
            textfont={"color": color, "size": 12},
            marker={"color": color, "size": 5 if faint else 8},
            line={"color": color, "width": 1 if faint else 2},
            opacity=0.25 if faint else 1.0,
            name=METHODS[run.method].label + (" (later steps)" if faint else ""),
            showlegend=not faint,
            customdata=np.arange(len(points)),
            hovertemplate="step %{customdata}<br>(%{x:.4g}, %{y:.4g})<extra></extra>",
        )
    )


def _mark_step(
    figure: go.Figure, function: ParsedFunction, run: Trajectory, k: int, ranges: list
) -> None:
    point, gradient = run.points[k], run.gradients[k]
    if function.dim == 1:  # the tangent: its slope is the derivative the step follows
        width = 0.15 * (ranges[0][1] - ranges[0][0])
        xs = np.array([point[0] - width, point[0] + width])
        ys = run.values[k] + gradient[0] * (xs - point[0])
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=f"tangent at step {k}",
                line={"color": "black", "dash": "dash"},
            )
        )
        y = run.values[k]
    else:  # the direction of steepest descent, scaled to a tenth of the plot
        norm = np.linalg.norm(gradient)
        if norm > 0:
            arrow = -gradient / norm * 0.1 * (ranges[0][1] - ranges[0][0])
            figure.add_annotation(
                x=point[0] + arrow[0],
                y=point[1] + arrow[1],
                ax=point[0],
                ay=point[1],
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=3,
                arrowwidth=2,
                arrowcolor="white",
            )
        y = point[1]
    figure.add_trace(
        go.Scatter(
            x=[point[0]],
            y=[y],
            mode="markers",
            name=f"step {k}",
            marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"width": 3, "color": "crimson"}},
        )
    )


# --- tables and text ---


def trajectory_table(function: ParsedFunction, run: Trajectory) -> pd.DataFrame:
    """One row per point: step, coordinates, f, gradient, and the length of the step to it."""
    columns = {"step": np.arange(len(run.points))}
    for axis, name in enumerate(function.variables):
        columns[name] = run.points[:, axis]
    columns["f"] = run.values
    for axis, name in enumerate(function.variables):
        columns[f"df/d{name}"] = run.gradients[:, axis]
    columns["step size"] = np.concatenate([[0.0], run.step_sizes])
    return pd.DataFrame(columns).round(8)


def comparison_table(runs: Sequence[Trajectory]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "method": METHODS[run.method].label,
                "steps": run.steps,
                "stopped by": run.stopped_by,
                "x_min": ", ".join(f"{value:.5g}" for value in run.x_min),
                "f_min": round(run.f_min, 8),
            }
            for run in runs
        ]
    )


def summary_markdown(subject: Subject, run: Trajectory, eps: float) -> str:
    """What was minimised, where it stopped and why; the divergence hint when there is one."""
    function = subject.function
    names = ", ".join(function.variables)
    derivatives = ", ".join(
        f"$\\partial f/\\partial {name} = {sp.latex(derivative)}$"
        for name, derivative in zip(function.variables, function.derivatives, strict=True)
    )
    point = ", ".join(f"{value:.6g}" for value in run.x_min)
    why = {
        "eps": f"|f(x_k) - f(x_k-1)| < ε = {eps:.0e}",
        "max_steps": "the step limit (raise it, or ε, to let it finish)",
        "diverged": "divergence",
    }[run.stopped_by]
    lines = [
        f"**f({names}) = ${function.latex()}$**, gradient: {derivatives}",
        f"**{METHODS[run.method].label}**, lr {run.lr:g}: **{run.steps} steps**, stopped by "
        f"**{run.stopped_by}** ({why}). Lowest point: **({point})**, f = **{run.f_min:.8g}**.",
    ]
    if subject.note:
        lines.append(subject.note)
    if run.hint:
        lines.append(f"⚠️ **Why did it diverge?** {run.hint}")
    return "\n\n".join(lines)
