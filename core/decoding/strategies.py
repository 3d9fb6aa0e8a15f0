"""Decoding written by hand on a causal LM's next-token logits, with the KV cache.

    settings = DecodingSettings(strategy="top_p", top_p=0.9, temperature=0.8, seed=1)
    for partial in stream(model, prompt_ids, settings, eos_ids): ...   # token by token
    result = generate(model, prompt_ids, settings, eos_ids)           # the finished one

The five strategies (`STRATEGIES`):
- greedy: the most probable token at every step;
- sample: a draw from the model's full distribution softmax(logits);
- temperature: a draw from softmax(logits / T): T < 1 sharpens, T > 1 flattens;
- top_p (nucleus): a draw from the most probable tokens only, renormalised (after temperature,
  as in transformers). Two rules decide which tokens (`TOP_P_RULES`): the `assignment` rule
  keeps the tokens whose cumulative probability does not exceed top_p; the `paper` rule
  (Holtzman et al. 2019, and transformers' TopPLogitsWarper) keeps the smallest set whose mass
  reaches top_p, so the token that crosses the threshold is kept too. Both keep at least the
  top token;
- beam: early-stopped beam search. A candidate is a token sequence with a score, the sum of the
  log-probabilities of its tokens (length_penalty 0); see `_beam_search` for the exact rules,
  which are those of transformers' `generate(num_beams=N, early_stopping=True,
  length_penalty=0.0)`, so the two agree token for token.

Every strategy feeds the prompt once and then one new token per step, reusing the keys and values
of earlier positions (the KV cache), and asks the model for the last position's logits only
(`logits_to_keep=1`). Beam search runs its beams as one batch and reorders the cache rows when
beams are dropped or duplicated. Generation stops at an EOS id or after `max_new_tokens`.

All state (cache, random generator) lives in the call, so one model can serve several users at
once, and a seed makes every sampling strategy reproducible.
"""

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from transformers import DynamicCache, PreTrainedModel

MAX_NEW_TOKENS = 1000  # the most tokens one reply may ask for (the tab's slider ends here)
MAX_BEAMS = 16
TOP_K_SHOWN = 5  # alternatives recorded for every generated token


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodingSettings:
    """What to decode with. Every field is checked, even those the strategy ignores, so a bad
    value is reported at once and not only when the user switches strategy."""

    strategy: str = "greedy"
    temperature: float = 1.0  # temperature and top_p strategies
    top_p: float = 0.9  # top_p strategy
    top_p_rule: str = "assignment"  # or "paper"
    num_beams: int = 4  # beam strategy
    max_new_tokens: int = 200
    seed: int = 0  # sampling strategies

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}"
            )
        if self.top_p_rule not in TOP_P_RULES:
            raise ValueError(
                f"unknown top-p rule {self.top_p_rule!r}: choose one of {', '.join(TOP_P_RULES)}"
            )
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(
                f"temperature must be a number > 0, not {self.temperature} (as T -> 0 sampling "
                "becomes greedy: choose the greedy strategy for T = 0)"
            )
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {self.top_p}")
        if not 1 <= self.num_beams <= MAX_BEAMS:
            raise ValueError(f"num_beams must be between 1 and {MAX_BEAMS}, not {self.num_beams}")
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise ValueError(
                f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}, not {self.max_new_tokens}"
            )
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be an integer in [0, 2**63), not {self.seed}")


# --- results ----------------------------------------------------------------------------------


@dataclass
class Step:
    """One generated token: its log-probability under the model (temperature 1, before any
    top-p cut) and the model's most probable tokens at that step."""

    token_id: int
    logprob: float
    top_ids: list[int]
    top_logprobs: list[float]


@dataclass
class Beam:
    """A beam-search candidate: its tokens, score (sum of their log-probabilities) and steps."""

    token_ids: list[int]
    score: float
    steps: list[Step] = field(default_factory=list)


