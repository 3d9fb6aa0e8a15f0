"""Is search engine A significantly better than B? Paired one-sided tests on judged results.

The user judges every result of both engines with a graded label (0-3). Each unit of the test
is a pair (A's value, B's value), and its difference d says how much better A did there:

- per position (one query): d_i = (gain(A_i) - gain(B_i)) / log2(i + 1) / IDCG, so the sum of
  the d_i is exactly nDCG@k(A) - nDCG@k(B) (IDCG from the pool of both engines' judged
  results, each distinct result once);
- per query (several queries): d_q = nDCG@k(A, q) - nDCG@k(B, q).

H0: A and B are exchangeable within each pair (every d_i is as likely to be positive as
negative); H1: A is better. Three tests, each giving a one-sided p-value:

- Wilcoxon signed-rank: R+ = the sum of the ranks of |d| over the positive d. Its p-value is
  exact, P(R+ >= observed) over all 2^m sign patterns of the m nonzero differences (a dynamic
  program over sums of doubled mid-ranks, so tied sizes are exact too); above
  `EXACT_WILCOXON_MAX` units the normal approximation with tie correction is used.
- Paired permutation (sign-flip) test of the sum of d (= the nDCG difference itself): exact over
  all 2^m sign patterns up to `EXACT_PERMUTATION_MAX` units (meet in the middle), Monte Carlo
  above.
- Bootstrap of the nDCG difference: resample the units with replacement; the p-value is the
  share of centred resampled sums at or above the observed sum (with the +1 correction), and
  the percentile interval of the difference is reported. Approximate; poor for few units.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from core.metrics.inputs import EXAMPLES_DIR, MetricInputError, numbers, require_columns
from core.metrics.ranking import GAINS, MAX_GRADE, discounts, ndcg_at_k, parse_grades

EXACT_WILCOXON_MAX = 300
EXACT_PERMUTATION_MAX = 30
MONTE_CARLO_RESAMPLES = 100_000
BOOTSTRAP_RESAMPLES = 10_000
ZERO_METHODS = {
    "wilcox": "Pairs with d = 0 are dropped before ranking (Wilcoxon's rule)",
    "pratt": "Pairs with d = 0 are ranked with the others, then left out of R+ (Pratt's rule)",
}

ASSUMPTIONS = {
    "wilcoxon": "units independent; under H0 each difference is symmetric about 0; the sizes "
    "of the differences can be ranked meaningfully. Uses the ranks of |d|, not their values, "
    "so one huge difference cannot dominate.",
    "permutation": "units independent; under H0 the A/B labels within a unit are exchangeable "
    "(each difference as likely + as -). No assumption on the shape of the distribution; the "
    "statistic is the nDCG difference itself, so large differences weigh more.",
    "bootstrap": "units are an independent random sample from the population one wants to "
    "generalise to, and there are enough of them (about 20 or more) for the resampled sums to "
    "approximate the null distribution once centred. The least exact of the three.",
}
SCOPE = {
    "position": "Per position, the units are the positions of one query (or of each query, "
    "pooled). Positions are not a random sample of anything, so a significant result says: on "
    "these queries A's ranking beats B's by more than swapping A and B at random positions "
    "would give; it does not say A is better in general. For that, judge many queries and "
    "test per query.",
    "query": "Per query, the units are the queries: the conclusion generalises to queries like "
    "these, if they were sampled at random from the real query stream.",
}


@dataclass
class TestResult:
    test: str
    statistic: float
    p_value: float
    method: str  # how the p-value was obtained: exact, normal approximation, Monte Carlo
    assumptions: str

    def decision(self, alpha: float) -> str:
        if self.p_value < alpha:
            return f"reject H0 at alpha = {alpha:g}: A is significantly better"
        return f"do not reject H0 at alpha = {alpha:g}: no significant evidence that A is better"


def _nonzero_ranks(d: np.ndarray, zero_method: str) -> tuple[np.ndarray, np.ndarray]:
    """(ranks of |d| for the nonzero d, their signs), zeros handled by `zero_method`."""
    if zero_method not in ZERO_METHODS:
        raise MetricInputError(f"zero_method must be one of {', '.join(ZERO_METHODS)}")
    kept = d if zero_method == "pratt" else d[d != 0]
    ranks = rankdata(np.abs(kept))
    return ranks[kept != 0], np.sign(kept[kept != 0])


def wilcoxon_signed_rank(d: np.ndarray, zero_method: str = "wilcox") -> TestResult:
    """One-sided (A better) Wilcoxon signed-rank test of the paired differences `d`."""
    ranks, signs = _nonzero_ranks(np.asarray(d, dtype=float), zero_method)
    r_plus = float(ranks[signs > 0].sum())
    assumptions = f"{ASSUMPTIONS['wilcoxon']} {ZERO_METHODS[zero_method]}."
    if ranks.size == 0:
        return TestResult(
            "Wilcoxon signed-rank", 0.0, 1.0, "exact (no nonzero difference)", assumptions
        )
    if ranks.size <= EXACT_WILCOXON_MAX:
        doubled = np.round(2 * ranks).astype(int)  # mid-ranks are multiples of 1/2
        distribution = np.zeros(doubled.sum() + 1)
        distribution[0] = 1.0
        for r in doubled:  # each rank joins R+ with probability 1/2
            distribution[r:] = (distribution[r:] + distribution[:-r].copy()) / 2
            distribution[:r] /= 2
        p = float(distribution[round(2 * r_plus) :].sum())
        method = f"exact: all 2^{ranks.size} sign patterns"
    else:
        n, zeros = ranks.size, np.asarray(d).size - ranks.size if zero_method == "pratt" else 0
        mean = (n + zeros) * (n + zeros + 1) / 4 - zeros * (zeros + 1) / 4
        _, tie_counts = np.unique(ranks, return_counts=True)
        variance = (
            (n + zeros) * (n + zeros + 1) * (2 * (n + zeros) + 1)
            - zeros * (zeros + 1) * (2 * zeros + 1)
            - np.sum(tie_counts**3 - tie_counts) / 2
        ) / 24
        p = float(norm.sf((r_plus - mean) / np.sqrt(variance)))
        method = f"normal approximation ({n} nonzero differences)"
    return TestResult("Wilcoxon signed-rank", r_plus, min(p, 1.0), method, assumptions)


def _subset_sums(values: np.ndarray) -> np.ndarray:
    """sum of s_i * v_i for every sign pattern s in {-1, +1}^n (2^n sums)."""
    sums = np.zeros(1)
    for value in values:
        sums = np.r_[sums + value, sums - value]
    return sums


def paired_permutation(
    d: np.ndarray, n_resamples: int = MONTE_CARLO_RESAMPLES, seed: int = 0
) -> TestResult:
    """One-sided sign-flip permutation test of sum(d) > 0."""
    d = np.asarray(d, dtype=float)
    observed = float(d.sum())
    tolerance = 1e-12 * max(1.0, np.abs(d).sum())
    if d.size <= EXACT_PERMUTATION_MAX:
        half = d.size // 2
        left, right = _subset_sums(d[:half]), np.sort(_subset_sums(d[half:]))
        # count pairs with left + right >= observed, for each left sum
        at_least = right.size - np.searchsorted(right, observed - tolerance - left, side="left")
        p = float(at_least.sum() / 2.0**d.size)
        method = f"exact: all 2^{d.size} sign patterns"
    else:
        rng = np.random.default_rng(seed)
        flips = rng.choice([-1.0, 1.0], size=(n_resamples, d.size))
        count = int(np.sum(flips @ d >= observed - tolerance))
        p = (count + 1) / (n_resamples + 1)
        method = f"Monte Carlo: {n_resamples:,} random sign patterns"
    return TestResult(
        "paired permutation (sign flip)", observed, p, method, ASSUMPTIONS["permutation"]
    )


def bootstrap_difference(
    d: np.ndarray, n_resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95, seed: int = 0
) -> tuple[TestResult, tuple[float, float]]:
    """One-sided bootstrap p-value of sum(d) > 0, and the percentile interval of sum(d)."""
    d = np.asarray(d, dtype=float)
    rng = np.random.default_rng(seed)
    resampled = d[rng.integers(0, d.size, size=(n_resamples, d.size))].sum(axis=1)
    observed = float(d.sum())
    p = (np.sum(resampled - observed >= observed) + 1) / (n_resamples + 1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    result = TestResult(
        "bootstrap of the nDCG difference",
        observed,
        float(p),
        f"bootstrap: {n_resamples:,} resamples (approximate)",
        ASSUMPTIONS["bootstrap"],
    )
    return result, (float(low), float(high))


COLUMNS = ["query", "rank", "a_result", "a_grade", "b_result", "b_grade"]
EXAMPLE = pd.read_csv(EXAMPLES_DIR / "judgments.csv")  # one query, ten results each


@dataclass
class Comparison:
    unit: str  # "position" or "query"
    units: pd.DataFrame  # one row per unit: its A and B values and the difference d
    ndcg: pd.DataFrame  # per query: nDCG@k of A and of B
    tests: list[TestResult]
    interval: tuple[float, float]  # bootstrap interval of the summed difference
    alpha: float
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "test": t.test,
                    "statistic": t.statistic,
                    "p_value (A > B)": t.p_value,
                    "decision": t.decision(self.alpha),
                    "how": t.method,
                }
                for t in self.tests
            ]
        )

    def as_dict(self) -> dict:
        return {
            "unit": self.unit,
            "alpha": self.alpha,
            "ndcg": self.ndcg.to_dict(orient="records"),
            "difference": float(self.units["d"].sum()),
            "interval": list(self.interval),
            "tests": [{**vars(t), "decision": t.decision(self.alpha)} for t in self.tests],
            "units": self.units.to_dict(orient="records"),
            "notes": self.notes,
        }


def _ideal_pool(results: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Grades of the distinct judged results of both engines (a result named twice counts once)."""
    pool: dict[str, int] = {}
    notes, unnamed = [], []
    for side in ("a", "b"):
        for name, grade in zip(results[f"{side}_result"], results[f"{side}_grade"], strict=True):
            key = str(name).strip().lower() if isinstance(name, str) and name.strip() else None
            if key is None:
                unnamed.append(grade)
            elif key in pool and pool[key] != grade:
                notes.append(
                    f"{name!r} is judged {pool[key]} and {grade}; the pool keeps the higher"
                )
                pool[key] = max(pool[key], grade)
            else:
                pool[key] = grade
    return np.array([*pool.values(), *unnamed]), notes


