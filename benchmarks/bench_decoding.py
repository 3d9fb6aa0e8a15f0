"""Tokens/s of the hand-written decoding loops against transformers' generate, on the offline
model (SmolLM2-135M-Instruct, fp32) on the CPU.

    python -m benchmarks.bench_decoding [--max-new-tokens 48] [--repeats 3] [--threads N]

Each strategy runs with the same settings on both sides (same seed for sampling; the outputs
are checked to be the same tokens), alternating ours and theirs, and the median tokens/s of
`--repeats` runs is kept. Prints tokens/s and the ratio ours / generate (goal: >= 1.0; beam
search with 4 beams aiming for 1.2), then greedy with the KV cache against the same loop
feeding the whole sequence at every step (no cache), once.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from core.decoding.lm import load_lm
from core.decoding.strategies import DecodingSettings, generate, naive_greedy

PROMPT = "Write a short story about a dragon who learns to bake bread."
SAMPLE = {"do_sample": True, "top_k": 0}  # transformers' default top_k=50 would cut the tail
BEAM = {"do_sample": False, "early_stopping": True, "length_penalty": 0.0}
# our settings -> the same decoding in transformers' generate
CASES: dict[str, tuple[dict, dict]] = {
    "greedy": ({}, {"do_sample": False}),
    "sample": ({"seed": 1}, SAMPLE),
    "temperature": ({"temperature": 0.7, "seed": 1}, {**SAMPLE, "temperature": 0.7}),
    "top_p": ({"top_p": 0.9, "top_p_rule": "paper", "seed": 1}, {**SAMPLE, "top_p": 0.9}),
    "beam": ({"num_beams": 4}, {**BEAM, "num_beams": 4}),
}


def timed(run: Callable[[], list[int]]) -> tuple[float, list[int]]:
    """Tokens/s of one run and the tokens it made."""
    started = time.perf_counter()
    tokens = run()
    return len(tokens) / (time.perf_counter() - started), tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lm = load_lm()
    prompt_ids = lm.encode(PROMPT)
    ids = torch.tensor([prompt_ids])
    n = args.max_new_tokens
    print(
        f"model {lm.name}, fp32, CPU, {torch.get_num_threads()} threads; prompt {len(prompt_ids)} "
        f"tokens, up to {n} new tokens, median of {args.repeats} runs"
    )
    print(f"{'strategy':<12} {'ours tok/s':>10} {'HF tok/s':>10} {'ours/HF':>8}  same tokens")

    def theirs(hf_kwargs: dict, seed: int) -> list[int]:
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = lm.model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, **hf_kwargs
            )
        return out[0, len(prompt_ids) :].tolist()

    greedy_speed = None
    for name, (ours_kwargs, hf_kwargs) in CASES.items():
        settings = DecodingSettings(strategy=name, max_new_tokens=n, **ours_kwargs)
        ours_speeds, their_speeds = [], []
        for _ in range(args.repeats):
            speed, our_tokens = timed(
                lambda s=settings: generate(lm.model, prompt_ids, s, lm.eos_ids).token_ids
            )
            ours_speeds.append(speed)
            speed, their_tokens = timed(lambda h=hf_kwargs, s=settings: theirs(h, s.seed))
            their_speeds.append(speed)
        ours, hf = statistics.median(ours_speeds), statistics.median(their_speeds)
        greedy_speed = greedy_speed or ours
        same = our_tokens == their_tokens
        print(f"{name:<12} {ours:>10.2f} {hf:>10.2f} {ours / hf:>7.2f}x  {same}")

    speed, _ = timed(lambda: naive_greedy(lm.model, prompt_ids, n, lm.eos_ids).token_ids)
    print(
        f"greedy without the KV cache: {speed:.2f} tok/s; with the cache "
        f"{greedy_speed / speed:.1f}x faster"
    )


if __name__ == "__main__":
    main()