@dataclass
class Generation:
    """A generation in progress or finished (`finish_reason` is then "eos" or "length").

    `seconds` counts the time spent computing, not the time a consumer of `stream` spends
    between steps. For beam search `token_ids` is the best beam (while running: the best running
    one) and `beams` the finished candidates, best first.
    """

    prompt_ids: list[int]
    token_ids: list[int] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    finish_reason: str | None = None
    seconds: float = 0.0
    beams: list[Beam] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return len(self.token_ids) / self.seconds if self.seconds > 0 else 0.0


# --- the top-p rules --------------------------------------------------------------------------


def _assignment_rule(sorted_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the most probable tokens while their cumulative probability does not exceed top_p."""
    return sorted_probs.cumsum(-1) <= top_p


def _paper_rule(sorted_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of most probable tokens whose mass reaches top_p (the token that
    crosses the threshold is kept). Computed from the other end, as transformers does, so the
    rounding of the sums is the same: drop the least probable tokens while their mass (this
    token and all less probable ones) is at most 1 - top_p."""
    tail_mass = sorted_probs.flip(-1).cumsum(-1).flip(-1)
    return tail_mass > 1 - top_p


TOP_P_RULES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "assignment": _assignment_rule,
    "paper": _paper_rule,
}


def top_p_mask(probs: torch.Tensor, top_p: float, rule: str = "assignment") -> torch.Tensor:
    """Which tokens the nucleus keeps, as a boolean mask shaped like `probs` (..., vocab).

    Tokens are ranked by probability, ties by token id (a stable sort), and the most probable
    token is always kept. top_p = 1 keeps every token whatever rounding the sums carry.
    """
    if top_p >= 1:
        return torch.ones_like(probs, dtype=torch.bool)
    sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)
    keep = TOP_P_RULES[rule](sorted_probs, top_p)
    keep[..., 0] = True
    return torch.zeros_like(keep).scatter(-1, order, keep)


# --- the token-by-token strategies ------------------------------------------------------------

# Each maps the model's logits to the logits of the distribution it samples from (None: argmax).
Warp = Callable[[torch.Tensor, DecodingSettings], torch.Tensor]


def _nucleus(logits: torch.Tensor, settings: DecodingSettings) -> torch.Tensor:
    logits = logits / settings.temperature
    keep = top_p_mask(logits.softmax(-1), settings.top_p, settings.top_p_rule)
    return logits.masked_fill(~keep, -math.inf)  # softmax renormalises over the kept tokens


WARPS: dict[str, Warp | None] = {
    "greedy": None,
    "sample": lambda logits, settings: logits,
    "temperature": lambda logits, settings: logits / settings.temperature,
    "top_p": _nucleus,
}


def sampling_distribution(logits: torch.Tensor, settings: DecodingSettings) -> torch.Tensor:
    """The probabilities the strategy draws the next token from (one-hot for greedy)."""
    warp = WARPS[settings.strategy]
    if warp is None:
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return warp(logits, settings).softmax(-1)


def choose_token(
    logits: torch.Tensor, settings: DecodingSettings, generator: torch.Generator
) -> torch.Tensor:
    """The next token (a 1-element tensor) for the logits (vocab,) of one sequence: argmax for
    greedy, else one draw from `sampling_distribution` with `generator`."""
    if WARPS[settings.strategy] is None:
        return logits.argmax().view(1)
    return torch.multinomial(sampling_distribution(logits, settings), 1, generator=generator)


def _forward(model: PreTrainedModel, input_ids: torch.Tensor, cache: DynamicCache | None):
    """The next-token logits (batch, vocab) in float32, computed for the last position only."""
    out = model(
        input_ids=input_ids, past_key_values=cache, use_cache=cache is not None, logits_to_keep=1
    )
    return out.logits[:, -1, :].float()


def _step(token_id: int, logprobs: torch.Tensor) -> Step:
    top = logprobs.topk(TOP_K_SHOWN)
    return Step(token_id, float(logprobs[token_id]), top.indices.tolist(), top.values.tolist())


class _Clock:
    """Seconds spent inside a generator, not counting the time it waits at `yield`."""

    def __init__(self) -> None:
        self.seconds, self._since = 0.0, time.perf_counter()

    def pause(self) -> float:
        self.seconds += time.perf_counter() - self._since
        return self.seconds

    def resume(self) -> None:
        self._since = time.perf_counter()


