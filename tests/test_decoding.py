"""Decoding by hand against transformers, on a tiny randomly initialised Qwen2 (fast), and the
top-p rules on hand-made distributions.

The same checks on the real offline model are in test_decoding_model.py.
"""

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from scipy.stats import chisquare
from transformers import Qwen2Config, Qwen2ForCausalLM
from transformers.generation.logits_process import TopPLogitsWarper

from core.decoding.strategies import (
    SETTINGS_READ,
    STRATEGIES,
    DecodingSettings,
    choose_token,
    generate,
    naive_greedy,
    next_token_logits,
    sampling_distribution,
    stream,
    top_p_mask,
)

EOS = 5
VOCAB = 96
CONTEXT = 64


@pytest.fixture(scope="module")
def tiny() -> Qwen2ForCausalLM:
    """A 2-layer Qwen2 with random weights; the larger initializer range makes its next-token
    distributions peaked enough that EOS is often chosen, so beam search stops early."""
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        initializer_range=0.3,
        bos_token_id=0,
        eos_token_id=EOS,
        pad_token_id=EOS,
        tie_word_embeddings=False,
    )
    return Qwen2ForCausalLM(config).eval()


def prompts(count: int, seed: int = 1) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randint(6, VOCAB, (4 + i % 7,), generator=generator).tolist() for i in range(count)
    ]


def hf_generate(model, prompt_ids: list[int], max_new_tokens: int, **kwargs) -> list[int]:
    ids = torch.tensor([prompt_ids])
    out = model.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, **kwargs
    )
    return out[0, len(prompt_ids) :].tolist()


# --- top-p rules ------------------------------------------------------------------------------


def kept(probs: list[float], top_p: float, rule: str) -> set[int]:
    mask = top_p_mask(torch.tensor(probs, dtype=torch.float64), top_p, rule)
    return set(torch.nonzero(mask).flatten().tolist())


@pytest.mark.parametrize(
    ("probs", "top_p", "assignment", "paper"),
    [
        # cumulative 0.5, 0.75, 0.875, 1: "does not exceed" keeps the exact hit, the paper too
        ([0.5, 0.25, 0.125, 0.125], 0.75, {0, 1}, {0, 1}),
        # 0.7 lies inside the second token: `assignment` stops before it, `paper` keeps it
        ([0.5, 0.25, 0.125, 0.125], 0.7, {0}, {0, 1}),
        # the first token alone is above top_p: both keep it (never an empty set)
        ([0.75, 0.125, 0.0625, 0.0625], 0.5, {0}, {0}),
        ([0.75, 0.125, 0.0625, 0.0625], 0.1, {0}, {0}),
        # unsorted input: the rules rank tokens by probability, then map back to the ids
        ([0.125, 0.5, 0.0625, 0.25, 0.0625], 0.8, {1, 3}, {1, 3, 0}),
        # ties are ranked by token id: the lower ids come first
        ([0.25, 0.25, 0.25, 0.25], 0.5, {0, 1}, {0, 1}),
        ([0.25, 0.25, 0.25, 0.25], 0.6, {0, 1}, {0, 1, 2}),
        ([0.125, 0.375, 0.125, 0.375], 0.5, {1}, {1, 3}),
        # top_p = 1 keeps everything, even tokens of probability 0
        ([0.5, 0.5, 0.0], 1.0, {0, 1, 2}, {0, 1, 2}),
    ],
)
def test_top_p_rules_on_hand_made_distributions(probs, top_p, assignment, paper):
    assert kept(probs, top_p, "assignment") == assignment
    assert kept(probs, top_p, "paper") == paper


def assignment_by_definition(probs: torch.Tensor, top_p: float) -> set[int]:
    """The `assignment` rule word for word, one token at a time: walk down the ranking, add a
    token while the running sum stays <= top_p; keep the first token anyway."""
    order = sorted(range(len(probs)), key=lambda i: (-probs[i].item(), i))
    chosen, total = {order[0]}, probs[order[0]].item()
    for i in order[1:]:
        total += probs[i].item()
        if total > top_p:
            break
        chosen.add(i)
    return chosen


def test_assignment_rule_matches_its_definition_on_random_distributions():
    generator = torch.Generator().manual_seed(0)
    for scale in (0.5, 2.0, 6.0):
        probs = (torch.randn(50, 40, generator=generator, dtype=torch.float64) * scale).softmax(-1)
        for top_p in (0.05, 0.3, 0.6, 0.9, 0.99):
            masks = top_p_mask(probs, top_p, "assignment")  # a batch at once
            for row, mask in zip(probs, masks, strict=True):
                assert set(torch.nonzero(mask).flatten().tolist()) == assignment_by_definition(
                    row, top_p
                )