def parse_judgments(table: pd.DataFrame, max_grade: int = MAX_GRADE) -> pd.DataFrame:
    """Checked judgments: query (default one query), rank, both engines' results and grades."""
    require_columns(table, ["a_grade", "b_grade"], "the engine comparison")
    if table.empty:
        raise MetricInputError("the judgment table has no rows")
    judged = pd.DataFrame(
        {
            "query": table["query"].astype(str).str.strip() if "query" in table else "query",
            "rank": numbers(table["rank"], "rank")
            if "rank" in table
            else np.arange(1, len(table) + 1),
            "a_result": table.get("a_result", ""),
            "a_grade": parse_grades(table["a_grade"], "a_grade", max_grade),
            "b_result": table.get("b_result", ""),
            "b_grade": parse_grades(table["b_grade"], "b_grade", max_grade),
        }
    )
    for query, rows in judged.groupby("query", sort=False):
        ranks = rows["rank"].to_numpy()
        if sorted(ranks) != list(range(1, len(ranks) + 1)):
            raise MetricInputError(
                f"ranks of query {query!r} must be 1, 2, ..., {len(ranks)} once each, not "
                f"{', '.join(f'{r:g}' for r in ranks)}"
            )
    return judged.sort_values(["query", "rank"], kind="stable").reset_index(drop=True)