@torch.inference_mode()
def _token_by_token(
    model: PreTrainedModel,
    prompt_ids: list[int],
    settings: DecodingSettings,
    eos_ids: tuple[int, ...],
    use_cache: bool = True,
) -> Iterator[Generation]:
    """Greedy and the sampling strategies: one token per forward pass.

    `use_cache=False` feeds the whole sequence at every step instead (for the benchmark only:
    it shows what the cache saves).
    """
    clock, result = _Clock(), Generation(prompt_ids=list(prompt_ids))
    generator = torch.Generator(model.device).manual_seed(settings.seed)
    cache = DynamicCache(config=model.config) if use_cache else None
    sequence = torch.tensor([prompt_ids], device=model.device)
    model_input = sequence
    for _ in range(settings.max_new_tokens):
        logits = _forward(model, model_input, cache)[0]
        token = choose_token(logits, settings, generator)
        token_id = int(token)
        result.token_ids.append(token_id)
        result.steps.append(_step(token_id, logits.log_softmax(-1)))
        if token_id in eos_ids:
            result.finish_reason = "eos"
        elif len(result.token_ids) == settings.max_new_tokens:
            result.finish_reason = "length"
        result.seconds = clock.pause()
        yield result
        if result.finish_reason:
            return
        clock.resume()
        model_input = token.view(1, 1)
        if cache is None:
            sequence = model_input = torch.cat([sequence, model_input], dim=1)


# --- beam search ------------------------------------------------------------------------------


@torch.inference_mode()
def _beam_search(
    model: PreTrainedModel,
    prompt_ids: list[int],
    settings: DecodingSettings,
    eos_ids: tuple[int, ...],
) -> Iterator[Generation]:
    """Early-stopped beam search with num_beams = N running candidates.

    Each step: every running beam's score plus the log_softmax of each next token gives the
    children's scores; the best `width` = 2N children are ranked (more with several EOS ids, so
    N of them always go on). A child that ends with EOS is finished only if it ranks among the
    best N; the finished pool keeps the N best ever finished, and the search stops as soon as it
    holds N (early stopping). The running beams are refilled with the N best children that did
    not end. At the length limit the N best children all count as finished. The answer is the
    best finished candidate.

    At the first step all beams would be the same prompt, so the prompt is fed once (batch 1)
    and the cache is widened when the first N children are picked.
    """
    clock, result = _Clock(), Generation(prompt_ids=list(prompt_ids))
    n, width = settings.num_beams, max(2, 1 + len(eos_ids)) * settings.num_beams
    eos = torch.tensor(eos_ids, device=model.device, dtype=torch.long)
    cache = DynamicCache(config=model.config)
    logits = _forward(model, torch.tensor([prompt_ids], device=model.device), cache)
    running = [Beam(token_ids=[], score=0.0)]
    scores = torch.zeros(1, device=model.device)
    finished: list[Beam] = []
    for length in range(1, settings.max_new_tokens + 1):
        logprobs = logits.log_softmax(-1)  # (beams, vocab)
        candidates = (scores[:, None] + logprobs).view(-1)
        top_scores, flat = candidates.topk(min(width, candidates.numel()))
        parent_rows, token_ids = flat // logprobs.shape[-1], flat % logprobs.shape[-1]
        parents, tokens = parent_rows.tolist(), token_ids.tolist()
        at_limit = length == settings.max_new_tokens
        ended = [True] * len(tokens) if at_limit else torch.isin(token_ids, eos).tolist()
        children = partial(_children, running, parents, tokens, top_scores.tolist(), logprobs)
        finished += children([rank for rank in range(n) if ended[rank]])
        finished = sorted(finished, key=lambda beam: beam.score, reverse=True)[:n]
        if at_limit or len(finished) == n:
            break
        going_on = [rank for rank, end in enumerate(ended) if not end][:n]
        running = children(going_on)
        scores = top_scores[going_on]
        result.token_ids, result.steps = running[0].token_ids, running[0].steps
        result.seconds = clock.pause()
        yield result
        clock.resume()
        cache.reorder_cache(parent_rows[going_on])
        logits = _forward(model, token_ids[going_on].view(-1, 1), cache)
    best = finished[0]
    result.token_ids, result.steps, result.beams = best.token_ids, best.steps, finished
    result.finish_reason = "eos" if best.token_ids[-1] in eos_ids else "length"
    result.seconds = clock.pause()
    yield result