def test_paper_rule_is_transformers_top_p_warper():
    generator = torch.Generator().manual_seed(0)
    for scale in (0.5, 1.0, 3.0, 8.0):
        logits = torch.randn(2000, 500, generator=generator) * scale
        for top_p in (0.1, 0.5, 0.9, 0.99):
            reference = TopPLogitsWarper(top_p)(None, logits.clone()) > -math.inf
            assert torch.equal(top_p_mask(logits.softmax(-1), top_p, "paper"), reference)


def test_the_assignment_rule_never_keeps_more_than_the_paper_rule():
    probs = (torch.randn(200, 50, generator=torch.Generator().manual_seed(3)) * 2).softmax(-1)
    for top_p in (0.2, 0.5, 0.8):
        assignment, paper = top_p_mask(probs, top_p), top_p_mask(probs, top_p, "paper")
        assert not (assignment & ~paper).any()
        assert (paper.sum(-1) - assignment.sum(-1)).le(1).all()  # at most the crossing token


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("strategy", "magic", "unknown strategy 'magic'"),
        ("top_p_rule", "mine", "unknown top-p rule"),
        ("temperature", 0.0, "temperature must be a number > 0"),
        ("temperature", -1.0, "temperature must be a number > 0"),
        ("temperature", math.nan, "temperature must be a number > 0"),
        ("top_p", 0.0, r"top_p must be in \(0, 1\]"),
        ("top_p", 1.01, r"top_p must be in \(0, 1\]"),
        ("num_beams", 0, "num_beams must be between 1 and 16"),
        ("num_beams", 17, "num_beams must be between 1 and 16"),
        ("max_new_tokens", 0, "max_new_tokens must be between 1 and 1000"),
        ("max_new_tokens", 1001, "max_new_tokens must be between 1 and 1000"),
        ("seed", -1, "seed must be an integer"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(field, value, message):
    with pytest.raises(ValueError, match=message):
        DecodingSettings(**{field: value})


def test_a_prompt_that_does_not_fit_the_context_is_refused(tiny):
    settings = DecodingSettings(max_new_tokens=10)
    with pytest.raises(ValueError, match=r"prompt has 60 tokens.*context of 64 tokens"):
        stream(tiny, [7] * 60, settings, (EOS,))
    with pytest.raises(ValueError, match="the prompt is empty"):
        stream(tiny, [], settings, (EOS,))
    assert len(generate(tiny, [7] * 54, settings, ()).token_ids) == 10  # exactly fits


# --- parity with transformers' generate -------------------------------------------------------


def test_greedy_equals_generate_and_the_loop_without_cache(tiny):
    settings = DecodingSettings(strategy="greedy", max_new_tokens=20)
    for prompt in prompts(8):
        mine = generate(tiny, prompt, settings, (EOS,))
        assert mine.token_ids == hf_generate(tiny, prompt, 20, do_sample=False)
        assert naive_greedy(tiny, prompt, 20, (EOS,)).token_ids == mine.token_ids


@pytest.mark.parametrize("num_beams", [2, 4])
def test_beam_search_equals_generate_with_early_stopping(tiny, num_beams):
    settings = DecodingSettings(strategy="beam", num_beams=num_beams, max_new_tokens=20)
    reasons = set()
    for prompt in prompts(10):
        mine = generate(tiny, prompt, settings, (EOS,))
        ids = torch.tensor([prompt])
        out = tiny.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=20,
            do_sample=False,
            num_beams=num_beams,
            early_stopping=True,
            length_penalty=0.0,
            output_scores=True,
            return_dict_in_generate=True,
        )
        assert mine.token_ids == out.sequences[0, len(prompt) :].tolist()
        assert mine.beams[0].score == pytest.approx(out.sequences_scores[0].item(), abs=1e-4)
        reasons.add(mine.finish_reason)
    assert reasons == {"eos", "length"}  # both ways to finish were exercised


