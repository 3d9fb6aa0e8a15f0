"""Metrics calculator: binary metrics with CIs, imbalance, F-beta, a worked ROC-AUC, averaging,
search-quality metrics, labeling quality and a significance test of two search engines.

Every number comes from `core.metrics`; this module lays the parts out as sub-tabs, turns bad
input (a `ValueError` from core) into a message, and fills every part with the result of its
example at build time, so a first visit already shows numbers.
"""

import functools

import gradio as gr
import numpy as np
import pandas as pd

from core.metrics import (
    averaging,
    binary,
    fbeta,
    imbalance,
    inputs,
    labeling,
    page,
    ranking,
    roc,
    significance,
    view,
)
from core.metrics.bootstrap import check_budget
from core.metrics.crowd import simulate_crowd
from core.sharing import heavy
from core.sharing.limits import HostLimits
from tabs import heavy_events
from tabs.fold import developer_fold
from tabs.heavy_events import count_heavy

TITLE = "Metrics"
TOOL = "metrics"  # its runtime statement's key in core.hosting.runtime
LATEX = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]
BINORMAL = "binormal classifier"
OWN_TABLE = "the Binary metrics table"
FBETA_FORMULA = r"""
$$F_\beta = \frac{(1+\beta^2)\,P\,R}{\beta^2 P + R}
= \frac{(1+\beta^2)\,TP}{(1+\beta^2)\,TP + \beta^2 FN + FP}$$

$$\frac{1}{F_\beta} = \frac{1}{1+\beta^2}\cdot\frac{1}{P}
+ \frac{\beta^2}{1+\beta^2}\cdot\frac{1}{R}$$

F-beta is a weighted harmonic mean of precision $P$ and recall $R$ with weight $\beta^2$ on
recall. $\beta$ is the ratio $R/P$ at which a user values one more unit of precision and one
more unit of recall equally (van Rijsbergen): $\beta > 1$ when a missed positive is the costly
error, $\beta < 1$ when a false alarm is. $\beta = 1$ gives F1.
"""