def _children(
    running: list[Beam],
    parents: list[int],
    tokens: list[int],
    scores: list[float],
    logprobs: torch.Tensor,
    ranks: list[int],
) -> list[Beam]:
    """For each ranked candidate r: the beam running[parents[r]] grown by tokens[r]."""
    children = []
    for rank in ranks:
        parent, token = running[parents[rank]], tokens[rank]
        step = _step(token, logprobs[parents[rank]])
        children.append(Beam([*parent.token_ids, token], scores[rank], [*parent.steps, step]))
    return children


# --- entry points -----------------------------------------------------------------------------

Run = Callable[[PreTrainedModel, list[int], DecodingSettings, tuple[int, ...]], Iterator]

STRATEGIES: dict[str, Run] = {
    "greedy": _token_by_token,
    "sample": _token_by_token,
    "temperature": _token_by_token,
    "top_p": _token_by_token,
    "beam": _beam_search,
}

# The settings each strategy reads besides max_new_tokens: the others change nothing (the
# Decoding tab shows only these).
SETTINGS_READ: dict[str, tuple[str, ...]] = {
    "greedy": (),
    "sample": ("seed",),
    "temperature": ("temperature", "seed"),
    "top_p": ("temperature", "top_p", "top_p_rule", "seed"),
    "beam": ("num_beams",),
}


def check_prompt(prompt_ids: list[int], max_new_tokens: int, context_length: int) -> None:
    """A prompt plus the tokens to generate must fit the model's context."""
    if not prompt_ids:
        raise ValueError("the prompt is empty: give at least one token")
    if len(prompt_ids) + max_new_tokens > context_length:
        raise ValueError(
            f"the prompt has {len(prompt_ids)} tokens; with max_new_tokens {max_new_tokens} "
            f"that is more than the model's context of {context_length} tokens: shorten the "
            "prompt or generate fewer tokens"
        )


def stream(
    model: PreTrainedModel,
    prompt_ids: list[int],
    settings: DecodingSettings,
    eos_ids: tuple[int, ...],
) -> Iterator[Generation]:
    """Decode `prompt_ids` with `settings`, yielding the generation after every step.

    The same `Generation` object is yielded each time, updated; the last one is finished.
    """
    check_prompt(prompt_ids, settings.max_new_tokens, model.config.max_position_embeddings)
    return STRATEGIES[settings.strategy](model, prompt_ids, settings, eos_ids)


def generate(
    model: PreTrainedModel,
    prompt_ids: list[int],
    settings: DecodingSettings,
    eos_ids: tuple[int, ...],
) -> Generation:
    """The finished generation (`stream` run to its end)."""
    return _last(stream(model, prompt_ids, settings, eos_ids))


@torch.inference_mode()
def next_token_logits(model: PreTrainedModel, ids: list[int]) -> torch.Tensor:
    """The model's logits (vocab,) for the token after `ids`: one forward pass, no cache."""
    return _forward(model, torch.tensor([ids], device=model.device), None)[0]


def naive_greedy(
    model: PreTrainedModel, prompt_ids: list[int], max_new_tokens: int, eos_ids: tuple[int, ...]
) -> Generation:
    """Greedy decoding without the KV cache (the whole sequence at every step): the benchmark's
    baseline that shows what the cache saves."""
    settings = DecodingSettings(strategy="greedy", max_new_tokens=max_new_tokens)
    check_prompt(prompt_ids, max_new_tokens, model.config.max_position_embeddings)
    return _last(_token_by_token(model, prompt_ids, settings, eos_ids, use_cache=False))


def _last(generations: Iterator[Generation]) -> Generation:
    result = None
    for result in generations:  # noqa: B007
        pass
    return result
