"""What the Training tab shows: config forms, run tables, status lines and plotly figures.

Plain functions over a `RunStore` (read side only, no UI code), so a notebook or a script can
print the same tables and draw the same learning curves and sweep heat maps. `owners` (from
`core.runs.access.visible_owners`) keeps the runs of those owner keys; None lists everyone's,
with an `owner` column saying whose each run is. Nothing shown names a server path.
"""

import re
import time
from collections.abc import Collection

import pandas as pd
import plotly.graph_objects as go

from core.config import config_fields
from core.experiments import FAMILIES, get_experiment, list_experiments
from core.paths import redact_paths
from core.runs.store import Run, RunStore
from core.runs.sweeps import sweep_results

_DASH = {"train": "solid", "val": "dot", "test": "dash"}  # line style of a split in the curves

RUNS_COLUMNS = [
    "id",
    "name",
    "tags",
    "experiment",
    "settings",  # the values that differ from the experiment's defaults
    "status",
    "progress",
    "metric",
    "final test",
    "sweep",
    "created",
    "time_s",
]
EVERYONES_COLUMNS = [*RUNS_COLUMNS[:3], "owner", *RUNS_COLUMNS[3:]]  # and whose each run is
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def run_label(run: Run) -> str:
    """`#12 loan_exp1`, with the owner's name for the run when they gave one."""
    label = f"#{run.id} {run.experiment}"
    return f"{label} “{run.name}”" if run.name else label


NOT_HERE = "data not here"  # marks an experiment whose data this machine lacks


def experiment_choices() -> list[tuple[str, str]]:
    """(label, name) of every experiment, grouped by family in FAMILIES' order; the label
    names the family and marks experiments that cannot run here."""
    order = list(FAMILIES)
    experiments = sorted(list_experiments(), key=lambda e: order.index(e.family))
    return [
        (
            f"{FAMILIES[e.family].title} · {e.name}"
            + (f" ({NOT_HERE})" if e.missing_data() else ""),
            e.name,
        )
        for e in experiments
    ]


def experiment_text(name: str) -> str:
    """Markdown about an experiment: its family's purpose, its description, and what to
    provide, in full, when its data is not on this machine."""
    experiment = get_experiment(name)
    family = FAMILIES[experiment.family]
    text = f"**{family.title}**: {family.purpose}.\n\n{experiment.description}"
    missing = experiment.missing_data()
    return text + (f"\n\n⚠️ Cannot run here: {missing}" if missing else "")


def config_form(experiment_name: str) -> pd.DataFrame:
    """The experiment's config as editable rows: key, value (as text), help."""
    experiment = get_experiment(experiment_name)
    rows = [
        {
            "key": spec.name,
            "value": str(experiment.defaults.get(spec.name, spec.default)),
            "help": spec.help + (f" ({', '.join(map(str, spec.choices))})" if spec.choices else ""),
        }
        for spec in config_fields(experiment.config_type)
    ]
    return pd.DataFrame(rows, columns=["key", "value", "help"])


def form_values(form: pd.DataFrame) -> dict[str, str]:
    """The key -> value text of an edited config form (blank values mean the empty string)."""
    return {
        str(row["key"]): "" if pd.isna(row["value"]) else str(row["value"]).strip()
        for _, row in form.iterrows()
    }


def runs_table(
    store: RunStore,
    experiment: str | None = None,
    status: str | None = None,
    limit: int = 200,
    owners: Collection[str] | None = None,
    tag: str | None = None,
    archived: bool = False,
) -> pd.DataFrame:
    """Newest runs first: id, name, tags, experiment, its settings (the values that differ from
    the experiment's defaults), status, progress, final headline metric, timing; and the
    owner's name when `owners` is None (everyone's runs). Archived runs are
    left out unless `archived` (then they are listed too). Filtered to one `experiment`, the
    table ends with a column per config key whose value differs among the runs listed."""
    rows = []
    runs = store.list(
        experiment=experiment,
        status=status,
        limit=limit,
        owners=owners,
        tag=tag,
        archived=None if archived else False,
    )
    for run in runs:
        metric = _metric_of(run)
        rows.append(
            {
                "id": run.id,
                "name": run.name + (" (archived)" if run.archived else ""),
                "tags": ", ".join(run.tags),
                "owner": run.owner_name,
                "experiment": run.experiment,
                "settings": _settings(run),
                "status": run.status,
                "progress": f"{run.progress:.0%}",
                "metric": metric,
                "final test": _rounded(store.final_metrics(run.id).get(f"test_{metric}")),
                "sweep": run.sweep_id or "",
                "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.created_at)),
                "time_s": None if run.duration_s is None else round(run.duration_s, 1),
            }
        )
    table = pd.DataFrame(rows, columns=RUNS_COLUMNS if owners is not None else EVERYONES_COLUMNS)
    if experiment and runs:
        configs = pd.DataFrame([{k: str(v) for k, v in run.config.items()} for run in runs])
        varying = [key for key in configs if configs[key].nunique(dropna=False) > 1]
        table = pd.concat([table, configs[varying]], axis=1)
    return table