def compare_engines(
    table: pd.DataFrame,
    alpha: float = 0.05,
    k: int = 10,
    gain: str = "exponential",
    unit: str | None = None,
    zero_method: str = "wilcox",
    seed: int = 0,
) -> Comparison:
    """nDCG@k of both engines per query, and the three one-sided tests of "A is better"."""
    if not 0 < alpha < 1:
        raise MetricInputError(f"the significance level must be in (0, 1), not {alpha}")
    if gain not in GAINS:
        raise MetricInputError(f"gain must be one of {', '.join(GAINS)}, not {gain!r}")
    judged = parse_judgments(table)
    queries = judged["query"].unique()
    unit = unit or ("position" if len(queries) == 1 else "query")
    if unit not in SCOPE:
        raise MetricInputError(f"unit must be 'position' or 'query', not {unit!r}")
    notes, ndcg_rows, position_rows = [], [], []
    for query in queries:
        rows = judged[judged["query"] == query].head(k)
        pool, pool_notes = _ideal_pool(rows)
        notes += pool_notes
        ideal = np.sort(pool)[::-1]
        idcg = float(np.sum(GAINS[gain](ideal[:k]) * discounts(min(k, len(ideal)))))
        a, b = rows["a_grade"].to_numpy(), rows["b_grade"].to_numpy()
        ndcg_rows.append(
            {
                "query": query,
                "ndcg_a": ndcg_at_k(a, k, gain, pool),
                "ndcg_b": ndcg_at_k(b, k, gain, pool),
            }
        )
        scale = discounts(len(a)) / idcg if idcg > 0 else np.zeros(len(a))
        position_rows.append(rows.assign(d=(GAINS[gain](a) - GAINS[gain](b)) * scale))
    ndcg = pd.DataFrame(ndcg_rows)
    ndcg["d"] = ndcg["ndcg_a"] - ndcg["ndcg_b"]
    units = pd.concat(position_rows, ignore_index=True) if unit == "position" else ndcg
    d = units["d"].to_numpy()
    bootstrap, interval = bootstrap_difference(d, seed=seed)
    tests = [wilcoxon_signed_rank(d, zero_method), paired_permutation(d, seed=seed), bootstrap]
    nonzero = int(np.count_nonzero(d))
    smallest = 0.5**nonzero
    if smallest >= alpha:
        notes.append(
            f"only {nonzero} of {len(d)} {unit}s differ, so the exact tests cannot go below "
            f"p = 1/2^{nonzero} = {smallest:.4g}, which is not below alpha = {alpha:g}: "
            f"judge more {unit}s"
        )
    notes.append(SCOPE[unit])
    return Comparison(unit, units, ndcg, tests, interval, alpha, notes)
