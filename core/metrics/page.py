"""Three metrics of a whole results page, beyond the list metrics of `core.metrics.ranking`.

A page is a list of elements, top to bottom: organic results, but also direct answers
(featured snippets), knowledge panels, image and video blocks, news and ads, each with a
relevance grade, a height in pixels and the intents (meanings of the query) it serves.

The user model behind the first two is a cascade with pixel patience: the user reads the
elements in order; before each one they keep going with probability
`persistence ** (top offset in screens)` (tall blocks use up patience), times the chance that
nothing above already satisfied them; an element they read satisfies them with
R = (2^g - 1) / 2^g_max, as in ERR. An element that answers on the page (an answer, a knowledge
panel, images) satisfies without a click; others need a click and time to read the target.

1. Page success probability: P(the user is satisfied on this page), split into success without
   a click (good abandonment: a snippet answered) and with a click; 1 - P is bad abandonment.
   Main-metric material because it is the outcome itself, in [0, 1], comparable across
   queries, and it credits answers on the page that click metrics count as failures.
2. Expected time to the first useful result, for satisfied users, and the expected session
   time with a failure penalty (a reformulation). It charges for tall ads and image blocks that
   push the answer down and rewards answers that save a click: the user's cost, in seconds.
3. alpha-nDCG@k (Clarke et al. 2008): for ambiguous queries, each element's gain is
   sum over its intents of (1 - alpha)^(how many elements above served that intent), so a
   second result for the same meaning is worth less; normalised by the greedy ideal order.
   Main-metric material for ambiguous queries: it measures how many users, whatever they
   meant, find something, and punishes ten results for one meaning.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.metrics.inputs import EXAMPLES_DIR, MetricInputError, numbers, require_columns
from core.metrics.ranking import (
    MAX_GRADE,
    parse_grades,
    ranking_metrics,
    stop_probabilities,
)


@dataclass(frozen=True)
class ElementType:
    answers_on_page: bool  # satisfies without a click
    open_s: float  # seconds to open and read the target after a click (0 when on the page)


ELEMENT_TYPES = {
    "organic": ElementType(answers_on_page=False, open_s=20.0),
    "answer": ElementType(answers_on_page=True, open_s=0.0),
    "knowledge": ElementType(answers_on_page=True, open_s=0.0),
    "images": ElementType(answers_on_page=True, open_s=0.0),
    "video": ElementType(answers_on_page=False, open_s=45.0),
    "news": ElementType(answers_on_page=False, open_s=20.0),
    "ad": ElementType(answers_on_page=False, open_s=20.0),
}
COLUMNS = ["type", "title", "grade", "height_px", "intents"]

# metric -> (what it measures, why it can serve as a main metric)
EXPLAIN = {
    "success": (
        "P(the user is satisfied somewhere on the page), under the pixel-patience cascade",
        "it is the outcome itself, in [0, 1] and comparable across queries, and it credits "
        "answers shown on the page, which click-based metrics count as failures",
    ),
    "good_abandonment": (
        "the part of `success` reached without a click (an answer, a panel, images)",
        "it separates a user who left satisfied from one who gave up, the two look alike "
        "in the click log",
    ),
    "bad_abandonment": (
        "1 - success: the user leaves unsatisfied (and reformulates or goes elsewhere)",
        "it is the failure rate to drive down; it moves with the layout, not only the ranking",
    ),
    "time_to_success_s": (
        "expected seconds to the first useful element, for users who find one: scanning "
        "(height / reading speed) plus opening clicked results",
        "it is the user's effort in seconds: tall ads and image blocks that push answers down "
        "cost time, answers that save a click gain it",
    ),
    "session_time_s": (
        "expected seconds on the page including failed sessions, which also pay a reformulation",
        "one number that trades success against effort: a page is better when users finish "
        "sooner, and failures are charged",
    ),
    "alpha_ndcg@k": (
        "nDCG where an element's gain is summed over the intents it serves, each discounted "
        "by (1 - alpha) for every element above that already served it",
        "for ambiguous queries it measures how well every meaning is served, and it punishes "
        "ten results for one meaning",
    ),
}


@dataclass(frozen=True)
class UserModel:
    screen_px: float = 800.0  # one screen of scrolling
    persistence: float = 0.7  # chance of reading on past one more screen
    scan_px_per_s: float = 200.0  # reading speed of the page itself
    reformulate_s: float = 30.0  # what a failed page costs on top: a new query
    alpha: float = 0.5  # redundancy penalty of alpha-nDCG
    k: int = 10
    max_grade: int = MAX_GRADE

    def __post_init__(self) -> None:
        checks = {
            "screen_px": self.screen_px > 0,
            "persistence": 0 < self.persistence <= 1,
            "scan_px_per_s": self.scan_px_per_s > 0,
            "reformulate_s": self.reformulate_s >= 0,
            "alpha": 0 <= self.alpha < 1,
            "k": self.k >= 1,
            "max_grade": self.max_grade >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise MetricInputError(f"out of range: {', '.join(bad)} (see the UserModel fields)")


EXAMPLE_PAGE = pd.read_csv(EXAMPLES_DIR / "page.csv", keep_default_na=False)


@dataclass
class Page:
    types: list[str]
    grades: np.ndarray
    heights: np.ndarray
    intents: list[set[str]]


def parse_page(table: pd.DataFrame, max_grade: int = MAX_GRADE) -> Page:
    """Check a page table (columns type, grade, height_px, intents; title is optional)."""
    require_columns(table, ["type", "grade", "height_px"], "a results page")
    if table.empty:
        raise MetricInputError("the results page has no elements")
    types = [str(value).strip().lower() for value in table["type"]]
    unknown = [(i + 1, t) for i, t in enumerate(types) if t not in ELEMENT_TYPES]
    if unknown:
        row, name = unknown[0]
        raise MetricInputError(
            f"type {name!r} (row {row}) is not one of {', '.join(ELEMENT_TYPES)}"
        )
    heights = numbers(table["height_px"], "height_px")
    if (heights <= 0).any():
        raise MetricInputError("height_px must be positive: every element takes some space")
    intents_column = table["intents"] if "intents" in table else [""] * len(table)
    intents = [
        {part.strip() for part in str(cell).split(";") if part.strip()}
        if isinstance(cell, str) or not pd.isna(cell)
        else set()
        for cell in intents_column
    ]
    return Page(types, parse_grades(table["grade"], max_grade=max_grade), heights, intents)


def examination(page: Page, model: UserModel) -> tuple[np.ndarray, np.ndarray]:
    """(P(the user reads element i), P(reading it satisfies them))."""
    tops = np.r_[0.0, np.cumsum(page.heights)[:-1]]
    patience = model.persistence ** (tops / model.screen_px)
    satisfy = stop_probabilities(page.grades, model.max_grade)
    unsatisfied_before = np.cumprod(np.r_[1.0, 1 - satisfy[:-1]])
    return patience * unsatisfied_before, satisfy


def element_costs(page: Page, model: UserModel) -> np.ndarray:
    """Seconds spent on element i when read: scanning it, plus opening it if the user clicks.

    The user clicks an element that needs a click when its grade is at least 1 (its snippet
    looks relevant); a grade-0 element is scanned and skipped.
    """
    scan = page.heights / model.scan_px_per_s
    opened = np.array(
        [
            ELEMENT_TYPES[t].open_s if g >= 1 else 0.0
            for t, g in zip(page.types, page.grades, strict=True)
        ]
    )
    return scan + opened


def page_success(page: Page, model: UserModel) -> dict[str, float]:
    read, satisfy = examination(page, model)
    success = read * satisfy
    on_page = np.array([ELEMENT_TYPES[t].answers_on_page for t in page.types])
    return {
        "success": float(success.sum()),
        "good_abandonment": float(success[on_page].sum()),
        "click_success": float(success[~on_page].sum()),
        "bad_abandonment": float(1 - success.sum()),
    }


def time_to_success(page: Page, model: UserModel) -> dict[str, float]:
    """E[seconds to the first useful result | success] and E[session seconds] with failures.

    A user who stops after element i (satisfied or out of patience) has spent the costs of
    elements 1..i; one who is not satisfied also pays `reformulate_s`.
    """
    read, satisfy = examination(page, model)
    spent = np.cumsum(element_costs(page, model))
    success = read * satisfy
    stop_unsatisfied = read * (1 - satisfy) - np.r_[read[1:], 0.0]  # read i, not i + 1
    failed = 1 - success.sum()
    expected_success_time = float(success @ spent / success.sum()) if success.sum() else np.nan
    return {
        "time_to_success_s": expected_success_time,
        "session_time_s": float(
            success @ spent + stop_unsatisfied @ spent + failed * model.reformulate_s
        ),
    }


def alpha_dcg(intents: list[set[str]], alpha: float, k: int) -> float:
    seen: dict[str, int] = {}
    total = 0.0
    for rank, covered in enumerate(intents[:k]):
        total += sum((1 - alpha) ** seen.get(i, 0) for i in covered) / np.log2(rank + 2)
        for intent in covered:
            seen[intent] = seen.get(intent, 0) + 1
    return float(total)


def greedy_ideal(intents: list[set[str]], alpha: float, k: int) -> list[set[str]]:
    """The standard approximation of the best order: at each rank, the largest marginal gain."""
    left, order, seen = list(intents), [], {}
    while left and len(order) < k:
        gains = [sum((1 - alpha) ** seen.get(i, 0) for i in covered) for covered in left]
        best = left.pop(int(np.argmax(gains)))
        order.append(best)
        for intent in best:
            seen[intent] = seen.get(intent, 0) + 1
    return order


def alpha_ndcg(intents: list[set[str]], alpha: float = 0.5, k: int = 10) -> float:
    best = alpha_dcg(greedy_ideal(intents, alpha, k), alpha, k)
    return alpha_dcg(intents, alpha, k) / best if best > 0 else 0.0


def page_metrics(table: pd.DataFrame, model: UserModel | None = None) -> dict:
    """The three page metrics, the standard list metrics of the same grades, and the details."""
    model = model or UserModel()
    page = parse_page(table, model.max_grade)
    read, satisfy = examination(page, model)
    details = pd.DataFrame(
        {
            "rank": np.arange(1, len(page.types) + 1),
            "type": page.types,
            "grade": page.grades,
            "p_read": read,
            "p_satisfied_here": read * satisfy,
            "seconds_if_read": element_costs(page, model),
        }
    )
    return {
        **page_success(page, model),
        **time_to_success(page, model),
        "alpha_ndcg@k": alpha_ndcg(page.intents, model.alpha, model.k),
        "intents": sorted(set().union(*page.intents)),
        **ranking_metrics(page.grades, model.k, max_grade=model.max_grade),
        "details": details,
    }