def summary_table(store: RunStore, run_ids: list[int]) -> pd.DataFrame:
    """Per run: best val metric and its epoch, the test metric there and at the end, time."""
    rows = []
    for run_id in run_ids:
        run = store.get(run_id)
        history = store.metrics(run_id)
        metric = _metric_of(run)
        row = {
            "run": run_label(run),
            "status": run.status,
            "time_s": None if run.duration_s is None else round(run.duration_s, 1),
        }
        if f"val_{metric}" in history and not history.empty:
            best = history.loc[history[f"val_{metric}"].idxmax()]
            row.update(
                {
                    f"best val_{metric}": round(float(best[f"val_{metric}"]), 4),
                    "epoch of best": int(best["epoch"]),
                    f"test_{metric} at best": round(
                        float(best.get(f"test_{metric}", float("nan"))), 4
                    ),
                    f"final test_{metric}": round(float(history[f"test_{metric}"].iloc[-1]), 4),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


BAR_CELLS = 20


def duration_text(seconds: float) -> str:
    """`42 s`, `3 min 05 s`, `1 h 02 min`: a duration as a person reads it."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_line(run: Run, now: float | None = None) -> str:
    """A running run's progress: a bar, the share done, its own message (the epoch), the
    time since it started and, once it is under way, an estimate of the time left (the
    elapsed time scaled by the share still to do)."""
    done = min(max(run.progress, 0.0), 1.0)
    filled = round(done * BAR_CELLS)
    parts = [f"`{'█' * filled}{'░' * (BAR_CELLS - filled)}` {done:.0%}"]
    if run.message:
        parts.append(run.message)
    if run.started_at is not None:
        elapsed = (now or time.time()) - run.started_at
        parts.append(f"{duration_text(elapsed)} elapsed")
        if 0.02 <= done < 1:
            parts.append(f"about {duration_text(elapsed * (1 - done) / done)} left")
    return " · ".join(parts)


def status_text(store: RunStore, run_id: int) -> str:
    """A one-paragraph Markdown status of a run: state, progress, latest metrics, error (its
    last line, with any server path cut to the file's name)."""
    run = store.get(run_id)
    name = f" “{_markdown_text(run.name)}”" if run.name else ""
    text = f"**Run {run.id}**{name} · `{run.experiment}` · **{run.status}**"
    if run.status == "queued":
        text += f" · {run.message}" if run.message else ""
    elif run.status == "running":
        text += f"\n\n{progress_line(run)}"
    final = store.final_metrics(run.id)
    if final:
        epoch = int(store.metrics(run.id)["epoch"].iloc[-1])
        text += f"\n\nepoch {epoch}: " + " · ".join(
            f"{name} **{value:.4f}**" for name, value in sorted(final.items())
        )
    if run.details.get("device"):
        text += f"\n\ndevice: {run.details['device']}"
    if run.tags:
        text += "\n\ntags: " + ", ".join(f"`{tag}`" for tag in run.tags)
    if run.note:
        text += f"\n\nnote: {_markdown_text(run.note)}"
    if run.archived:
        text += "\n\nArchived: the runs table shows it only with “Show archived”."
    if run.shared:
        text += "\n\nIts model is shared: every visitor can use it in the Classifier tab."
    if run.status == "done":
        text += (
            "\n\nNext: "
            + (
                f"try its model in the **Classifier** tab (`run:{run.id}` in a panel's model list, "
                "after *Refresh list*); "
                if run.trained_image_classifier
                else ""
            )
            + "make a page of it, alone or beside other runs, in **Results** › *Your own study*."
        )
    if run.error and run.error.strip() and run.status != "done":
        text += f"\n\n⚠️ {redact_paths(run.error.strip().splitlines()[-1])}"
    return text


# --- figures ---


def smoothed(values: pd.Series, smoothing: float) -> pd.Series:
    """TensorBoard's smoothing: an exponential moving average with weight `smoothing` on the
    past (0: the values as logged; 0.9: heavily smoothed), debiased at the start."""
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing is a weight from 0 up to (not including) 1, not {smoothing}")
    return values if smoothing == 0 else values.ewm(alpha=1 - smoothing, adjust=True).mean()


def curves_figure(
    histories: dict[str, pd.DataFrame],
    quantity: str,
    splits: tuple[str, ...] = ("train", "val", "test"),
    smoothing: float = 0.0,
    log_y: bool = False,
) -> go.Figure:
    """One line per (run, split) of `{split}_{quantity}` against the epoch, `smoothed` when
    asked, on a log axis when asked (for losses that fall by orders of magnitude).

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
                        y=smoothed(history[column], smoothing),
                        mode="lines+markers",
                        name=f"{label} {split}",
                        line={"dash": _DASH.get(split, "solid")},
                    )
                )
    figure.update_layout(
        title=quantity.replace("_", " ") + (f" (smoothed {smoothing:g})" if smoothing else ""),
        xaxis_title="epoch",
        yaxis_title=quantity,
        yaxis_type="log" if log_y else "linear",
        height=340,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"font": {"size": 10}},
    )
    return figure


def fitted_range(values: list[float], margin: float = 0.25) -> tuple[float, float]:
    """A value axis fitted to the data (a quarter of the spread beyond each end), so that
    0.959 and 0.961 do not look the same on a 0-1 axis."""
    low, high = min(values), max(values)
    spread = (high - low) or abs(high) * 0.01 or 1.0
    return low - margin * spread, high + margin * spread


def sweep_figure(
    results: pd.DataFrame, keys: list[str], value: str, selection: str | None = None
) -> go.Figure:
    """A heat map of `value` over a two-key sweep, or bars over a one-key sweep (with the
    `selection` metric beside them), on an axis fitted to the values, numbers rounded."""
    done = results[results["status"] == "done"]
    if done.empty:
        return go.Figure().update_layout(title="no finished run yet", height=340)
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
        shown = [name for name in (selection, value) if name and name in done]
        figure = go.Figure(
            [
                go.Bar(
                    x=done[keys[0]].astype(str),
                    y=done[name],
                    name=name,
                    text=done[name].round(4),
                    textposition="outside",
                )
                for name in shown
            ]
        )
        values = done[shown].to_numpy().ravel().tolist()
        figure.update_layout(xaxis_title=keys[0], yaxis_title=" / ".join(shown), barmode="group")
        figure.update_yaxes(range=fitted_range(values, margin=0.6))
        figure.update_xaxes(type="category")
    figure.update_layout(
        title=value.replace("_", " "), height=340, margin={"l": 60, "r": 10, "t": 40, "b": 40}
    )
    return figure


OWN_METRIC = "metric"  # `curves`: each run's own experiment metric


def curves(
    store: RunStore,
    run_ids: list[int],
    quantity: str,
    splits: tuple[str, ...] = ("train", "val", "test"),
    smoothing: float = 0.0,
    log_y: bool = False,
) -> go.Figure:
    """Overlaid learning curves of several runs: `quantity` is a logged name ("loss",
    "roc_auc") or OWN_METRIC, each run's own experiment metric (ROC-AUC for loan runs, accuracy
    for image runs), so that runs of any experiment can be compared on what they optimise."""
    runs = [store.get(run_id) for run_id in run_ids]
    if quantity != OWN_METRIC:
        histories = {run_label(run): store.metrics(run.id) for run in runs}
        return curves_figure(histories, quantity, splits, smoothing, log_y)
    histories = {}
    for run in runs:
        metric = _metric_of(run)
        named = {f"{split}_{metric}": f"{split}_{OWN_METRIC}" for split in splits}
        histories[f"{run_label(run)} ({metric})"] = store.metrics(run.id).rename(columns=named)
    figure = curves_figure(histories, OWN_METRIC, splits, smoothing, log_y)
    names = " / ".join(sorted({_metric_of(run) for run in runs}))
    return figure.update_layout(title=names, yaxis_title=names)


def sweep_view(store: RunStore, sweep_id: str) -> tuple[pd.DataFrame, go.Figure, str]:
    """A sweep's results table, its figure (heat map for two keys) and the chosen point."""
    table = sweep_results(store, sweep_id)
    first = store.list(sweep_id=sweep_id, limit=1)[0]
    experiment = get_experiment(first.experiment)
    keys = first.details.get("swept_keys", [])
    figure = sweep_figure(table, keys, f"test_{experiment.metric}", experiment.selection_metric)
    best = table[table["best"]]
    if best.empty:
        choice = "No finished run yet."
    else:
        point = ", ".join(f"{key} = {best[key].iloc[0]}" for key in keys)
        choice = (
            f"Chosen on **{experiment.selection_metric}**: {point} "
            f"({experiment.selection_metric} {best[experiment.selection_metric].iloc[0]:.4f}, "
            f"test_{experiment.metric} {best[f'test_{experiment.metric}'].iloc[0]:.4f})."
        )
    return table.round(4), figure, choice


def sweep_ids(store: RunStore, owners: Collection[str] | None = None) -> list[str]:
    """Sweep ids of the runs of `owners` (None: everyone's), newest first."""
    seen: dict[str, None] = {}
    for run in store.list(limit=2000, owners=owners):
        if run.sweep_id:
            seen.setdefault(run.sweep_id)
    return list(seen)


def _markdown_text(text: str) -> str:
    """`text` shown as typed in Markdown: a run's name is its owner's, and others may see it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _settings(run: Run) -> str:
    """The run's config values that differ from its experiment's defaults, `key=value` each."""
    try:
        changed = get_experiment(run.experiment).changed_values(run.config)
    except KeyError:  # an experiment this version no longer has
        return ""
    return ", ".join(f"{key}={value}" for key, value in changed.items())


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _metric_of(run: Run) -> str:
    try:
        return get_experiment(run.experiment).metric
    except KeyError:  # a run of an experiment that is no longer registered
        return "roc_auc"