def explained(fn):
    """Run a core call; bad input becomes a gr.Error carrying core's message, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except ValueError as error:
            raise gr.Error(" ".join(str(error).split())) from None

    return wrapper


def bullets(lines: list[str]) -> str:
    """Markdown: a line ending in ':' heads a paragraph, any other line is a bullet."""
    return "\n".join(
        f"\n{line}\n" if line.endswith(":") else line if line.startswith("- ") else f"- {line}"
        for line in lines
    )


def csv_loader(columns: list[str]):
    """An upload handler: the CSV as a table once it has `columns`, else a message."""

    @explained
    def load(path: str | None):
        if path is None:
            return gr.skip()
        table = inputs.read_csv(path, uploaded=True)
        inputs.require_columns(table, columns, "this table")
        return table

    return load


def binary_columns(data: pd.DataFrame):
    inputs.require_columns(data, ["y_true", "y_score"], "the binary metrics")
    y_true, y_score = inputs.binary_labels(data["y_true"]), inputs.scores(data["y_score"])
    inputs.require_both_classes(y_true)
    return y_true, y_score


# --- Binary metrics ---------------------------------------------------------------------------


def binary_outputs(data, threshold, beta, resamples, level, intervals=binary.binary_report):
    """The metrics table and notes; `intervals` computes the report (in the heavy worker when
    the handler is the heavy event)."""
    y_true, y_score = binary_columns(data)
    report = intervals(y_true, y_score, threshold, beta, int(resamples), level)
    c = report.confusion
    counts = (
        f"**{report.n} rows, {report.positives} positive.** At threshold {threshold:g}: "
        f"TP {c.tp:g}, FP {c.fp:g}, FN {c.fn:g}, TN {c.tn:g}."
    )
    return report.table(), "\n\n".join([counts, *report.notes])


@explained
def binary_point_outputs(data, threshold, beta, resamples, level):
    """The light event: every metric at once, without intervals (a bootstrap over the budget
    is refused here); the heavy event that follows adds the intervals."""
    table, notes = binary_outputs(data, threshold, beta, 0, level)
    check_budget(len(data), int(resamples))
    if int(resamples) > 0:
        notes += f"\n\nComputing the intervals ({int(resamples):,} bootstrap resamples) ..."
    return table, notes


@explained
def binary_interval_outputs(data, threshold, beta, resamples, level, request: gr.Request):
    """The heavy event: the bootstrap intervals, computed in the low-priority worker."""
    if int(resamples) == 0:
        return gr.skip(), gr.skip()
    count_heavy(request)
    try:
        return binary_outputs(data, threshold, beta, resamples, level, in_worker)
    except heavy.WorkerStopped as error:
        raise ValueError(str(error)) from None


def in_worker(*args):
    """`binary.binary_report(*args)` in the heavy worker (its arguments are arrays and numbers,
    which pickle)."""
    return heavy.run(binary.binary_report, *args)


def binary_panel() -> gr.Dataframe:
    gr.Markdown(
        "Paste or edit labels (`y_true`: 0/1) and scores (`y_score`), or upload a CSV with those "
        "columns. A row is predicted 1 when its score is >= the threshold. Intervals: percentile "
        "bootstrap over the rows. The same numbers: `dlstudio metrics FILE.csv --json`."
    )
    sample = pd.read_csv(inputs.EXAMPLES_DIR / "scores.csv")
    first = binary_outputs(sample, 0.5, 2.0, 1000, 0.95)
    budget = HostLimits.from_env().bootstrap_budget
    with gr.Row():
        with gr.Column(scale=2):
            table = gr.Dataframe(
                sample,
                label="y_true, y_score",
                interactive=True,
                max_height=320,
                elem_id="binary-table",
            )
            upload = gr.File(
                label="or a CSV", file_types=[".csv"], type="filepath", elem_id="binary-csv"
            )
        with gr.Column(scale=3):
            with gr.Row():
                threshold = gr.Slider(
                    0, 1, 0.5, step=0.01, label="threshold", elem_id="binary-threshold"
                )
                beta = gr.Number(2.0, label="beta of F-beta", minimum=0.01, elem_id="binary-beta")
            with gr.Row():
                resamples = gr.Slider(
                    0,
                    2000,
                    1000,
                    step=100,
                    label="bootstrap resamples",
                    info=f"this server bootstraps at most {budget:,} rows x resamples",
                    elem_id="binary-resamples",
                )
                level = gr.Slider(0.5, 0.99, 0.95, step=0.01, label="confidence level")
            button = gr.Button("Compute", variant="primary", elem_id="binary-compute")
            result = gr.Dataframe(
                first[0], interactive=False, label="Metrics", elem_id="binary-result"
            )
            notes = gr.Markdown(first[1], elem_id="binary-notes")
    upload.upload(csv_loader(["y_true", "y_score"]), upload, table, api_name="binary_csv")
    settings = [table, threshold, beta, resamples, level]
    button.click(
        binary_point_outputs, settings, [result, notes], api_name="binary_metrics"
    ).success(
        binary_interval_outputs,
        settings,
        [result, notes],
        api_name="binary_intervals",
        **heavy_events.EVENT,  # a bootstrap keeps a core busy for seconds: not in light slots
    )
    return table


# --- Imbalance --------------------------------------------------------------------------------


@explained
def imbalance_outputs(source, separation, spread, threshold, beta, data):
    if source == OWN_TABLE:
        y_true, y_score = binary_columns(data)
    else:
        y_true, y_score = imbalance.binormal_scores(separation, spread)
    table = imbalance.imbalance_table(y_true, y_score, threshold, beta)
    return (
        view.imbalance_figure(table),
        bullets(imbalance.conclusions(table)),
        table.round(5),
    )


def imbalance_panel(binary_table: gr.Dataframe) -> None:
    gr.Markdown(
        "The classifier stays the same (the same score distribution within each class); only the "
        "share of positives falls from 50 % to 0.1 %. Each class's rows are reweighted, so the "
        "curves are population values with no sampling noise. CLI: "
        "`dlstudio metrics imbalance --json`."
    )
    first = imbalance_outputs(BINORMAL, 2.0, 1.5, 0.5, 2.0, None)
    with gr.Row():
        source = gr.Radio([BINORMAL, OWN_TABLE], value=BINORMAL, label="classifier")
        separation = gr.Slider(0, 5, 2.0, step=0.1, label="separation d' (binormal)")
        spread = gr.Slider(0.5, 3, 1.5, step=0.1, label="positives' spread (binormal)")
        threshold = gr.Slider(
            0.01, 0.99, 0.5, step=0.01, label="threshold", elem_id="imbalance-threshold"
        )
        beta = gr.Slider(0.25, 4, 2.0, step=0.25, label="beta")
    button = gr.Button("Run the experiment", variant="primary", elem_id="imbalance-run")
    plot = gr.Plot(first[0], elem_id="imbalance-plot")
    conclusions = gr.Markdown(first[1], elem_id="imbalance-conclusions")
    table = gr.Dataframe(
        first[2],
        interactive=False,
        label="Every metric at every share",
        elem_id="imbalance-table",
    )
    gr.on(
        [button.click, threshold.release, beta.release, separation.release, spread.release],
        imbalance_outputs,
        [source, separation, spread, threshold, beta, binary_table],
        [plot, conclusions, table],
        api_name="imbalance",
    )


# --- F-beta -----------------------------------------------------------------------------------


@explained
def fbeta_outputs(beta, source, data):
    if source == OWN_TABLE:
        curve = fbeta.threshold_curve(*binary_columns(data), beta)
    else:
        name = next(n for n, s in fbeta.SCENARIOS.items() if source.startswith(s.title))
        y_true, y_score, weight = fbeta.scenario_population(name)
        curve = fbeta.threshold_curve(y_true, y_score, beta, weight)
    row = fbeta.best_threshold(curve)
    text = (
        f"Best F{beta:g} = {row['f_beta']:.4f} at threshold {row['threshold']:.3f}: precision "
        f"{row['precision']:.4f}, recall {row['recall']:.4f}."
    )
    return view.fbeta_figure(curve, beta), text


def fbeta_panel(binary_table: gr.Dataframe) -> None:
    gr.Markdown(FBETA_FORMULA, latex_delimiters=LATEX)
    sources = [OWN_TABLE, *(f"{s.title} population" for s in fbeta.SCENARIOS.values())]
    first = fbeta_outputs(2.0, sources[1], None)
    with gr.Row():
        beta = gr.Slider(0.1, 5, 2.0, step=0.1, label="beta", elem_id="fbeta-beta")
        source = gr.Dropdown(sources, value=sources[1], label="data", elem_id="fbeta-source")
    plot = gr.Plot(first[0], elem_id="fbeta-plot")
    best = gr.Markdown(first[1], elem_id="fbeta-best")
    gr.Markdown("### Where beta != 1 is right, with the numbers")
    examples = [fbeta.worked_example(name)["text"] for name in fbeta.SCENARIOS]
    gr.Markdown("\n\n".join(" ".join(text) for text in examples), elem_id="fbeta-examples")
    gr.on(
        [beta.release, source.change],
        fbeta_outputs,
        [beta, source, binary_table],
        [plot, best],
        api_name="fbeta",
    )


# --- Worked ROC-AUC ---------------------------------------------------------------------------


@explained
def roc_outputs(data):
    worked = roc.worked_roc_table(data)
    matrix = worked.pair_matrix()
    return (
        view.roc_figure(worked),
        bullets(worked.explanation()),
        worked.sorted_rows,
        worked.steps.round(4).astype({"threshold": object}).replace(np.inf, "above all"),
        matrix if matrix is not None else pd.DataFrame({"pairs": ["too many to show"]}),
    )


def roc_panel() -> None:
    gr.Markdown(
        "Edit the scores and labels (at least one 0 and one 1; ties allowed), then compute. The "
        "slider inside the plot builds the curve one threshold at a time.\n\n"
        + developer_fold("The same from the command line: `dlstudio metrics roc FILE.csv`.")
    )
    first = roc_outputs(roc.EXAMPLE)
    with gr.Row():
        with gr.Column(scale=2):
            table = gr.Dataframe(
                roc.EXAMPLE, label="y_score, y_true", interactive=True, elem_id="roc-table"
            )
            button = gr.Button("Compute ROC-AUC", variant="primary", elem_id="roc-compute")
        with gr.Column(scale=3):
            plot = gr.Plot(first[0], elem_id="roc-plot")
    explanation = gr.Markdown(first[1], elem_id="roc-explanation")
    with gr.Row():
        sorted_rows = gr.Dataframe(
            first[2], interactive=False, label="Sorted by score, highest first"
        )
        steps = gr.Dataframe(
            first[3], interactive=False, label="Every threshold", elem_id="roc-steps"
        )
    pairs = gr.Dataframe(
        first[4], interactive=False, label="Pairs: 1 positive ranked higher, 0.5 tie, 0 lower"
    )
    button.click(
        roc_outputs, table, [plot, explanation, sorted_rows, steps, pairs], api_name="worked_roc"
    )


# --- Micro / macro / weighted -----------------------------------------------------------------

MATRIX, LISTS = "confusion matrix", "label lists"


@explained
def averaging_outputs(mode, matrix, labels):
    if mode == MATRIX:
        counts = averaging.confusion_from_table(matrix)
    else:
        inputs.require_columns(labels, ["y_true", "y_pred"], "the label lists")
        counts = averaging.confusion_from_labels(labels["y_true"], labels["y_pred"])
    report = averaging.averaging_report(counts)
    return (
        report.per_class.round(4),
        report.averages.round(4),
        view.averaging_figure(report),
        report.arithmetic,
        bullets(report.conclusions()),
    )


def averaging_panel() -> None:
    gr.Markdown(
        "A confusion matrix (rows: true class, columns: predicted; the header must repeat the "
        "row names) or two label columns. `dlstudio metrics FILE.csv` with `y_true`, "
        "`y_pred` columns prints the same averages."
    )
    first = averaging_outputs(MATRIX, averaging.example_table(), None)
    mode = gr.Radio([MATRIX, LISTS], value=MATRIX, label="input", elem_id="averaging-mode")
    matrix = gr.Dataframe(
        averaging.example_table(),
        interactive=True,
        label=MATRIX,
        elem_id="averaging-matrix",
    )
    labels = gr.Dataframe(
        pd.DataFrame({"y_true": list("aabbbccca"), "y_pred": list("abbbcccaa")}),
        interactive=True,
        label=LISTS,
        visible=False,
        elem_id="averaging-labels",
    )
    button = gr.Button("Compute", variant="primary", elem_id="averaging-compute")
    with gr.Row():
        per_class = gr.Dataframe(first[0], interactive=False, label="Per class")
        averages = gr.Dataframe(
            first[1], interactive=False, label="Averages", elem_id="averaging-result"
        )
    plot = gr.Plot(first[2])
    arithmetic = gr.Dataframe(first[3], interactive=False, label="The arithmetic", wrap=True)
    conclusions = gr.Markdown(first[4], elem_id="averaging-conclusions")
    mode.change(
        lambda m: (gr.update(visible=m == MATRIX), gr.update(visible=m == LISTS)),
        mode,
        [matrix, labels],
        api_name="averaging_mode",
    )
    button.click(
        averaging_outputs,
        [mode, matrix, labels],
        [per_class, averages, plot, arithmetic, conclusions],
        api_name="averaging",
    )


# --- Search quality ---------------------------------------------------------------------------


@explained
def page_outputs(data, persistence, alpha, k):
    values = page.page_metrics(data, page.UserModel(persistence=persistence, alpha=alpha, k=int(k)))
    rows = [
        {"metric": name, "value": round(values[name], 4), "what": what, "why a main metric": why}
        for name, (what, why) in page.EXPLAIN.items()
    ] + [
        {"metric": name, "value": round(values[name], 4), "what": what, "why a main metric": ""}
        for name, what in ranking.EXPLAIN.items()
    ]
    return pd.DataFrame(rows), view.page_figure(values["details"]), values["details"].round(4)


def search_panel() -> None:
    gr.Markdown(
        "One results page, top to bottom. `type` is one of "
        f"{', '.join(page.ELEMENT_TYPES)}; `grade` 0-3; `intents` lists the meanings of the "
        "query an element serves, separated by `;`. The standard list metrics use the grades in "
        "page order; the page metrics also use the types and heights (a user reads on past each "
        "screen with the persistence below). CLI: `dlstudio metrics page PAGE.csv`."
    )
    first = page_outputs(page.EXAMPLE_PAGE, 0.7, 0.5, 10)
    table = gr.Dataframe(
        page.EXAMPLE_PAGE, interactive=True, label="results page", elem_id="page-table"
    )
    with gr.Row():
        persistence = gr.Slider(0.1, 1, 0.7, step=0.05, label="persistence per screen")
        alpha = gr.Slider(0, 0.95, 0.5, step=0.05, label="alpha (redundancy penalty)")
        k = gr.Number(10, label="k", precision=0, minimum=1)
    button = gr.Button("Compute", variant="primary", elem_id="page-compute")
    result = gr.Dataframe(
        first[0],
        interactive=False,
        label="Metrics",
        wrap=True,
        column_widths=["14%", "8%", "39%", "39%"],
        elem_id="page-result",
    )
    plot = gr.Plot(first[1])
    details = gr.Dataframe(first[2], interactive=False, label="Per element")
    button.click(
        page_outputs,
        [table, persistence, alpha, k],
        [result, plot, details],
        api_name="page_metrics",
    )


# --- Labeling quality -------------------------------------------------------------------------


@explained
def crowd_outputs(workers, overlap, spammers, biased, honeypots, seed):
    crowd = simulate_crowd(
        n_workers=int(workers),
        overlap=int(overlap),
        spammer_share=spammers,
        biased_share=biased,
        honeypot_share=honeypots,
        seed=int(seed),
    )
    return crowd.labels, crowd.truth


@explained
def labeling_outputs(table, truth):
    report = labeling.labeling_report(table, truth)
    accuracy = pd.DataFrame(
        {
            "method": list(report.accuracy),
            "accuracy": [round(v, 4) for v in report.accuracy.values()],
        }
    )
    return (
        bullets(report.conclusions()),
        report.alpha.round(4),
        accuracy,
        view.workers_figure(report.honeypots, report.ds_accuracy),
        report.honeypots.round(3),
        report.disputed.head(15).round(3),
    )


def labeling_panel() -> None:
    gr.Markdown(
        "Three ways to better relevance labels, on one label table (simulated below, or yours): "
        "**overlap with agreement** (Krippendorff's alpha; the most disputed items get more "
        "labels), **honeypots** (items with a known answer expose spammers, whose labels are "
        "dropped) and **aggregation** (Dawid-Skene's per-worker confusion matrices against the "
        "majority vote). A simulated crowd knows the truth, so the accuracy of each method is "
        "measured; for your own CSV it is measured on the honeypots' `gold` answers. CLI: "
        "`dlstudio metrics labeling --simulate`."
    )
    crowd = crowd_outputs(12, 5, 0.25, 0.17, 0.1, 0)
    first = labeling_outputs(*crowd)
    truth = gr.State(crowd[1])
    with gr.Row():
        workers = gr.Slider(4, 30, 12, step=1, label="workers")
        overlap = gr.Slider(1, 10, 5, step=1, label="labels per item (overlap)")
        spammers = gr.Slider(0, 0.6, 0.25, step=0.05, label="spammer share", elem_id="crowd-spam")
        biased = gr.Slider(0, 0.5, 0.17, step=0.01, label="biased share (+1 grade)")
        honeypots = gr.Slider(0, 0.5, 0.1, step=0.05, label="honeypot share")
        seed = gr.Number(0, label="seed", precision=0)
    with gr.Row():
        simulate = gr.Button("Simulate a crowd", elem_id="crowd-simulate")
        analyse = gr.Button("Analyse the labels", variant="primary", elem_id="crowd-analyse")
    upload = gr.File(
        label="or a CSV: item, worker, label[, gold]", file_types=[".csv"], type="filepath"
    )
    labels = gr.Dataframe(
        crowd[0], interactive=True, label="labels", max_height=300, elem_id="crowd-labels"
    )
    conclusions = gr.Markdown(first[0], elem_id="crowd-conclusions")
    with gr.Row():
        alpha = gr.Dataframe(first[1], interactive=False, label="Krippendorff's alpha")
        accuracy = gr.Dataframe(
            first[2],
            interactive=False,
            label="Accuracy of the final labels",
            elem_id="crowd-accuracy",
        )
    plot = gr.Plot(first[3])
    screen = gr.Dataframe(first[4], interactive=False, label="Honeypot screening")
    disputed = gr.Dataframe(
        first[5], interactive=False, label="Most disputed items: give them more labels"
    )
    simulate.click(
        crowd_outputs,
        [workers, overlap, spammers, biased, honeypots, seed],
        [labels, truth],
        api_name="simulate_crowd",
    )
    load = csv_loader(["item", "worker", "label"])
    upload.upload(lambda path: (load(path), None), upload, [labels, truth], api_name="labels_csv")
    analyse.click(
        labeling_outputs,
        [labels, truth],
        [conclusions, alpha, accuracy, plot, screen, disputed],
        api_name="labeling",
    )


# --- A vs B significance ----------------------------------------------------------------------


@explained
def significance_outputs(query, alpha, k, gain, unit, zero_method, data):
    alpha = float(alpha)
    if "query" not in data:
        data = data.assign(query=query.strip() or "query")
    comparison = significance.compare_engines(
        data, alpha, int(k), gain, None if unit == "auto" else unit, zero_method
    )
    low, high = comparison.interval
    headline = [
        f"**nDCG@{int(k)} difference A - B = {comparison.units['d'].sum():+.4f}** (95 % "
        f"bootstrap interval {low:+.4f} to {high:+.4f}), per {comparison.unit}."
    ] + [f"**{t.test}**: p = {t.p_value:.4g}, {t.decision(alpha)}." for t in comparison.tests]
    assumptions = [f"**{t.test}** ({t.method}): {t.assumptions}" for t in comparison.tests]
    return (
        bullets(headline + comparison.notes),
        comparison.table().round({"statistic": 4, "p_value (A > B)": 6}),
        comparison.ndcg.round(4),
        view.differences_figure(comparison.units, comparison.unit),
        "### Assumptions\n" + bullets(assumptions),
    )


def significance_panel() -> None:
    gr.Markdown(
        "Type the query, paste each engine's results in order and judge each one: 0 irrelevant, "
        "1 related, 2 relevant, 3 perfect. The tests ask whether A's results are better than "
        "B's (one-sided). For several queries, upload a CSV with a `query` column: the unit "
        "becomes the query. CLI: `dlstudio metrics significance JUDGMENTS.csv`."
    )
    first = significance_outputs(
        "python sort a list", 0.05, 10, "exponential", "auto", "wilcox", significance.EXAMPLE
    )
    with gr.Row():
        query = gr.Textbox("python sort a list", label="query", elem_id="sig-query")
        level = gr.Dropdown(
            [0.1, 0.05, 0.01, 0.001],
            value=0.05,
            label="significance level alpha",
            allow_custom_value=True,
            elem_id="sig-alpha",
        )
        k = gr.Number(10, label="k of nDCG@k", precision=0, minimum=1)
    with gr.Row():
        gain = gr.Radio(list(ranking.GAINS), value="exponential", label="gain")
        unit = gr.Radio(["auto", "position", "query"], value="auto", label="unit of the test")
        zero_method = gr.Radio(
            list(significance.ZERO_METHODS), value="wilcox", label="Wilcoxon: zero differences"
        )
    table = gr.Dataframe(
        significance.EXAMPLE, interactive=True, label="judgments", elem_id="sig-table"
    )
    upload = gr.File(
        label="or a CSV: [query,] [rank,] a_result, a_grade, b_result, b_grade",
        file_types=[".csv"],
        type="filepath",
    )
    button = gr.Button("Test: is A better than B?", variant="primary", elem_id="sig-run")
    verdict = gr.Markdown(first[0], elem_id="sig-verdict")
    tests = gr.Dataframe(
        first[1], interactive=False, label="One-sided tests", wrap=True, elem_id="sig-tests"
    )
    ndcg = gr.Dataframe(first[2], interactive=False, label="nDCG@k per query")
    plot = gr.Plot(first[3])
    assumptions = gr.Markdown(first[4])
    upload.upload(csv_loader(["a_grade", "b_grade"]), upload, table, api_name="judgments_csv")
    button.click(
        significance_outputs,
        [query, level, k, gain, unit, zero_method, table],
        [verdict, tests, ndcg, plot, assumptions],
        api_name="compare_engines",
    )


def build() -> None:
    gr.Markdown(
        "Classification metrics with confidence intervals, how they react to class imbalance, "
        "F-beta, ROC-AUC by hand, averaging, and search quality: ranking and page metrics, "
        "label quality, and a significance test of two engines. Each part has a sub-tab."
    )
    with gr.Tabs(elem_id="metrics-parts"):
        with gr.Tab("Binary metrics"):
            binary_table = binary_panel()
        with gr.Tab("Imbalance"):
            imbalance_panel(binary_table)
        with gr.Tab("F-beta"):
            fbeta_panel(binary_table)
        with gr.Tab("Worked ROC-AUC"):
            roc_panel()
        with gr.Tab("Micro / macro / weighted"):
            averaging_panel()
        with gr.Tab("Search quality"):
            search_panel()
        with gr.Tab("Labeling quality"):
            labeling_panel()
        with gr.Tab("A vs B significance"):
            significance_panel()