def test_beam_search_with_two_eos_ids_equals_generate(tiny):
    """Qwen2.5 ends a reply with <|im_end|> or <|endoftext|>: more candidates are ranked."""
    eos_ids = (EOS, 9)
    settings = DecodingSettings(strategy="beam", num_beams=3, max_new_tokens=16)
    for prompt in prompts(6, seed=2):
        reference = hf_generate(
            tiny,
            prompt,
            16,
            do_sample=False,
            num_beams=3,
            early_stopping=True,
            length_penalty=0.0,
            eos_token_id=list(eos_ids),
        )
        mine = generate(tiny, prompt, settings, eos_ids).token_ids
        assert mine == reference[: len(mine)]  # generate pads a shorter best beam, nothing else
        assert all(token == EOS for token in reference[len(mine) :])


def test_beam_scores_are_sums_of_log_probabilities_best_first(tiny):
    settings = DecodingSettings(strategy="beam", num_beams=4, max_new_tokens=12)
    result = generate(tiny, prompts(1)[0], settings, (EOS,))
    assert len(result.beams) == 4
    assert [b.score for b in result.beams] == sorted((b.score for b in result.beams), reverse=True)
    for beam in result.beams:
        context = result.prompt_ids + beam.token_ids
        expected = sum(
            next_token_logits(tiny, context[:i]).log_softmax(-1)[context[i]].item()
            for i in range(len(result.prompt_ids), len(context))
        )
        assert beam.score == pytest.approx(expected, abs=1e-4)
        assert beam.score == pytest.approx(sum(step.logprob for step in beam.steps), abs=1e-4)


def test_one_beam_is_greedy(tiny):
    for prompt in prompts(4):
        greedy = generate(tiny, prompt, DecodingSettings(max_new_tokens=15), (EOS,))
        beam = generate(
            tiny, prompt, DecodingSettings(strategy="beam", num_beams=1, max_new_tokens=15), (EOS,)
        )
        assert beam.token_ids == greedy.token_ids


@pytest.mark.parametrize(
    ("settings", "reference"),
    [
        (DecodingSettings(strategy="sample", seed=3), {}),
        (DecodingSettings(strategy="temperature", temperature=0.6, seed=4), {"temperature": 0.6}),
        (
            DecodingSettings(
                strategy="top_p", temperature=1.3, top_p=0.8, top_p_rule="paper", seed=5
            ),
            {"temperature": 1.3, "top_p": 0.8},
        ),
    ],
)
def test_seeded_sampling_equals_generate_with_the_same_seed(tiny, settings, reference):
    """transformers draws with torch.multinomial from the global generator; the hand-written
    loop draws from its own generator seeded alike, so the same seed gives the same tokens."""
    settings = DecodingSettings(**{**settings.__dict__, "max_new_tokens": 20})
    for prompt in prompts(4):
        mine = generate(tiny, prompt, settings, (EOS,))
        torch.manual_seed(settings.seed)
        theirs = hf_generate(tiny, prompt, 20, do_sample=True, top_k=0, **reference)
        assert mine.token_ids == theirs


def test_sampling_is_reproducible_and_the_seed_matters(tiny):
    prompt = prompts(1)[0]
    runs = {
        seed: generate(tiny, prompt, DecodingSettings("sample", max_new_tokens=20, seed=seed), ())
        for seed in (1, 2)
    }
    again = generate(tiny, prompt, DecodingSettings("sample", max_new_tokens=20, seed=1), ())
    assert again.token_ids == runs[1].token_ids
    assert runs[2].token_ids != runs[1].token_ids


def test_temperature_towards_zero_becomes_greedy(tiny):
    """The mass softmax(logits / T) puts on the argmax grows to 1 as T falls, so a cold enough
    sample is the greedy output."""
    for prompt in prompts(4):
        greedy = generate(tiny, prompt, DecodingSettings(max_new_tokens=15), (EOS,))
        logits = torch.stack(
            [next_token_logits(tiny, prompt + greedy.token_ids[:i]) for i in range(15)]
        )
        argmax_mass = [
            (logits / t).softmax(-1).max(-1).values.mean().item() for t in (1, 0.3, 0.1, 0.01)
        ]
        assert argmax_mass == sorted(argmax_mass) and argmax_mass[-1] > 0.95
        cold = DecodingSettings("temperature", temperature=1e-3, max_new_tokens=15, seed=7)
        assert generate(tiny, prompt, cold, (EOS,)).token_ids == greedy.token_ids


