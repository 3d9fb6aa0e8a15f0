"""The product-quantization study: how well each quantizer keeps the classifier's embeddings.

    dlstudio report pq [--vectors fashion-lite0] [--out reports/pq]
    dlstudio report pq --from-results reports/pq/results.json     measure nothing

Measured on a shipped embedding set (`core.embeddings`: EfficientNet-Lite0 features of
Fashion-MNIST pictures, reduced by PCA): the held-out error of the one-dimensional quantizers
(M = D: exact optimal thresholds, Lloyd-Max, uniform) at 1 to 8 bits per component, and every
quantizer at equal bits per vector (M = D against k-means PQ with 8- and 4-bit codes), with
recall@10 of the nearest-neighbour search over the codes. The numbers are kept in
results.json, and `pq_page` writes the one page that the README and the Results tab show, its
conclusions computed from them.
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from core.embeddings import load_embedding_set
from core.paths import REPO_ROOT
from core.pq.evaluate import compare_at_equal_bits, mse_curves
from core.reports.markdown import conclusion_lines
from core.reports.page import Curves, ForDevelopers, Page, Panel, Series, to_markdown

OUT = REPO_ROOT / "reports" / "pq"
RESULTS = OUT / "results.json"
VECTORS = "fashion-lite0"
EQUAL_BITS = (64, 128)  # bits per vector: 1 and 2 bits per component at D = 64
KEPT = ("m", "bits", "method", "relative_mse", "mse_held_out", "compression_ratio", "recall@10")


def measure(name: str = VECTORS) -> dict:
    """The study's numbers (no timings: they vary by machine and are not the question)."""
    vectors, card = load_embedding_set(name)
    curves = [
        {k: row[k] for k in ("method", "bits", "mse_held_out")} for row in mse_curves(vectors)
    ]
    equal = {
        bits: [
            {k: v for k, v in evaluation.to_dict().items() if k in KEPT}
            for evaluation in compare_at_equal_bits(vectors, bits)
        ]
        for bits in EQUAL_BITS
    }
    return {"vectors": card.summary(), "curves": curves, "equal_bits": equal}


def pq_page(results: dict) -> Page:
    card = results["vectors"]
    curves = pd.DataFrame(results["curves"])
    series = [
        Series(method, rows["bits"].tolist(), rows["mse_held_out"].tolist())
        for method, rows in curves.groupby("method", sort=False)
    ]
    page = Page("Product quantization of the classifier's embeddings")
    page.add(
        f"{card['count']:,} vectors of {card['dim']} dimensions: the {card['model']} "
        f"classifier's features of {card['dataset']} pictures, {card['reduction']}, keeping "
        f"{100 * card['pca_explained_variance']:.0f} % of their variance. Each quantizer is "
        "fitted on 80 % of the vectors; the error is measured on the other 20 % (per "
        "component, and relative to the data's variance: 1 is as bad as the mean vector), and "
        "recall@10 is the share of each vector's 10 nearest neighbours that the search over "
        "the codes also finds.",
        ForDevelopers(
            "Regenerate with `dlstudio report pq` (seconds; "
            "`--from-results reports/pq/results.json` rewrites this page from the saved numbers)."
        ),
        "## One quantizer per component (M = D)",
        Curves(
            "mse_bits",
            "Held-out error against bits per component",
            [Panel("M = D", series)],
            x_label="bits per component",
            y_label="MSE per component",
            log_y=True,
        ),
        curves.pivot(index="bits", columns="method", values="mse_held_out").reset_index(),
        "## Equal bits per vector: M = D against product quantization",
    )
    for bits, rows in results["equal_bits"].items():
        table = pd.DataFrame(rows).round(4)
        page.add(f"{bits} bits per vector:", table)
    page.add("\n".join(conclusion_lines(conclusions(results))).rstrip("\n"))
    return page


def conclusions(results: dict) -> list[str]:
    """Sentences from the numbers: the best scalar method, the error per extra bit, and what
    wins at equal bits."""
    curves = pd.DataFrame(results["curves"])
    by_method = curves.pivot(index="bits", columns="method", values="mse_held_out")
    wins = by_method.idxmin(axis=1)
    best = wins.mode()[0]
    lines = [
        f"With one quantizer per component, {best} has the lowest held-out error at "
        f"{(wins == best).sum()} of {len(wins)} bit depths"
        + (
            f"; uniform levels cost {by_method['uniform'].div(by_method[best]).median():.1f}x "
            f"its error (median over bit depths)."
            if "uniform" in by_method and best != "uniform"
            else "."
        )
    ]
    ratios = by_method[best] / by_method[best].shift(-1)
    lines.append(
        f"Each extra bit divides {best}'s error by {ratios.median():.1f} (median; the "
        "rate-distortion rule for a smooth density is 4, i.e. 6 dB per bit)."
    )
    for bits, rows in results["equal_bits"].items():
        table = pd.DataFrame(rows)
        lowest = table.loc[table["relative_mse"].idxmin()]
        recall = table.loc[table["recall@10"].idxmax()]
        scalar = table[table["m"] == table["m"].max()]
        best_scalar = scalar.loc[scalar["relative_mse"].idxmin()]
        lines.append(
            f"At {bits} bits per vector, M = {lowest['m']} with {lowest['bits']}-bit "
            f"{lowest['method']} codes keeps the most (relative error {lowest['relative_mse']:.3f}"
            f" against {best_scalar['relative_mse']:.3f} for the best M = D quantizer) and "
            f"M = {recall['m']} {recall['method']} finds the most neighbours (recall@10 "
            f"{recall['recall@10']:.3f})"
            + (
                ": codebooks over sub-vectors use the correlation between components, which "
                "a quantizer per component cannot."
                if lowest["m"] < best_scalar["m"]
                else "."
            )
        )
    return lines


def read_results(path: Path = RESULTS) -> dict:
    return json.loads(Path(path).read_text())


def page_from_results(path: Path = RESULTS) -> Page:
    """The page of the committed study, measuring nothing (the Results tab shows this)."""
    return pq_page(read_results(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio report pq", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--vectors", default=VECTORS, help="a shipped embedding set")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--from-results", type=Path, default=None, help="measure nothing")
    args = parser.parse_args(argv)
    results = read_results(args.from_results) if args.from_results else measure(args.vectors)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {to_markdown(pq_page(results), args.out)}")
    return 0
