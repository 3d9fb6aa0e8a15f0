"""What the Decoding tab shows of a generation (no UI code, usable anywhere).

- `steps_table`: every generated token with its probability and the model's top alternatives;
- `beams_table`: the finished beams of a beam search with their scores;
- `next_token_view`: the distribution a token was drawn from at one step, before and after
  temperature and after each top-p rule, as a table, a summary and a plotly figure. It goes
  through `core.decoding.strategies.sampling_distribution`, the very code the sampler uses.
"""

import math
from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
import torch

from core.decoding.lm import LM
from core.decoding.strategies import (
    TOP_P_RULES,
    DecodingSettings,
    Generation,
    next_token_logits,
    sampling_distribution,
)

SHOWN_TOKENS = 12  # bars in the distribution plot


def _label(lm: LM, token_id: int) -> str:
    """A token as a short quoted string, whitespace and newlines visible."""
    return repr(lm.token_text(token_id))


def steps_table(lm: LM, result: Generation) -> pd.DataFrame:
    """One row per generated token: the token, its probability (temperature 1) and the top 5."""
    rows = []
    for number, step in enumerate(result.steps, start=1):
        alternatives = " · ".join(
            f"{_label(lm, token)} {math.exp(logprob):.3f}"
            for token, logprob in zip(step.top_ids, step.top_logprobs, strict=True)
        )
        rows.append(
            {
                "step": number,
                "token": _label(lm, step.token_id),
                "probability": round(math.exp(step.logprob), 4),
                "top 5 (probability)": alternatives,
            }
        )
    return pd.DataFrame(rows, columns=["step", "token", "probability", "top 5 (probability)"])


def beams_table(lm: LM, result: Generation) -> pd.DataFrame:
    """The finished beams, best first: score (sum of log-probabilities), length, text."""
    rows = [
        {
            "rank": rank,
            "score": round(beam.score, 4),
            "tokens": len(beam.token_ids),
            "ends with": "EOS" if beam.token_ids[-1] in lm.eos_ids else "length limit",
            "text": lm.decode(beam.token_ids),
        }
        for rank, beam in enumerate(result.beams, start=1)
    ]
    return pd.DataFrame(rows, columns=["rank", "score", "tokens", "ends with", "text"])


def distribution_table(
    logits: torch.Tensor, temperature: float, top_p: float, shown: int = SHOWN_TOKENS
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """The `shown` most probable tokens with their probability under the model, after
    temperature, and after top-p with each rule; and per rule how many tokens (of the whole
    vocabulary) it keeps and their mass after temperature."""
    base = DecodingSettings(strategy="top_p", temperature=temperature, top_p=top_p)
    distributions = {
        "model (T = 1)": replace(base, strategy="sample"),
        f"temperature {temperature:g}": replace(base, strategy="temperature"),
        **{f"top-p {top_p:g}, {rule} rule": replace(base, top_p_rule=rule) for rule in TOP_P_RULES},
    }
    probs = {name: sampling_distribution(logits, s) for name, s in distributions.items()}
    tempered = probs[f"temperature {temperature:g}"]
    summary = {}
    for rule in TOP_P_RULES:
        kept = probs[f"top-p {top_p:g}, {rule} rule"] > 0
        summary[rule] = {"tokens": int(kept.sum()), "mass": float(tempered[kept].sum())}
    order = probs["model (T = 1)"].topk(min(shown, logits.numel())).indices
    table = pd.DataFrame({"token_id": order.tolist()})
    for name, distribution in probs.items():
        table[name] = distribution[order].tolist()
    return table, summary


def next_token_view(
    lm: LM, result: Generation, step: int, temperature: float, top_p: float
) -> tuple[go.Figure, str]:
    """The distribution behind generated token number `step` (1-based) as a figure and a note
    saying which tokens each top-p rule keeps. One forward pass over the context at that step.

    For beam search the context is the best beam's; temperature and top-p do not change beam
    search, but the plot shows what they would do to that distribution.
    """
    if not 1 <= step <= len(result.token_ids):
        raise ValueError(f"step must be between 1 and {len(result.token_ids)}, not {step}")
    context = result.prompt_ids + result.token_ids[: step - 1]
    table, summary = distribution_table(next_token_logits(lm.model, context), temperature, top_p)
    labels = [_label(lm, token) for token in table["token_id"]]
    figure = go.Figure()
    for name in table.columns[1:]:
        figure.add_trace(go.Bar(y=labels, x=table[name], name=name, orientation="h"))
    chosen = _label(lm, result.token_ids[step - 1])
    figure.update_layout(
        title=f"Step {step}: the next token (generated: {chosen})",
        barmode="group",
        xaxis_title="probability",
        yaxis={"autorange": "reversed", "type": "category"},
        height=120 + 38 * len(labels),
        margin={"l": 10, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.12},
    )
    notes = []
    for rule, kept in summary.items():
        column = table[f"top-p {top_p:g}, {rule} rule"]
        shown = ", ".join(label for label, p in zip(labels, column, strict=True) if p > 0)
        more = kept["tokens"] - int((column > 0).sum())
        notes.append(
            f"- **{rule} rule** keeps {kept['tokens']} token(s) holding {kept['mass']:.3f} of "
            f"the mass after temperature: {shown}{f' and {more} more' if more > 0 else ''}"
        )
    return figure, "\n".join(notes)