def draw_many(logits: torch.Tensor, settings: DecodingSettings, count: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(settings.seed)
    draws = [int(choose_token(logits, settings, generator)) for _ in range(count)]
    return torch.bincount(torch.tensor(draws), minlength=logits.numel()).double()


def chi_square_p(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """Pearson's test; tokens expected fewer than 5 times are pooled into one cell.

    The float32 probabilities are renormalised in float64 first: their sum misses 1 by up to
    ~1e-7, which scipy's check that the totals agree (to 1.5e-8) would refuse.
    """
    expected = probs.double() / probs.double().sum() * counts.sum()
    big = expected >= 5
    observed, expected = counts[big].tolist(), expected[big].tolist()
    observed.append(counts[~big].sum().item())
    expected.append(counts.sum().item() - sum(expected))  # the pooled rest: totals match
    if expected[-1] < 1e-9:  # nothing left to pool
        observed, expected = observed[:-1], expected[:-1]
    return chisquare(observed, expected).pvalue


def test_ten_thousand_draws_follow_softmax_of_logits_over_temperature(tiny):
    logits = next_token_logits(tiny, prompts(1)[0])
    settings = DecodingSettings("temperature", temperature=0.5, seed=11)
    counts = draw_many(logits, settings, 10_000)
    assert chi_square_p(counts, (logits / 0.5).softmax(-1)) > 1e-3
    assert chi_square_p(counts, logits.softmax(-1)) < 1e-6  # the test can tell T = 1 apart


def test_top_p_draws_follow_the_renormalised_nucleus(tiny):
    logits = next_token_logits(tiny, prompts(2)[1])
    settings = DecodingSettings("top_p", temperature=1.5, top_p=0.7, seed=12)
    probs = (logits / 1.5).softmax(-1)
    keep = top_p_mask(probs, 0.7)
    counts = draw_many(logits, settings, 10_000)
    assert counts[~keep].sum() == 0
    nucleus = torch.where(keep, probs, 0) / probs[keep].sum()
    torch.testing.assert_close(sampling_distribution(logits, settings), nucleus)
    assert chi_square_p(counts, nucleus) > 1e-3


# --- stopping, streaming, sharing -------------------------------------------------------------


def test_generation_stops_at_eos_which_is_included(tiny):
    prompt = prompts(1)[0]
    free = generate(tiny, prompt, DecodingSettings(max_new_tokens=12), ())
    assert free.finish_reason == "length" and len(free.token_ids) == 12
    eos = free.token_ids[4]
    first = free.token_ids.index(eos)
    stopped = generate(tiny, prompt, DecodingSettings(max_new_tokens=12), (eos,))
    assert stopped.finish_reason == "eos"
    assert stopped.token_ids == free.token_ids[: first + 1]


def test_stream_yields_every_step_and_finishes_once(tiny):
    seen = []
    for partial in stream(tiny, prompts(1)[0], DecodingSettings(max_new_tokens=9), ()):
        seen.append((len(partial.token_ids), partial.finish_reason))
    assert seen == [(n, None) for n in range(1, 9)] + [(9, "length")]


STRATEGY_MIX = ["sample", "greedy", "top_p", "beam", "temperature", "sample"]


def test_concurrent_generations_on_one_model_equal_serial_ones(tiny):
    jobs = [
        (prompt, DecodingSettings(strategy, max_new_tokens=15, seed=seed, num_beams=3))
        for seed, (prompt, strategy) in enumerate(zip(prompts(6), STRATEGY_MIX, strict=True))
    ]
    serial = [generate(tiny, prompt, settings, (EOS,)).token_ids for prompt, settings in jobs]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda job: generate(tiny, *job, (EOS,)).token_ids, jobs))
    assert together == serial


UNREAD_VALUES = {"temperature": 1.7, "top_p": 0.3, "top_p_rule": "paper", "num_beams": 2, "seed": 9}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_a_strategy_ignores_the_settings_it_is_not_said_to_read(tiny, strategy):
    """SETTINGS_READ decides which controls the Decoding tab shows: a setting left out of it
    must change nothing, and each one in it must change the reply for some prompt."""
    base = DecodingSettings(strategy=strategy, temperature=0.8, max_new_tokens=12)
    replies = [generate(tiny, prompt, base, ()).token_ids for prompt in prompts(6)]
    for name, value in UNREAD_VALUES.items():
        changed = dataclasses.replace(base, **{name: value})
        others = [generate(tiny, prompt, changed, ()).token_ids for prompt in prompts(6)]
        if name in SETTINGS_READ[strategy]:
            assert others != replies, f"{strategy} is said to read {name}, which changed nothing"
        else:
            assert others == replies, f"{strategy} reads {name}, which is not in SETTINGS_READ"
